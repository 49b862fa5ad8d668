"""Failures around the data: every way of not reaching a ledger is one clear line and exit 2.

Each case runs the real command (typer's CliRunner) and checks the exit code, that the message
names the problem on one line of stderr, that no traceback is printed, and that nothing was
created where nothing should be. The library's side of the same mapping (``DatabaseError``) and
concurrent ``wmc init`` on one PostgreSQL database are tested here too.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from typer.testing import CliRunner

from cli.main import app
from ledger.db import make_engine
from ledger.migrate import upgrade
from wmc_ledger import DatabaseError, Ledger

runner = CliRunner()

BANKS = "bank_id,name,market\nA,Bank A,HK\nB,Bank B,MO\n"
ACCOUNTS = ("account,bank_id,type,currency,name,allow_overdraft\n"
            "A-HKD,A,asset,HKD,Nostro,true\nB-HKD,B,liability,HKD,Customer,false\n")
ONE = ("instruction_id,kind,debit_account,credit_account,amount,currency,value_date\n"
       "I-1,transfer,A-HKD,B-HKD,100.00,HKD,2025-03-03\n")


def wmc(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args), env=env)
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


def refused(args: list[str], *needles: str, code: int = 2) -> str:
    """Run ``wmc ARGS``; it must exit ``code`` with one ``error:`` line containing ``needles``."""
    got, out, err = wmc(*args)
    assert got == code, (got, out, err)
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- SQLite paths --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["report", "balances"], ["audit", "verify"],
                                     ["settle", "show", "B00000001"], ["report", "quota"]])
def test_a_read_before_init_names_the_path_and_creates_nothing(here: Path,
                                                               command: list[str]) -> None:
    refused(command, "wmc.db", "does not exist", "wmc init")  # the default URL
    refused(["--db", "sqlite:///typo.db", *command], "typo.db", "does not exist")
    assert list(here.iterdir()) == []


def test_load_before_init_creates_nothing(here: Path) -> None:
    (here / "banks.csv").write_text(BANKS, encoding="utf-8")
    refused(["load", "banks", "banks.csv"], "wmc.db", "does not exist")
    assert sorted(p.name for p in here.iterdir()) == ["banks.csv"]


def test_a_missing_directory(here: Path) -> None:
    refused(["--db", "sqlite:///nowhere/wmc.db", "init"], "nowhere/wmc.db",
            "directory does not exist")
    refused(["--db", "sqlite:///nowhere/wmc.db", "report", "balances"], "nowhere/wmc.db")
    assert not (here / "nowhere").exists()


def test_a_file_that_is_not_a_database(here: Path) -> None:
    (here / "notes.db").write_text("root:x:0:0:root:/root:/bin/bash\n" * 50, encoding="utf-8")
    for command in (["init"], ["report", "balances"]):
        refused(["--db", "sqlite:///notes.db", *command], "notes.db", "not a SQLite database")
    assert (here / "notes.db").read_text(encoding="utf-8").startswith("root:x:0")


@pytest.mark.skipif(not Path("/etc/passwd").is_file(), reason="no /etc/passwd here")
def test_etc_passwd() -> None:
    refused(["--db", "sqlite:////etc/passwd", "report", "balances"], "/etc/passwd",
            "not a SQLite database")


def test_a_device_or_a_directory_is_not_a_ledger(here: Path) -> None:
    refused(["--db", "sqlite:////dev/null", "report", "balances"], "/dev/null",
            "not a regular file")
    refused(["--db", "sqlite:////dev/null", "init"], "/dev/null", "not a regular file")
    (here / "folder").mkdir()
    refused(["--db", "sqlite:///folder", "report", "balances"], "folder", "not a regular file")


def test_a_database_of_something_else_is_not_initialised(here: Path) -> None:
    import sqlite3

    with sqlite3.connect(here / "other.db") as conn:
        conn.execute("CREATE TABLE t (x)")
    refused(["--db", "sqlite:///other.db", "report", "balances"], "other.db",
            "not initialised", "wmc init")


def test_a_read_only_database(here: Path) -> None:
    assert wmc("init")[0] == 0
    (here / "banks.csv").write_text(BANKS, encoding="utf-8")
    refused(["--db", "sqlite:///file:wmc.db?mode=ro&uri=true", "load", "banks", "banks.csv"],
            "read-only")
    code, out, _ = wmc("report", "balances", "--format", "json")
    assert code == 0 and out.strip() == "[]"  # nothing was written


def test_a_full_disk_is_a_database_error_and_writes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/wmc.db"
    with Ledger.open(url) as ledger:
        ledger.init()
        ledger.load_banks([{"bank_id": "A", "name": "Bank A", "market": "HK"}])
    with Ledger.open(url) as ledger:
        @event.listens_for(ledger.engine, "connect")
        def _no_room(dbapi_conn: Any, _record: Any) -> None:
            # No page beyond those the file has: the next write finds the disk full.
            pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
            dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

        rows = [{"bank_id": f"B{i:05d}", "name": "x" * 200, "market": "MO"}
                for i in range(2_000)]
        with pytest.raises(DatabaseError, match=r"wmc\.db: the disk .* is full"):
            ledger.load_banks(rows)
    with Ledger.open(url) as ledger, ledger.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM banks")).scalar_one() == 1


# -- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "needles"), [
    ("", ("database URL is empty", "sqlite:///wmc.db")),
    ("   ", ("database URL is empty",)),
    ("bogus://", ("'bogus://'", "SQLite", "PostgreSQL")),
    ("::::", ("does not parse",)),
    ("mysql://me:hunter2@db.example/x", ("'mysql://me:***@db.example/x'", "not 'mysql'")),
])
def test_a_url_the_ledger_cannot_use(here: Path, url: str, needles: tuple[str, ...]) -> None:
    line = refused(["--db", url, "report", "balances"], *needles)
    assert "hunter2" not in line
    assert list(here.iterdir()) == []


def test_a_url_whose_driver_is_not_installed(here: Path) -> None:
    for driver in ("asyncpg", "pg8000", "psycopg2cffi"):
        if importlib.util.find_spec(driver) is None:
            break
    else:  # pragma: no cover - every candidate installed
        pytest.skip("every candidate driver is installed")
    refused(["--db", f"postgresql+{driver}://me:hunter2@127.0.0.1/x", "report", "balances"],
            "driver is not installed", driver)


def test_the_environment_variable_is_checked_the_same_way(here: Path) -> None:
    code, _, err = wmc("report", "balances", env={"WMC_DB": "bogus://x"})
    assert code == 2 and err.startswith("error: database URL 'bogus://x'")


def test_an_unreachable_server_fails_fast_and_hides_the_password(here: Path) -> None:
    # Port 1 on the loopback: nothing listens there, so the connection is refused at once.
    line = refused(["--db", "postgresql+psycopg://me:hunter2@127.0.0.1:1/ledger",
                    "report", "balances"], "cannot connect", "me:***@127.0.0.1:1")
    assert "hunter2" not in line


def test_the_api_raises_database_error_from_open_and_from_the_first_call(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="bogus"):
        Ledger.open("bogus://")
    ledger = Ledger.open(f"sqlite:///{tmp_path}/missing.db")
    with pytest.raises(DatabaseError, match="does not exist"):
        ledger.balances()
    assert not (tmp_path / "missing.db").exists()
    ledger.init()  # init creates it
    assert ledger.balances() == []


# -- PostgreSQL ----------------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgresql_before_init_is_not_initialised(pg_database: str) -> None:
    refused(["--db", pg_database, "report", "balances"], "not initialised", "wmc init")


@pytest.mark.postgres
def test_a_missing_postgresql_database(pg_database: str) -> None:
    from sqlalchemy.engine import make_url

    missing = make_url(pg_database).set(database="wmc_no_such_database_here")
    refused(["--db", missing.render_as_string(hide_password=False), "report", "balances"],
            "wmc_no_such_database_here")


@pytest.fixture
def pg_url(db_url: str) -> Iterator[str]:
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    yield db_url


@pytest.mark.parametrize("db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_concurrent_init_on_postgresql_all_succeed_with_one_schema(pg_url: str) -> None:
    n = 6
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def init() -> None:
        engine = make_engine(pg_url)  # an engine of its own, as a process would have
        try:
            start.wait()
            upgrade(engine)
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=init) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
            # No session lock left behind on a pooled connection.
            locks = conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")).scalar_one()
        assert len(versions) == 1
        assert locks == 0
    finally:
        engine.dispose()
    assert wmc("--db", pg_url, "init")[0] == 0


@pytest.mark.postgres
def test_concurrent_init_commands_on_postgresql(pg_database: str) -> None:
    """The command itself, in several processes at once, on a database of its own."""
    import subprocess
    import sys
    import uuid

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = f"wmc_init_race_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_database, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(pg_database).set(database=name).render_as_string(hide_password=False)
        procs = [subprocess.Popen([sys.executable, "-m", "cli.main", "--db", url, "-q", "init"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(4)]
        results = [(p.wait(120), p.stderr.read() if p.stderr else "") for p in procs]
        assert results == [(0, "")] * 4
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- files the command writes --------------------------------------------------------------------


@pytest.fixture
def settled(here: Path) -> Path:
    for name, body in (("banks.csv", BANKS), ("acc.csv", ACCOUNTS), ("one.csv", ONE)):
        (here / name).write_text(body, encoding="utf-8")
    assert wmc("init")[0] == 0
    assert wmc("load", "banks", "banks.csv")[0] == 0
    assert wmc("load", "accounts", "acc.csv")[0] == 0
    code, _, err = wmc("settle", "run", "one.csv")
    assert code == 0, err
    return here


def test_html_to_a_missing_directory(settled: Path) -> None:
    got, out, err = wmc("settle", "show", "B00000001", "--html", "nowhere/batch.html")
    assert got == 2 and "Traceback" not in out + err
    assert err.strip().splitlines()[-1] == "error: nowhere/batch.html: No such file or directory"


def test_a_missing_input_file(settled: Path) -> None:
    for command in (["settle", "run", "none.csv"], ["load", "banks", "none.csv"],
                    ["reconcile", "none.xml", "--account", "A-HKD"]):
        got, out, err = wmc(*command)
        assert got == 2 and "Traceback" not in out + err and "none." in err, (command, err)


def test_a_database_locked_for_good_is_a_database_error(tmp_path: Path) -> None:
    import sqlite3

    from ledger.db import transaction

    path = tmp_path / "wmc.db"
    engine = make_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    upgrade(engine)

    @event.listens_for(engine, "connect")
    def _no_wait(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout = 0")

    engine.dispose()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock throughout
    try:
        with pytest.raises(DatabaseError, match=r"still locked .* after 3 attempts"):
            transaction(engine, lambda conn: conn.execute(text("SELECT 1")), attempts=3)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()
