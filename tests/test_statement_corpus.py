"""A corpus of statements in the shapes banks send, each with what it must give.

The files under ``data/statements/corpus/`` were written for this project (no third-party
fixture): several statements to a file, envelopes and bank headers, batch bookings, camt.052,
camt.054 and MT942, optional dates, long references, the year-end booking window. What each
must give (balances, entries, warnings) is in ``expected.json``; ``refused/`` holds files that
must be refused, with the problem each names (the table below). Then: bounded reading (FIFOs,
devices, directories, junk elements), reconciliation of these shapes against a real ledger, and
a bounded fuzz test of the camt and MT940 readers.
"""

from __future__ import annotations

import json
import os
import time
import tracemalloc
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from ledger.entries import EntrySpec, TransferSpec
from ledger.errors import InputError, LedgerError
from ledger.money import format_amount
from ledger.posting import OK
from settlement.reconcile import reconcile_statement, reconcile_statements
from settlement.settings import ReconciliationSettings
from settlement.statements import (
    EntryDetail,
    Statement,
    StatementEntry,
    read_statement,
    read_statements,
    write_camt053,
    write_mt940,
)
from tests.ledger_builders import post, seed

CORPUS = Path(__file__).parent / "data" / "statements" / "corpus"
EXPECTED: dict[str, Any] = json.loads((CORPUS / "expected.json").read_text())
SETTINGS = ReconciliationSettings(
    date_tolerance_days=2, cnh_as_cny=False, statement_max_bytes=1_000_000
)


def _as_expected(stmt: Statement) -> dict[str, Any]:
    code = stmt.currency

    def amount(x: int | None) -> str | None:
        return None if x is None else format_amount(x, code)

    return {
        "format": stmt.format,
        "account": stmt.account,
        "currency": code,
        "statement_id": stmt.statement_id,
        "opening": amount(stmt.opening),
        "closing": amount(stmt.closing),
        "opening_date": stmt.opening_date.isoformat(),
        "closing_date": stmt.closing_date.isoformat(),
        "entries": [
            {
                "amount": amount(e.amount),
                "booking_date": e.booking_date.isoformat(),
                "value_date": e.value_date.isoformat(),
                "end_to_end_id": e.end_to_end_id,
                "bank_ref": e.bank_ref,
                "reversal": e.reversal,
                "line": e.line,
                **(
                    {"details": [[amount(d.amount), d.end_to_end_id, d.bank_ref]
                                 for d in e.details]}
                    if e.details else {}
                ),
            }
            for e in stmt.entries
        ],
        "warnings": [str(w) for w in stmt.warnings],
    }


def test_every_corpus_file_has_its_expected_results() -> None:
    files = {p.name for p in CORPUS.iterdir() if p.is_file() and p.suffix != ".json"}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_gives_its_statements(name: str) -> None:
    want = EXPECTED[name]
    kw = {"currencies": tuple(want["currencies"])} if "currencies" in want else {}
    got = read_statements(CORPUS / name, name=name, **kw)
    assert [_as_expected(s) for s in got] == want["statements"]
    # The bytes read the same as the path.
    assert read_statements((CORPUS / name).read_bytes(), name=name, **kw) == got


def test_the_corpus_covers_each_kind_and_shape() -> None:
    statements = [s for f in EXPECTED.values() for s in f["statements"]]
    assert {s["format"] for s in statements} == {
        "camt.053", "camt.052", "camt.054", "mt940", "mt942"
    }
    assert any("details" in e for s in statements for e in s["entries"])  # a batch booking
    assert sum(len(f["statements"]) > 1 for f in EXPECTED.values()) >= 3  # several to a file
    warned = " ".join(w for s in statements for w in s["warnings"])
    assert "no BookgDt and no ValDt" in warned and "kept whole" in warned


