"""The ``wmc`` command through typer's CliRunner, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def wmc(db: str, *args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, ["--db", db, *args])
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture
def db(db_url: str) -> str:
    code, _, err = wmc(db_url, "init")
    assert code == 0, err
    return db_url


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


BANKS = "bank_id,name,market\nA,Bank A,HK\nB,Bank B,MO\n"
ACCOUNTS = (
    "account,bank_id,type,currency,name,allow_overdraft\n"
    "A-HKD,A,asset,HKD,Nostro,true\n"
    "B-HKD,B,liability,HKD,Customer,false\n"
)


def test_init_twice_is_harmless(db: str) -> None:
    assert wmc(db, "init")[0] == 0


def test_load_is_idempotent_and_reports(db: str, tmp_path: Path) -> None:
    banks, accounts = write(tmp_path, "banks.csv", BANKS), write(tmp_path, "acc.csv", ACCOUNTS)
    assert wmc(db, "load", "banks", str(banks))[0] == 0
    assert wmc(db, "load", "accounts", str(accounts))[0] == 0
    code, out, _ = wmc(db, "load", "accounts", str(accounts))
    assert code == 0 and "0 new, 2 unchanged" in out
    code, out, _ = wmc(db, "report", "balances", "--format", "json")
    assert code == 0
    assert json.loads(out) == [
        {"account": "A-HKD", "bank_id": "A", "currency": "HKD", "debits": "0.00",
         "credits": "0.00", "balance": "0.00"},
        {"account": "B-HKD", "bank_id": "B", "currency": "HKD", "debits": "0.00",
         "credits": "0.00", "balance": "0.00"},
    ]
    code, out, _ = wmc(db, "report", "trial-balance", "--format", "json")
    assert json.loads(out)["currencies"] == [{"currency": "HKD", "debits": "0.00",
                                              "credits": "0.00"}]
    code, out, _ = wmc(db, "report", "balances", "--format", "csv", "--bank", "B")
    assert out.splitlines() == ["account,bank_id,currency,debits,credits,balance",
                                "B-HKD,B,HKD,0.00,0.00,0.00"]


def test_same_key_with_other_content_is_an_error_naming_both(db: str, tmp_path: Path) -> None:
    wmc(db, "load", "banks", str(write(tmp_path, "b.csv", BANKS)))
    code, _, err = wmc(db, "load", "banks",
                       str(write(tmp_path, "b2.csv", "bank_id,name,market\nA,Other,HK\n")))
    assert code == 2
    assert "Bank A" in err and "Other" in err
    assert f"{tmp_path / 'b2.csv'}:2" in err  # where the clashing row is


def test_bad_file_lists_every_bad_row_and_writes_nothing(db: str, tmp_path: Path) -> None:
    wmc(db, "load", "banks", str(write(tmp_path, "b.csv", BANKS)))
    bad = write(tmp_path, "bad.csv", (
        "account,bank_id,type,currency,allow_overdraft\n"
        "OK-1,A,asset,HKD,true\n"
        "X-2,A,assets,HKD,false\n"
        "X-3,A,asset,CNH,false\n"
        "X-4,A,asset,HKD,maybe\n"
        "X-5,,asset,HKD,false\n"
    ))
    code, out, err = wmc(db, "load", "accounts", str(bad))
    assert code == 2
    for line, field in [(3, "type"), (4, "currency"), (5, "allow_overdraft"), (6, "bank_id")]:
        assert f"{bad}:{line}: field '{field}': " in err
    code, out, _ = wmc(db, "report", "balances", "--format", "json")
    assert json.loads(out) == []


def test_unknown_and_missing_columns(db: str, tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.csv", "bank_id,colour\nA,red\n")
    code, _, err = wmc(db, "load", "banks", str(bad))
    assert code == 2
    assert f"{bad}:1: field 'colour': " in err
    assert f"{bad}:1: field 'name': " in err and f"{bad}:1: field 'market': " in err


def test_jsonl_input(db: str, tmp_path: Path) -> None:
    f = write(tmp_path, "banks.jsonl", '{"bank_id": "A", "name": "Bank A", "market": "HK"}\n'
                                       '{"bank_id": "B", "name": "Bank B", "market": 5}\n')
    code, _, err = wmc(db, "load", "banks", str(f))
    assert code == 2 and f"{f}:2: field 'market': " in err


def test_audit_verify_clean(db: str) -> None:
    code, out, _ = wmc(db, "audit", "verify")
    assert code == 0 and out.startswith("ok:")


def test_every_command_is_documented() -> None:
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    import typer.main

    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None)
        for sub in (subs or {None: None}):
            full = f"wmc {name}" + (f" {sub}" if sub else "")
            assert full in readme, f"{full} is not documented in README.md"


def test_a_column_or_key_given_twice_is_refused(db: str, tmp_path: Path) -> None:
    csv_file = write(tmp_path, "b.csv", "bank_id,name,market,name\nA,Bank A,HK,Other\n")
    code, _, err = wmc(db, "load", "banks", str(csv_file))
    assert code == 2 and f"{csv_file}:1: field 'name': " in err and "duplicate" in err
    jsonl = write(tmp_path, "b.jsonl",
                  '{"bank_id": "A", "name": "Bank A", "market": "HK", "name": "Other"}\n')
    code, _, err = wmc(db, "load", "banks", str(jsonl))
    assert code == 2 and f"{jsonl}:1: field 'name': " in err and "duplicate" in err


def test_bytes_that_are_not_utf8_are_named_by_line(db: str, tmp_path: Path) -> None:
    f = tmp_path / "b.csv"
    f.write_bytes(b"bank_id,name,market\nA,Bank A,HK\nB,Bank \xff,MO\n")
    code, _, err = wmc(db, "load", "banks", str(f))
    assert code == 2 and f"{f}:3: field 'text': UTF-8 text" in err


def test_a_field_beyond_the_csv_limit_is_a_problem_not_a_crash(db: str, tmp_path: Path) -> None:
    f = write(tmp_path, "b.csv", "bank_id,name,market\nA," + "x" * 200_000 + ",HK\n")
    code, _, err = wmc(db, "load", "banks", str(f))
    assert code == 2 and f"{f}:" in err and "field 'row': a CSV row" in err


def test_a_byte_order_mark_is_not_part_of_the_first_column(db: str, tmp_path: Path) -> None:
    f = tmp_path / "b.csv"
    f.write_bytes("\ufeff".encode() + BANKS.encode())
    assert wmc(db, "load", "banks", str(f))[0] == 0


def test_a_missing_required_column_is_reported_once(db: str, tmp_path: Path) -> None:
    f = write(tmp_path, "r.csv", "base,quote,bid,ask\nCNY,HKD,1.05,1.06\n")
    code, _, err = wmc(db, "load", "rates", str(f))
    assert code == 2 and f"{f}:1: field 'as_of': a required column (missing)" in err
    assert "NoneType" not in err and f"{f}:2:" not in err
