"""What the screen says: data shown literally and inertly, amounts whole, CSV as one table,
rollbacks and duplicates said plainly, statements of another account refused, one sign
convention; and the command under a real 80-column pseudo-terminal."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import create_engine, text

from cli.render import CUT_MARK, TEXT_LIMIT, cell, displayed, emit_table, message
from ledger.money import group_digits
from tests.test_cli import wmc, write

ROOT = Path(__file__).resolve().parent.parent

BANKS = "bank_id,name,market\nA,Bank [b]A[/b],HK\nB,Bank B,MO\n"
MARKUP = "[red]X[/red]"
ACCOUNTS = (
    "account,bank_id,type,currency,name,allow_overdraft\n"
    f"{MARKUP},A,asset,HKD,Nostro [i]A[/i],true\n"
    "B-HKD,B,liability,HKD,Customer,false\n"
)
HEADER = "instruction_id,kind,debit_account,credit_account,amount,currency,value_date\n"
BIG = "123456789012.34"


def instructions(*rows: str) -> str:
    return HEADER + "".join(f"{r},HKD,2025-03-03\n" for r in rows)


@pytest.fixture
def db(db_url: str, tmp_path: Path) -> str:
    assert wmc(db_url, "init")[0] == 0
    assert wmc(db_url, "load", "banks", str(write(tmp_path, "banks.csv", BANKS)))[0] == 0
    assert wmc(db_url, "load", "accounts", str(write(tmp_path, "acc.csv", ACCOUNTS)))[0] == 0
    return db_url


# -- the renderer ---------------------------------------------------------------------------------


def test_displayed_escapes_controls_bidi_and_the_cut_mark() -> None:
    assert displayed("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m"
    assert displayed("abc\u202edef\u2066") == "abc\\u202edef\\u2066"
    assert displayed("a\tb\nc\x7f\x9b") == "a\\x09b\\x0ac\\x7f\\x9b"
    assert displayed("more…") == "more\\u2026"  # the cut mark is never data's
    assert displayed("[red]X[/red]") == "[red]X[/red]"  # markup is plain text here
    assert displayed("中文名稱") == "中文名稱"


def test_displayed_cuts_long_text_with_a_count_but_never_an_amount() -> None:
    long = "A" * (TEXT_LIMIT + 880)
    shown = displayed(long)
    assert shown == "A" * TEXT_LIMIT + f"{CUT_MARK}(+880 chars)"
    huge = "9" * 400 + ".00"
    assert displayed(huge, limit=None) == huge
    assert cell("amount", huge).plain == group_digits(huge)  # whole, grouped
    assert CUT_MARK not in cell("amount", huge).plain
    assert cell("account", long).plain == shown


def test_group_digits_is_text_only() -> None:
    assert group_digits("-1234567.89") == "-1,234,567.89"
    assert group_digits("0.00") == "0.00"
    assert group_digits("999") == "999"
    assert group_digits("1" * 5000) .count(",") == 1666  # no int() digit limit
    with pytest.raises(ValueError):
        group_digits("12a")


def test_message_escapes_values_not_the_template() -> None:
    line = message("[bold]batch {}[/]: {}", "[/]nope", "\x1b[2J")
    assert line.plain == "batch [/]nope: \\x1b[2J"


def render(rows: list[dict[str, str]], width: int) -> str:
    buf = io.StringIO()
    emit_table(rows, title="T", out=Console(file=buf, width=width, color_system=None))
    return buf.getvalue()


def test_amounts_are_whole_at_any_width_text_folds_or_goes_vertical() -> None:
    rows = [{"account": "A-VERY-LONG-ACCOUNT-CODE-OF-A-BANK-" + "Z" * 30, "currency": "HKD",
             "debits": BIG, "credits": "1.00", "balance": "-" + BIG}]
    for width in (200, 80, 60, 40, 20):
        shown = render(rows, width)
        assert "123,456,789,012.34" in shown and "-123,456,789,012.34" in shown, shown
        assert "…" not in shown
        assert max(len(line) for line in shown.splitlines()) <= width
    assert "┃" in render(rows, 80)  # folded into a table
    assert "┃" not in render(rows, 40) and "balance" in render(rows, 40)  # vertical


# -- the command ---------------------------------------------------------------------------------


def test_markup_in_data_is_literal_and_an_unknown_markup_account_cannot_crash(
        db: str, tmp_path: Path) -> None:
    day = write(tmp_path, "day.csv", instructions(
        f"I1,transfer,{MARKUP},B-HKD,{BIG}", "I2,transfer,[/]nope,B-HKD,1.00"))
    code, out, err = wmc(db, "settle", "run", str(day))
    assert code == 0, err
    assert "[/]nope" in out and "123,456,789,012.34" in out
    code, out, err = wmc(db, "settle", "show", "B00000001")
    assert code == 0, err
    assert "[/]nope" in out
    code, out, _ = wmc(db, "report", "balances")
    assert code == 0 and MARKUP in out and "123,456,789,012.34" in out


def test_an_error_quoting_data_is_shown_inert(db: str, tmp_path: Path) -> None:
    code, _, err = wmc(db, "load", "banks", str(tmp_path / "\x1b[2J\u202eb.csv"))
    assert code == 2 and "\x1b" not in err and "\u202e" not in err
    assert "\\x1b[2J\\u202eb.csv" in err


def parse_csv(out: str) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(out)))
    assert rows, "no header"
    width = len(rows[0])
    assert all(len(r) == width for r in rows), out  # one table: every row as wide as the header
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_csv_is_one_table_chosen_by_table(db: str, tmp_path: Path) -> None:
    day = write(tmp_path, "day.csv", instructions(f"I1,transfer,{MARKUP},B-HKD,{BIG}",
                                                  "I2,transfer,NOPE,B-HKD,1.00"))
    code, out, _ = wmc(db, "settle", "run", str(day), "--format", "csv")
    assert code == 0
    assert parse_csv(out) == [{
        "batch_id": "B00000001", "status": "committed", "instructions": "2", "accepted": "1",
        "rejected": "1", "duplicates": "0", "file_sha256": parse_csv(out)[0]["file_sha256"]}]
    for table, first in [("rejections", {"instruction_id": "I2", "line": "3",
                                         "code": "unknown_account",
                                         "message": "account 'NOPE' does not exist"}),
                         ("obligations", {"payer": "A", "payee": "B", "currency": "HKD",
                                          "amount": BIG, "value_date": "2025-03-03"}),
                         ("rejections_by_code", {"code": "unknown_account", "count": "1"})]:
        code, out, _ = wmc(db, "settle", "show", "B00000001", "--format", "csv",
                           "--table", table)
        assert code == 0 and parse_csv(out)[0] == first, table
    code, out, _ = wmc(db, "settle", "show", "B00000001", "--format", "csv",
                       "--table", "moved_dates")
    assert code == 0 and out == "instruction_id,market,requested,value_date,reason\n"
    code, out, _ = wmc(db, "report", "trial-balance", "--format", "csv", "--table", "accounts")
    accounts = {r["account"]: r for r in parse_csv(out)}
    assert accounts[MARKUP]["debits"] == BIG
    code, out, _ = wmc(db, "report", "trial-balance", "--format", "csv")
    assert [r["currency"] for r in parse_csv(out)] == ["CNY", "HKD", "MOP", "USD"]
    code, out, _ = wmc(db, "report", "quota", "--format", "csv", "--table", "aggregate")
    assert code == 0 and out.splitlines()[0] == "direction,used,remaining"
    code, out, _ = wmc(db, "report", "quota", "--format", "csv")
    assert code == 0 and out.splitlines() == [
        "investor_id,direction,channel,remitted_out,remitted_back,used,remaining"]
    code, out, _ = wmc(db, "settle", "show", "B00000001", "--table", "positions")
    assert code == 0 and "Multilateral" in out and "Rejections" not in out


def test_table_is_refused_with_json_and_an_unknown_table_before_anything_runs(
        db: str, tmp_path: Path) -> None:
    day = write(tmp_path, "day.csv", instructions(f"I1,transfer,{MARKUP},B-HKD,1.00"))
    assert wmc(db, "settle", "run", str(day), "--format", "json", "--table", "summary")[0] == 2
    assert wmc(db, "settle", "run", str(day), "--table", "nope")[0] == 2
    code, out, _ = wmc(db, "settle", "run", str(day), "--format", "json")
    assert code == 0 and json.loads(out)["batch_id"] == "B00000001"  # nothing ran before


def test_an_atomic_rollback_says_so_and_names_no_batch(db: str, tmp_path: Path) -> None:
    day = write(tmp_path, "day.csv", instructions(f"I1,transfer,{MARKUP},B-HKD,1.00",
                                                  "I2,transfer,NOPE,B-HKD,1.00"))
    code, out, _ = wmc(db, "settle", "run", str(day), "--atomic", "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert (data["status"], data["batch_id"], data["rejected"]) == ("rolled_back", None, 1)
    assert {"file_sha256", "instructions", "accepted", "duplicates", "rejections",
            "positions", "obligations", "gross_payments"} <= data.keys()
    code, out, _ = wmc(db, "settle", "run", str(day), "--atomic")
    assert code == 1 and "rolled back" in out and "B00000001" not in out
    assert wmc(db, "settle", "show", "B00000001")[0] == 2  # it does not exist
    code, out, _ = wmc(db, "settle", "run", str(day), "--format", "json")
    assert json.loads(out)["status"] == "committed"


def test_duplicates_are_listed_with_what_they_duplicate(db: str, tmp_path: Path) -> None:
    first = write(tmp_path, "day1.csv", instructions(
        f"P1,transfer,{MARKUP},B-HKD,10.00", "R1,transfer,B-HKD,[red]X[/red],99.00"))
    code, out, _ = wmc(db, "settle", "run", str(first), "--format", "json")
    assert json.loads(out)["rejections"][0]["code"] == "insufficient_funds"
    again = write(tmp_path, "day2.csv", instructions(
        "R1,transfer,B-HKD,[red]X[/red],99.00", f"P1,transfer,{MARKUP},B-HKD,10.00",
        "N1,transfer,B-HKD,[red]X[/red],1.00", "N1,transfer,B-HKD,[red]X[/red],1.00"))
    code, out, _ = wmc(db, "settle", "run", str(again), "--format", "json")
    run = json.loads(out)
    assert (run["duplicates"], run["accepted"]) == (3, 1)
    assert run["duplicates_detail"] == [
        {"instruction_id": "R1", "line": 2, "duplicate_of": "rejected",
         "batch_id": "B00000001", "code": "insufficient_funds"},
        {"instruction_id": "P1", "line": 3, "duplicate_of": "posted",
         "batch_id": "B00000001", "code": None},
        {"instruction_id": "N1", "line": 5, "duplicate_of": "posted",
         "batch_id": "B00000002", "code": None},
    ]
    code, out, _ = wmc(db, "settle", "show", "B00000002", "--format", "json")
    assert json.loads(out)["duplicates_detail"] == run["duplicates_detail"]
    code, out, _ = wmc(db, "settle", "show", "B00000002")
    assert code == 0
    assert "rejected in batch B00000001 with code insufficient_funds" in out
    assert "posted in batch B00000001" in out


MT940 = (":20:STMT250303\n:25:{account}\n:28C:1/1\n:60F:C250303HKD0,00\n"
         ":62F:C250303HKD0,00\n")


def test_reconcile_refuses_a_statement_of_another_account(db: str, tmp_path: Path) -> None:
    statement = write(tmp_path, "s.mt940", MT940.format(account="HK33HKB0001"))
    code, out, err = wmc(db, "reconcile", str(statement), "--account", "B-HKD")
    assert code == 2 and out == ""
    assert "'B-HKD'" in err and "'HK33HKB0001'" in err and "--force" in err
    code, _, err = wmc(db, "reconcile", str(statement), "--account", "B-HKD", "--force")
    assert code == 0, err
    settings = write(tmp_path, "s.toml",
                     '[reconciliation]\nstatement_accounts = { "HK33HKB0001" = "B-HKD" }\n')
    code, _, err = wmc(db, "--settings", str(settings), "reconcile", str(statement),
                       "--account", "B-HKD")
    assert code == 0, err
    code, _, err = wmc(db, "--settings", str(settings), "reconcile", str(statement),
                       "--account", MARKUP)
    assert code == 2 and "mapped to 'B-HKD'" in err
    same = write(tmp_path, "same.mt940", MT940.format(account="B-HKD"))
    assert wmc(db, "reconcile", str(same), "--account", "B-HKD")[0] == 0


def test_a_bad_statement_accounts_setting_is_refused(db: str, tmp_path: Path) -> None:
    settings = write(tmp_path, "s.toml", "[reconciliation]\nstatement_accounts = 3\n")
    statement = write(tmp_path, "s.mt940", MT940.format(account="B-HKD"))
    code, _, err = wmc(db, "--settings", str(settings), "reconcile", str(statement),
                       "--account", "B-HKD")
    assert code == 2 and "reconciliation.statement_accounts" in err


def test_balances_hide_unused_ledger_accounts_and_zero(db: str, tmp_path: Path) -> None:
    day = write(tmp_path, "day.csv", instructions(f"I1,transfer,{MARKUP},B-HKD,5.00",
                                                  "I2,transfer,B-HKD,[red]X[/red],5.00"))
    assert wmc(db, "settle", "run", str(day))[0] == 0
    accounts = [r["account"] for r in json.loads(
        wmc(db, "report", "balances", "--format", "json")[1])]
    assert accounts == ["B-HKD", MARKUP]  # the FX/transit accounts opened unused are left out
    every = json.loads(wmc(db, "report", "balances", "--all", "--format", "json")[1])
    assert "A:FX_POSITION:USD" in [r["account"] for r in every] and len(every) == 2 + 2 * 16
    assert json.loads(wmc(db, "report", "balances", "--hide-zero", "--format", "json")[1]) == []
    named = json.loads(wmc(db, "report", "balances", "--account", "A:TRANSIT:USD",
                           "--hide-zero", "--format", "json")[1])
    assert [r["account"] for r in named] == ["A:TRANSIT:USD"]  # asked for by name: shown


def test_audit_problems_are_in_major_units(db: str) -> None:
    engine = create_engine(db)
    with engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET credits_posted = 10000000 WHERE code = 'B-HKD'"))
    engine.dispose()
    code, _, err = wmc(db, "audit", "verify")
    assert code == 3
    assert "credits 100000.00 HKD" in err and "10000000" not in err


# -- under a pseudo-terminal of 80 columns -------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def run_in_pty(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """``wmc ARGS`` with its stdout on a pseudo-terminal of 80 x 24; what it showed, without
    the terminal's colour codes."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            block = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not block:
            break
        chunks.append(block)
    os.close(master)
    code = proc.wait(timeout=60)
    return code, _ANSI.sub("", b"".join(chunks).decode("utf-8").replace("\r\n", "\n"))


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_under_an_80_column_terminal_no_amount_is_cut_and_markup_is_literal(
        tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/pty.db"
    assert wmc(db, "init")[0] == 0
    assert wmc(db, "load", "banks", str(write(tmp_path, "banks.csv", BANKS)))[0] == 0
    assert wmc(db, "load", "accounts", str(write(tmp_path, "acc.csv", ACCOUNTS)))[0] == 0
    day = write(tmp_path, "day.csv", instructions(
        f"I1,transfer,{MARKUP},B-HKD,{BIG}", "I2,transfer,B-HKD,[red]X[/red],98765432109.87",
        "I3,transfer,[/]nope,B-HKD,1.00"))
    assert wmc(db, "settle", "run", str(day))[0] == 0
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "WMC_DB")}
    env.update(COLUMNS="80", LINES="24", TERM="xterm-256color", WMC_DB=db)
    code, shown = run_in_pty(["report", "balances"], env)
    assert code == 0, shown
    for amount in ("123,456,789,012.34", "98,765,432,109.87", "24,691,356,902.47"):
        assert amount in shown, shown
    assert MARKUP in shown and "…" not in shown
    assert max(len(line) for line in shown.splitlines()) <= 80
    code, shown = run_in_pty(["settle", "show", "B00000001"], env)
    assert code == 0, shown
    assert "24,691,356,902.47" in shown  # the net obligation and positions, whole
    assert "[/]nope" in shown
    assert not [line for line in shown.splitlines() if "…" in line and "sha256" not in line]