REFUSED = {
    "camt053_batch_details_disagree.xml": (
        26, "Stmt/Ntry[1]/NtryDtls", "batch details adding up to the entry's 3500.00 CNY, got "
        "3600.00 CNY over 3 TxDtls"),
    "camt053_bogus_encoding.xml": (1, "xml encoding", "unknown encoding: bogus"),
    "camt053_without_closing.xml": (
        5, "Stmt/Bal", "a closing balance (Bal with code CLBD) in a camt.053 statement"),
    "mt940_one_message_off.sta": (11, ":62F: amount", "it is off by -0.50 HKD"),
    "mt942_count_disagrees.sta": (
        11, ":90D:", "the number and sum of the debit entries (2, 100.00 HKD), got 2, 90.00 HKD"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_file_names_file_line_field(name: str) -> None:
    line, field_name, expected = REFUSED[name]
    with pytest.raises(InputError) as info:
        read_statements(CORPUS / "refused" / name, name=name)
    assert f"{name}:{line}: field '{field_name}': " in str(info.value)
    assert expected in str(info.value)


def test_refused_table_covers_the_folder() -> None:
    assert {p.name for p in (CORPUS / "refused").iterdir()} == set(REFUSED)


def test_a_currency_the_ledger_does_not_carry_is_refused_naming_it() -> None:
    with pytest.raises(
        InputError,
        match=r"camt053_eur.xml:7: field 'Stmt/Acct/Ccy': currency EUR is not carried by this "
        r"ledger \(it carries MOP, HKD, CNY, USD",
    ):
        read_statements(CORPUS / "camt053_eur.xml", name="camt053_eur.xml")


def test_read_statement_wants_one_and_names_what_the_file_holds() -> None:
    with pytest.raises(
        InputError,
        match=r"one statement in the file, found 2: camt.053 statement of account HK-NOSTRO-001 "
        r"on 2025-03-03, camt.053 statement of account MO12345678901234567890 "
        r"2025-02-28..2025-03-03",
    ):
        read_statement(CORPUS / "camt053_two_statements.xml")


def test_batch_booking_round_trips_through_camt053() -> None:
    stmt = read_statement(CORPUS / "camt053_batch_envelope.xml")
    assert read_statement(write_camt053(stmt)) == stmt
    with pytest.raises(InputError, match="MT940 cannot carry a batch"):
        write_mt940(stmt)
    with pytest.raises(InputError, match=r"details add up to 1\.00, not its amount 2\.00"):
        StatementEntry(200, "HKD", date(2025, 3, 3), date(2025, 3, 3), None, None,
                       details=(EntryDetail(100, "X"),))


# --- bounded reading (issue 15) ------------------------------------------------------------------


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "statement.xml"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    with pytest.raises(InputError, match=r"statement.xml:0: field 'file': a regular file, got a"):
        read_statements(fifo)
    assert time.monotonic() - t0 < 1


def test_directory_and_device_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"field 'file': a regular file, got a directory"):
        read_statements(tmp_path)
    with pytest.raises(InputError, match=r"field 'file': a regular file, got a device"):
        read_statements("/dev/zero")


def test_size_is_checked_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.sta"
    big.write_bytes(b":20:X\n" + b"x" * 5000)
    with pytest.raises(InputError, match="field 'size': a statement of at most 1000 bytes"):
        read_statements(big, max_bytes=1000)


def _junk(n: int, where: str = "") -> bytes:
    head = (CORPUS / "camt053_year_end.xml").read_bytes()
    junk = b"<Junk><a>1</a></Junk>" * n
    if where == "entry":
        return head.replace(b"<Sts>BOOK</Sts>", b"<Sts>BOOK</Sts>" + junk, 1)
    return head.replace(b"<GrpHdr>", junk + b"<GrpHdr>", 1)


def test_junk_elements_are_counted_not_built() -> None:
    # 60,000 junk elements outside the statement structure: read, in little memory.
    data = _junk(30_000)
    tracemalloc.start()
    try:
        stmt = read_statement(data, name="junk.xml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(stmt.entries) == 2
    assert peak < len(data) * 3, peak  # not an element tree of the junk (that is ~20x)


def test_element_limits_refuse_a_junk_statement() -> None:
    with pytest.raises(InputError, match=r"junk.xml:\d+: field 'xml': at most 10000 XML elements"):
        read_statements(_junk(10_000), name="junk.xml", max_elements=10_000)
    with pytest.raises(InputError, match="at most 100000 elements in one Ntry"):
        read_statements(_junk(60_000, "entry"), name="junk.xml")


def test_entity_attacks_stay_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<Document>&b;</Document>"
    )
    with pytest.raises(InputError, match="DTDs, entity declarations and external entities"):
        read_statements(bomb)


# --- reconciling these shapes against a real ledger ---------------------------------------------

NOSTRO, OTHER = "A-NOSTRO-HKD", "B-NOSTRO-HKD"


def _into(account: str, other: str, ref: str, amount: int, day: date, currency: str) -> EntrySpec:
    debit, credit = (account, other) if amount > 0 else (other, account)
    return EntrySpec(ref, "transfer", day,
                     (TransferSpec(debit, credit, abs(amount), currency, reference=ref),))


def _post(engine: Engine, entries: list[EntrySpec]) -> None:
    assert [r.code for r in post(engine, entries)] == [OK] * len(entries)


def _corpus(name: str, account: str, new: str) -> bytes:
    return (CORPUS / name).read_bytes().replace(account.encode(), new.encode())


@pytest.mark.parametrize(("ledger_value", "types"), [
    (date(2015, 1, 2), []),  # the ledger dated it as the bank values it: a match
    (date(2015, 1, 3), ["date_mismatch"]),  # a day apart: both have it, on different days
    (date(2014, 12, 30), ["date_mismatch"]),  # value-dated before the period, booked in it
])
def test_booked_in_the_period_value_dated_after_is_no_false_break(
    engine: Engine, ledger_value: date, types: list[str]
) -> None:
    seed(engine)
    _post(engine, [
        _into(NOSTRO, OTHER, "YE-SAME-DAY", 50_000, date(2014, 12, 31), "HKD"),
        _into(NOSTRO, OTHER, "YE-VALUE-LATER", 30_000, ledger_value, "HKD"),
    ])
    data = _corpus("camt053_year_end.xml", "HK-NOSTRO-001", NOSTRO)
    with engine.connect() as conn:
        rec = reconcile_statement(conn, data, account=NOSTRO, settings=SETTINGS)
    assert [b.type for b in rec.breaks] == types
    assert rec.ledger_closing == rec.statement_closing == 80_000
    assert rec.matched == 2 - len(types)


def test_batch_booking_is_matched_detail_by_detail(engine: Engine) -> None:
    seed(engine)
    day = date(2025, 3, 3)
    nostro, other = "A-NOSTRO-CNY", "B-NOSTRO-CNY"
    _post(engine, [
        _into(nostro, other, "OPEN", 1_000_000, date(2025, 3, 2), "CNY"),
        _into(nostro, other, "REM-001", 100_000, day, "CNY"),
        _into(nostro, other, "REM-003", -50_000, day, "CNY"),
    ])
    data = _corpus("camt053_batch_envelope.xml", "CN-NOSTRO-002", nostro)
    with engine.connect() as conn:
        rec = reconcile_statement(conn, data, account=nostro, settings=SETTINGS)
    assert rec.matched == 2
    assert [(b.type, b.amount, b.end_to_end_id, b.statement_ref) for b in rec.breaks] == [
        ("missing_in_ledger", -300_000, "REM-002", "CN-BATCH-1")
    ]
    assert sum(b.amount for b in rec.breaks) == rec.ledger_closing - rec.statement_closing


def test_several_statements_each_in_turn_or_the_one_of_the_account(engine: Engine) -> None:
    seed(engine)
    _post(engine, [
        _into(NOSTRO, OTHER, "OPEN", 500_000, date(2025, 3, 2), "HKD"),
        _into(NOSTRO, OTHER, "INS-HK-1", 125_050, date(2025, 3, 3), "HKD"),
    ])
    data = _corpus("mt940_two_messages_swift.sta", "HK-NOSTRO-001", NOSTRO)
    with engine.connect() as conn:
        with pytest.raises(InputError, match=r"one statement of account 'A-NOSTRO-HKD', found 2"):
            reconcile_statement(conn, data, account=NOSTRO, settings=SETTINGS, name="x.sta")
        recs = reconcile_statements(conn, data, settings=SETTINGS, name="x.sta")
    assert [(r.statement_id, r.period_start, r.period_end) for r in recs] == [
        ("STMT250303", date(2025, 3, 3), date(2025, 3, 3)),
        ("STMT250304", date(2025, 3, 4), date(2025, 3, 4)),
    ]
    # Day one: the ledger lacks the bank's fee (carried into day two's opening); day two: the
    # bank reversed part of the credit, which the ledger has not booked.
    assert [[b.type for b in r.breaks] for r in recs] == [
        ["missing_in_ledger"], ["opening_difference", "reversal"]
    ]
    two = _corpus("camt053_two_statements.xml", "HK-NOSTRO-001", NOSTRO)
    with engine.connect() as conn:
        rec = reconcile_statement(conn, two, account=NOSTRO, settings=SETTINGS)
        assert rec.statement_id == "HKD-20250303"
        assert rec.warnings == (
            "<statement>:42: field 'Stmt/Ntry[2]': no BookgDt and no ValDt: the entry takes "
            "the statement's date 2025-03-03",
        )
        with pytest.raises(InputError, match=r"a statement of account 'A-CUST-HKD' among the "
                           r"file's 2 \(camt.053 statement of account A-NOSTRO-HKD on"):
            reconcile_statement(conn, two, account="A-CUST-HKD", settings=SETTINGS)


@pytest.mark.parametrize("name", ["camt054_notification.xml", "mt942_interim.sta"])
def test_a_report_without_balances_is_refused_for_reconciliation_named(
    engine: Engine, name: str
) -> None:
    seed(engine)
    kind = "camt.054 debit/credit notification" if "054" in name else "MT942 interim report"
    data = (CORPUS / name).read_bytes()
    with engine.connect() as conn, pytest.raises(
        InputError, match=rf"field 'balances': .* this {kind} of account"
    ):
        reconcile_statement(conn, data, account=NOSTRO, settings=SETTINGS)


# --- fuzz: mutated statements end in statements or a LedgerError -------------------------------

_SEEDS = [
    (CORPUS / n).read_bytes()
    for n in ("camt053_two_statements.xml", "camt053_batch_envelope.xml",
              "mt940_two_messages_swift.sta", "mt940_bank_header.sta", "mt942_interim.sta")
]
_TOKENS = [b"<", b">", b"</Ntry>", b"<Ntry>", b"CRDT", b"DBIT", b"&amp;", b"\x00", b"\xff",
           b":61:", b":20:", b"\n", b"-}", b"{4:", b",", b".", b"9", b"NONREF", b"//",
           b'encoding="x"', b"<TxDtls>", b"CNH", b"EUR"]


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        token = draw(st.sampled_from(_TOKENS) | st.binary(min_size=1, max_size=4))
        if op == "insert":
            data[at:at] = token
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        else:
            data[at : at + len(token)] = token
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_mutated_statements_end_in_statements_or_a_ledger_error(data: bytes) -> None:
    try:
        found = read_statements(data, name="fuzz")
    except LedgerError:
        return
    assert found and all(isinstance(s, Statement) for s in found)
    for s in found:
        if s.opening is not None and s.closing is not None:
            assert s.opening + s.entries_total == s.closing


# --- the command ----------------------------------------------------------------------------------


@pytest.fixture
def cli_db(db_url: str, tmp_path: Path) -> str:
    from tests.test_cli import wmc

    assert wmc(db_url, "init")[0] == 0
    banks = tmp_path / "banks.csv"
    banks.write_text("bank_id,name,market\nA,Bank A,HK\n")
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(
        "account,bank_id,type,currency,name,allow_overdraft\nA-HKD,A,asset,HKD,Nostro,true\n"
    )
    assert wmc(db_url, "load", "banks", str(banks))[0] == 0
    assert wmc(db_url, "load", "accounts", str(accounts))[0] == 0
    return db_url


def test_cli_all_reports_each_statement_and_refusals_exit_2(cli_db: str, tmp_path: Path) -> None:
    from tests.test_cli import wmc

    two = tmp_path / "two.sta"
    two.write_bytes(_corpus("mt940_two_messages_swift.sta", "HK-NOSTRO-001", "A-HKD"))
    code, out, _ = wmc(cli_db, "reconcile", str(two), "--all", "--format", "json")
    reports = json.loads(out)
    assert code == 1  # breaks: the ledger has none of the bank's entries
    assert [(r["statement_id"], r["statement_format"], r["account"]) for r in reports] == [
        ("STMT250303", "mt940", "A-HKD"), ("STMT250304", "mt940", "A-HKD")
    ]
    code, out, _ = wmc(cli_db, "reconcile", str(two), "--all")
    assert code == 1 and out.count("matched 0,") == 2
    code, _, err = wmc(cli_db, "reconcile", str(two))
    assert code == 2 and "give --account ACCOUNT, or --all" in err

    camt = tmp_path / "two.xml"
    camt.write_bytes(_corpus("camt053_two_statements.xml", "HK-NOSTRO-001", "A-HKD"))
    code, out, err = wmc(cli_db, "reconcile", str(camt), "--account", "A-HKD", "--format", "json")
    assert code == 1 and json.loads(out)["statement_id"] == "HKD-20250303"
    assert "warning: " in err and "no BookgDt and no ValDt" in err

    fifo = tmp_path / "fifo.xml"
    os.mkfifo(fifo)
    refused = {
        "camt053_bogus_encoding.xml": "field 'xml encoding'",
        "camt054_notification.xml": "camt.054 debit/credit notification",
    }
    for name, expected in refused.items():
        path = CORPUS / name if (CORPUS / name).exists() else CORPUS / "refused" / name
        code, out, err = wmc(cli_db, "reconcile", str(path), "--account", "A-HKD")
        assert code == 2 and expected in err and "Traceback" not in err + out, (name, err)
    code, _, err = wmc(cli_db, "reconcile", str(fifo), "--account", "A-HKD")
    assert code == 2 and "a regular file, got a FIFO" in err
