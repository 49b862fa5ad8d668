"""What a command line owes its user and a library its host program.

``--version``, shell completion, ``--quiet``, ``NO_COLOR`` on the log line, settings checked
whole by every command, the input columns in ``wmc load --help``, a library that prints nothing,
``py.typed`` in every package, and start-up that imports only what the command needs (checked by
which modules are loaded, never by a timer).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.logs import LineFormatter, no_color
from cli.main import LOAD_COLUMNS, app

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent

BANKS = "bank_id,name,market\nA,Bank A,HK\nB,Bank B,MO\n"
ACCOUNTS = ("account,bank_id,type,currency,name,allow_overdraft\n"
            "A-HKD,A,asset,HKD,Nostro,true\nB-HKD,B,liability,HKD,Customer,false\n")


def wmc(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args), env=env)
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "banks.csv").write_text(BANKS, encoding="utf-8")
    return tmp_path


def test_version() -> None:
    from wmc_ledger import __version__

    code, out, _ = wmc("--version")
    assert code == 0 and out == f"wmc {__version__}\n"


def test_shell_completion_is_offered() -> None:
    code, out, _ = wmc("--help")
    assert code == 0 and "--install-completion" in out and "--show-completion" in out


def test_quiet_prints_no_log_line(here: Path) -> None:
    code, _, err = wmc("init")
    assert code == 0 and json.loads(err)["event"] == "init.completed"  # stderr is not a tty
    code, out, err = wmc("--quiet", "load", "banks", "banks.csv")
    assert code == 0 and err == "" and "2 new" in out


@pytest.mark.parametrize(("env", "coloured"), [({}, True), ({"NO_COLOR": "1"}, False),
                                                ({"NO_COLOR": ""}, True)])
def test_no_color_turns_the_console_log_line_colourless(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], coloured: bool
) -> None:
    import logging

    monkeypatch.delenv("NO_COLOR", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    record = logging.LogRecord("wmc", logging.INFO, __file__, 1, "init.completed", None, None)
    record.fields = {"db": "sqlite:///wmc.db"}
    line = LineFormatter(console=True, colour=not no_color()).format(record)
    assert ("\x1b[" in line) is coloured
    assert "init.completed" in line and "db=sqlite:///wmc.db" in line


def test_a_bad_settings_file_is_refused_by_every_command(here: Path) -> None:
    bad = here / "bad.toml"
    bad.write_text('[quota]\nindividual = "3000000.00"\nno_such_key = 1\n', encoding="utf-8")
    assert wmc("init")[0] == 0
    for command in (["init"], ["report", "balances"], ["audit", "verify"],
                    ["load", "banks", "banks.csv"]):
        code, out, err = wmc("--settings", str(bad), *command)
        assert code == 2, (command, err)
        assert f"{bad}:3: field 'quota.no_such_key'" in err and "Traceback" not in out + err
    code, _, err = wmc("report", "balances", env={"WMC_SETTINGS": str(bad)})
    assert code == 2 and "quota.no_such_key" in err
    code, _, err = wmc("--settings", "missing.toml", "report", "balances")
    assert code == 2 and "missing.toml" in err


def test_a_bad_settings_file_is_refused_by_ledger_open(tmp_path: Path) -> None:
    from wmc_ledger import InputError, Ledger

    bad = tmp_path / "bad.toml"
    bad.write_text("[fx]\nnot_a_key = true\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.toml:2: field 'fx\.not_a_key'"):
        Ledger.open("sqlite://", settings=bad)


def test_load_help_lists_the_columns_of_each_kind_as_the_readers_define_them() -> None:
    from fx.book import RATE_SCHEMA
    from ledger.refdata import ACCOUNT_SCHEMA, BANK_SCHEMA
    from settlement.refdata import INVESTOR_SCHEMA, PRODUCT_SCHEMA

    schemas = {"banks": BANK_SCHEMA, "accounts": ACCOUNT_SCHEMA, "investors": INVESTOR_SCHEMA,
               "products": PRODUCT_SCHEMA, "rates": RATE_SCHEMA}
    assert list(LOAD_COLUMNS) == list(schemas)
    for kind, schema in schemas.items():
        bare = re.sub(r"\s*\([^)]*\)", "", LOAD_COLUMNS[kind])  # without "(MO, HK, CN)"
        documented = bare.split(", ")
        assert documented == [f.name + ("*" if f.required else "") for f in schema.fields], kind
    code, out, _ = wmc("load", "--help")
    assert code == 0
    for kind in LOAD_COLUMNS:
        assert f"{kind}:" in out


def test_the_readme_documents_every_column_of_each_file() -> None:
    from settlement.instructions import COLUMNS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for columns in (*LOAD_COLUMNS.values(), ", ".join(COLUMNS)):
        for column in re.sub(r"\s*\([^)]*\)", "", columns).split(", "):
            name = column.rstrip("*")
            assert f"**{name}**" in readme or f"`{name}`" in readme, name


def test_the_library_prints_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from moneyed import Money

    from wmc_ledger import FixedClock, Instruction, Ledger

    with Ledger.open(f"sqlite:///{tmp_path}/wmc.db",
                     clock=FixedClock("2025-03-03T18:00:00+08:00")) as ledger:
        ledger.init()
        ledger.load_banks([{"bank_id": "A", "name": "Bank A", "market": "HK"},
                           {"bank_id": "B", "name": "Bank B", "market": "MO"}])
        ledger.load_accounts([
            {"account": "A-HKD", "bank_id": "A", "type": "asset", "currency": "HKD",
             "allow_overdraft": True},
            {"account": "B-HKD", "bank_id": "B", "type": "liability", "currency": "HKD"}])
        batch = ledger.settle([Instruction("I-1", "transfer", "A-HKD", "B-HKD",
                                           Money("100.00", "HKD"), "2025-03-03")])
        assert batch.codes == {}
        ledger.audit()
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.parametrize("package", ["ledger", "fx", "settlement", "cli", "wmc_ledger"])
def test_every_package_is_typed(package: str) -> None:
    assert (ROOT / package / "py.typed").is_file()
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"py.typed"' in pyproject


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\n"
                          "print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_help_imports_neither_the_database_nor_the_rules() -> None:
    loaded = _modules_after(
        "import sys\nfrom cli.main import app\nsys.argv = ['wmc', '--help']\n"
        "try:\n    app(prog_name='wmc')\nexcept SystemExit:\n    pass")
    for heavy in ("sqlalchemy", "alembic", "pydantic", "holidays", "moneyed", "wmc_ledger",
                  "settlement.engine", "structlog", "psycopg"):
        assert heavy not in loaded, heavy


def test_settling_imports_three_markets_and_no_migrations(tmp_path: Path) -> None:
    loaded = _modules_after(
        "from settlement.calendars import build_calendar\n"
        "import wmc_ledger\n"
        "for m in ('CN', 'HK', 'MO'):\n    build_calendar(m, ()).is_business_day("
        "__import__('datetime').date(2025, 3, 3))")
    countries = {m for m in loaded if m.startswith("holidays.countries.")}
    assert countries <= {"holidays.countries.china", "holidays.countries.hongkong",
                         "holidays.countries.macau"}
    assert "alembic" not in loaded and "pydantic" not in loaded


@pytest.mark.parametrize("market", ["CN", "HK", "MO"])
def test_the_country_classes_loaded_alone_are_the_librarys(market: str) -> None:
    import holidays

    from settlement.calendars import _CATEGORIES, country_class

    for year in (2024, 2025, 2026):
        ours = country_class(market)(years=year, categories=_CATEGORIES[market],
                                     language="en_US")
        theirs = holidays.country_holidays(market, years=year, categories=_CATEGORIES[market],
                                           language="en_US")
        assert dict(ours) == dict(theirs)
        assert set(getattr(ours, "weekend_workdays", ())) == set(
            getattr(theirs, "weekend_workdays", ()))
