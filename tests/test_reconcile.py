"""Reconciliation against a real ledger (SQLite and PostgreSQL): the DOMAIN.md worked example,
the period/opening rule, statements written from the ledger with planted breaks found exactly."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine

from ledger.entries import EntrySpec, TransferSpec
from ledger.errors import InputError, NotFound
from ledger.money import parse_amount
from ledger.posting import OK
from settlement.matching import reconciliation_to_dict
from settlement.reconcile import (
    AccountReconciliation,
    BankFee,
    ChangeAmount,
    DropLine,
    DuplicateLine,
    Plant,
    ShiftValueDate,
    ledger_balance,
    ledger_lines,
    reconcile_statement,
    reconciliation_report,
    statement_from_ledger,
    statement_period,
)
from settlement.settings import ReconciliationSettings
from settlement.statements import Statement, StatementEntry, read_statement, write_mt940
from tests.ledger_builders import post, seed

DATA = Path(__file__).parent / "data" / "statements"
DAY = date(2025, 3, 3)  # a Monday
NOSTRO = "A-NOSTRO-HKD"  # an asset: a statement credit raises it (debit-normal)
OTHER = "B-NOSTRO-HKD"  # counterparty; an asset that allows overdraft
WORKED_ACCOUNT = "012-345678-001"  # the worked example's statements' account id
SETTINGS = ReconciliationSettings(date_tolerance_days=2, cnh_as_cny=False,
                                  statement_max_bytes=1_000_000,
                                  statement_accounts=((WORKED_ACCOUNT, NOSTRO),))


def spec(eid: str, debit: str, credit: str, amount: int, *, ref: str | None = None,
         kind: str = "transfer", day: date = DAY, currency: str = "HKD") -> EntrySpec:
    return EntrySpec(eid, kind, day, (TransferSpec(debit, credit, amount, currency,
                                                    reference=ref),))


def into(account: str, eid: str, amount: int, *, ref: str | None = None, kind: str = "transfer",
         day: date = DAY) -> EntrySpec:
    """An entry that raises debit-normal ``account`` by ``amount`` (debits it)."""
    return spec(eid, account, OTHER, amount, ref=ref, kind=kind, day=day)


def out_of(account: str, eid: str, amount: int, *, ref: str | None = None,
           day: date = DAY) -> EntrySpec:
    return spec(eid, OTHER, account, amount, ref=ref, day=day)


def post_ok(engine: Engine, entries: Sequence[EntrySpec]) -> None:
    results = post(engine, entries)
    assert [r.code for r in results] == [OK] * len(entries), results


def read(engine: Engine, work: Any) -> Any:
    with engine.connect() as conn:
        return work(conn)


# --- the DOMAIN.md worked example, in the real ledger -------------------------------------------


def worked_example_ledger(engine: Engine) -> None:
    seed(engine)
    post_ok(engine, [
        # The balance the statement opens with, as of the day before.
        into(NOSTRO, "OPEN-0001", 100_000_000, day=DAY - timedelta(days=1)),
        into(NOSTRO, "ENT-0001", 52_920_000, ref="E2E-001"),
        out_of(NOSTRO, "ENT-0002", 52_920_000, ref="E2E-002"),
        out_of(NOSTRO, "ENT-0003", 52_920_000, ref="E2E-002"),  # the retry, under another id
        into(NOSTRO, "ENT-0004", 1_314_743, ref="E2E-005", kind="convert"),
        into(NOSTRO, "ENT-0005", 20_000_000, ref="E2E-006"),
    ])


def scenario() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "worked_example.ledger.json").read_text())
    return data


def test_ledger_lines_of_the_worked_example(engine: Engine) -> None:
    worked_example_ledger(engine)
    lines = read(engine, lambda c: ledger_lines(c, NOSTRO, DAY, DAY))
    expected = scenario()["lines"]
    assert [(x.entry_id, x.reference, x.amount, x.value_date.isoformat(), x.kind)
            for x in lines] == [
        (r["entry_id"], r["reference"], parse_amount(r["amount"], "HKD"), r["value_date"],
         r["kind"]) for r in expected
    ]
    assert read(engine, lambda c: ledger_balance(c, NOSTRO, DAY - timedelta(days=1))) == (
        100_000_000
    )
    assert read(engine, lambda c: ledger_balance(c, NOSTRO, DAY)) == 68_394_743


@pytest.mark.parametrize("name", ["worked_example.camt053.xml", "worked_example.mt940"])
def test_worked_example(engine: Engine, name: str) -> None:
    worked_example_ledger(engine)
    rec = read(engine, lambda c: reconcile_statement(c, DATA / name, account=NOSTRO,
                                                     settings=SETTINGS))
    assert isinstance(rec, AccountReconciliation)
    expected = dict(scenario()["expected"], account=NOSTRO)
    assert reconciliation_to_dict(rec) == expected
    assert rec.matched == 2
    assert sorted(b.type for b in rec.breaks) == [
        "amount_mismatch", "duplicate", "missing_in_ledger", "missing_in_statement"]
    assert rec.difference == -32_904_999 == sum(b.amount for b in rec.breaks)
    assert next(b for b in rec.breaks if b.type == "duplicate").ledger_entry_id == "ENT-0003"
    assert rec.statement_account == "012-345678-001"
    assert (rec.period_start, rec.period_end) == (DAY, DAY)
    assert rec.ledger_opening == rec.statement_opening == 100_000_000
    assert rec.source == str(DATA / name)


def test_worked_example_same_result_from_both_formats_and_from_bytes(engine: Engine) -> None:
    worked_example_ledger(engine)

    def both(conn: Connection) -> list[AccountReconciliation]:
        return [
            reconcile_statement(conn, DATA / "worked_example.camt053.xml", account=NOSTRO,
                                settings=SETTINGS),
            reconcile_statement(conn, DATA / "worked_example.mt940", account=NOSTRO,
                                settings=SETTINGS),
            reconcile_statement(conn, (DATA / "worked_example.mt940").read_bytes(),
                                account=NOSTRO, name="upload.mt940", settings=SETTINGS),
        ]

    camt, mt940, upload = read(engine, both)
    # Equality ignores provenance (the file name); breaks and figures are the same.
    assert camt == mt940 == upload
    assert upload.source == "upload.mt940"


def test_report_dict_has_the_contract_keys_then_both_accounts(engine: Engine) -> None:
    worked_example_ledger(engine)
    rec = read(engine, lambda c: reconcile_statement(
        c, DATA / "worked_example.mt940", account=NOSTRO, settings=SETTINGS))
    out = reconciliation_report(rec)
    assert list(out)[:6] == ["account", "matched", "breaks", "ledger_closing",
                             "statement_closing", "difference"]
    assert out["account"] == NOSTRO
    assert out["statement_account"] == "012-345678-001"
    assert out["period_start"] == out["period_end"] == "2025-03-03"
    assert out["ledger_opening"] == out["statement_opening"] == "1000000.00"
    assert out["difference"] == "-329049.99"


# --- errors --------------------------------------------------------------------------------------


def test_unknown_account_is_not_found(engine: Engine) -> None:
    seed(engine)
    with pytest.raises(NotFound, match="NO-SUCH"):
        read(engine, lambda c: reconcile_statement(
            c, DATA / "worked_example.mt940", account="NO-SUCH"))
    with pytest.raises(NotFound):
        read(engine, lambda c: ledger_lines(c, "NO-SUCH", DAY, DAY))
    with pytest.raises(NotFound):
        read(engine, lambda c: ledger_balance(c, "NO-SUCH", DAY))
    with pytest.raises(NotFound):
        read(engine, lambda c: statement_from_ledger(c, "NO-SUCH", DAY))


def test_statement_in_another_currency_is_refused_naming_the_file(engine: Engine) -> None:
    seed(engine)
    path = DATA / "worked_example.camt053.xml"
    with pytest.raises(InputError) as err:
        read(engine, lambda c: reconcile_statement(c, path, account="A-NOSTRO-CNY",
                                                   force=True))
    message = str(err.value)
    assert str(path) in message and "HKD" in message and "CNY" in message
    assert err.value.problems[0].field == "currency"


def test_settings_reach_the_reader(engine: Engine) -> None:
    seed(engine)
    cnh = (DATA / "worked_example.mt940").read_bytes().replace(b"HKD", b"CNH")
    with pytest.raises(InputError, match="CNH"):
        read(engine, lambda c: reconcile_statement(c, cnh, account="A-NOSTRO-CNY",
                                                   settings=SETTINGS, force=True))
    mapped = ReconciliationSettings(2, True, 1_000_000, ((WORKED_ACCOUNT, "A-NOSTRO-CNY"),))
    rec = read(engine, lambda c: reconcile_statement(c, cnh, account="A-NOSTRO-CNY",
                                                     settings=mapped))
    assert rec.currency == "CNY"
    tiny = ReconciliationSettings(2, False, 100)
    with pytest.raises(InputError, match="at most 100 bytes"):
        read(engine, lambda c: reconcile_statement(c, DATA / "worked_example.mt940",
                                                   account=NOSTRO, settings=tiny))


# --- signs and references ------------------------------------------------------------------------


def test_lines_are_signed_on_the_normal_side_and_filtered_by_value_date(engine: Engine) -> None:
    seed(engine)
    cust = "A-CUST-HKD"  # a liability: a credit raises it
    post_ok(engine, [
        spec("E-1", OTHER, cust, 100_000, ref="PAY-1"),  # credit to the liability: +
        spec("E-2", cust, OTHER, 30_000),  # debit to it, no reference: -, entry id as reference
        spec("E-3", OTHER, cust, 5_000, day=DAY + timedelta(days=1)),  # outside the period
        spec("E-4", OTHER, cust, 7_000, day=DAY - timedelta(days=1)),  # before it
    ])
    lines = read(engine, lambda c: ledger_lines(c, cust, DAY, DAY))
    assert [(x.entry_id, x.reference, x.amount) for x in lines] == [
        ("E-1", "PAY-1", 100_000), ("E-2", "E-2", -30_000)]
    # The asset on the other side is debited by E-1 and E-4: its normal side rises too.
    other = read(engine, lambda c: ledger_lines(c, OTHER, DAY - timedelta(days=1), DAY))
    assert [(x.entry_id, x.amount) for x in other] == [
        ("E-4", 7_000), ("E-1", 100_000), ("E-2", -30_000)]
    assert read(engine, lambda c: ledger_balance(c, cust, DAY)) == 77_000


def test_a_multi_transfer_entry_gives_a_line_per_transfer(engine: Engine) -> None:
    seed(engine)
    entry = EntrySpec("FX-1", "convert", DAY, (
        TransferSpec(NOSTRO, OTHER, 1_000, "HKD", reference="LEG-1"),
        TransferSpec(OTHER, NOSTRO, 400, "HKD", reference="LEG-2"),
        TransferSpec("C-NOSTRO-HKD", OTHER, 50, "HKD"),  # not ours
    ))
    post_ok(engine, [entry])
    lines = read(engine, lambda c: ledger_lines(c, NOSTRO, DAY, DAY))
    assert [(x.reference, x.amount, x.kind) for x in lines] == [
        ("LEG-1", 1_000, "convert"), ("LEG-2", -400, "convert")]


# --- the period and the opening ------------------------------------------------------------------

FRIDAY = date(2025, 2, 28)


def weekend_ledger(engine: Engine) -> None:
    seed(engine)
    post_ok(engine, [
        into(NOSTRO, "OPEN", 100_000_000, day=FRIDAY - timedelta(days=1)),
        into(NOSTRO, "FRI-1", 500_000, day=FRIDAY),
        into(NOSTRO, "MON-1", 200_000, day=DAY),
    ])


def mt940(opening: str, entries: Sequence[str], closing: str) -> bytes:
    return "\n".join([":20:STMT250303", ":25:012-345678-001", ":28C:63/1",
                      f":60F:{opening}", *entries, f":62F:{closing}", ""]).encode()


def test_opening_dated_the_previous_closing_day(engine: Engine) -> None:
    """:60F: repeats Friday's closing, dated Friday: the statement covers Sat-Mon, and the
    ledger opening is its balance at the end of Friday."""
    weekend_ledger(engine)
    body = mt940("C250228HKD1005000,00", [":61:2503030303C2000,00NTRFMON-1//BR1"],
                 "C250303HKD1007000,00")
    rec = read(engine, lambda c: reconcile_statement(c, body, account=NOSTRO,
                                                     settings=SETTINGS))
    assert (rec.period_start, rec.period_end) == (date(2025, 3, 1), DAY)
    assert rec.ledger_opening == rec.statement_opening == 100_500_000
    assert rec.reconciled and rec.matched == 1


def test_opening_dated_start_of_day_over_several_days(engine: Engine) -> None:
    """An entry booked on the opening date: the opening is that day's start-of-day balance."""
    weekend_ledger(engine)
    body = mt940("C250228HKD1000000,00", [":61:2502280228C5000,00NTRFFRI-1//BR1",
                                          ":61:2503030303C2000,00NTRFMON-1//BR2"],
                 "C250303HKD1007000,00")
    rec = read(engine, lambda c: reconcile_statement(c, body, account=NOSTRO,
                                                     settings=SETTINGS))
    assert (rec.period_start, rec.period_end) == (FRIDAY, DAY)
    assert rec.ledger_opening == rec.statement_opening == 100_000_000
    assert rec.reconciled and rec.matched == 2


def test_a_carried_forward_difference_is_an_opening_break(engine: Engine) -> None:
    weekend_ledger(engine)
    # The bank's Friday closing lacks FRI-1 (yesterday's unresolved timing difference).
    body = mt940("C250228HKD1000000,00", [":61:2503030303C2000,00NTRFMON-1//BR1"],
                 "C250303HKD1002000,00")
    rec = read(engine, lambda c: reconcile_statement(c, body, account=NOSTRO,
                                                     settings=SETTINGS))
    assert [(b.type, b.amount) for b in rec.breaks] == [("opening_difference", 500_000)]
    assert rec.difference == 500_000


def test_statement_period_rule() -> None:
    def stmt(opening: date, closing: date, booked: Sequence[date] = ()) -> Statement:
        entries = tuple(StatementEntry(100, "HKD", d, d, f"R{i}", None)
                        for i, d in enumerate(booked))
        return Statement("X", "HKD", 0, 100 * len(booked), opening, closing, entries)

    assert statement_period(stmt(DAY, DAY)) == (DAY, DAY)
    assert statement_period(stmt(DAY, DAY, [DAY])) == (DAY, DAY)
    assert statement_period(stmt(FRIDAY, DAY, [DAY])) == (date(2025, 3, 1), DAY)
    assert statement_period(stmt(FRIDAY, DAY)) == (date(2025, 3, 1), DAY)
    assert statement_period(stmt(FRIDAY, DAY, [FRIDAY, DAY])) == (FRIDAY, DAY)
    with pytest.raises(InputError, match="opening_date"):
        statement_period(stmt(DAY, FRIDAY))


def test_opening_after_closing_is_refused(engine: Engine) -> None:
    seed(engine)
    body = write_mt940(Statement("X", "HKD", 0, 0, DAY, FRIDAY, ()))
    with pytest.raises(InputError, match="opening balance dated on or before"):
        read(engine, lambda c: reconcile_statement(c, body.encode(), account=NOSTRO,
                                                   force=True))


# --- statements from the ledger, clean and with planted breaks -----------------------------------


def busy_day(engine: Engine) -> None:
    seed(engine)
    post_ok(engine, [
        into(NOSTRO, "OPEN", 250_000_000, day=DAY - timedelta(days=3)),
        into(NOSTRO, "I-001", 12_345_600, ref="P-001"),
        out_of(NOSTRO, "I-002", 4_000_000, ref="P-002"),
        into(NOSTRO, "I-003", 1_314_743, ref="P-003", kind="convert"),
        out_of(NOSTRO, "I-004", 99_999),  # no reference: the entry id is the reference
        into(NOSTRO, "I-005", 20_000_000, ref="P-005"),
        into(NOSTRO, "I-006", 777_700, ref="P-006"),
        into(NOSTRO, "TOMORROW", 5_000_000, day=DAY + timedelta(days=1)),
    ])


@pytest.mark.parametrize("fmt", ["camt.053", "mt940"])
def test_a_clean_day_has_no_breaks(engine: Engine, fmt: Any) -> None:
    busy_day(engine)

    def work(conn: Connection) -> tuple[Statement, Any, AccountReconciliation]:
        statement, body = statement_from_ledger(conn, NOSTRO, DAY, fmt=fmt)
        data = body if isinstance(body, bytes) else body.encode()
        return statement, body, reconcile_statement(conn, data, account=NOSTRO)

    statement, body, rec = read(engine, work)
    assert isinstance(body, bytes if fmt == "camt.053" else str)
    assert read_statement(body if isinstance(body, bytes) else body.encode()) == statement
    assert statement.opening == 250_000_000 and statement.opening_date == DAY
    assert [e.end_to_end_id for e in statement.entries] == [
        "P-001", "P-002", "P-003", "I-004", "P-005", "P-006"]
    assert [e.bank_ref for e in statement.entries][:2] == ["BANKREF-000001", "BANKREF-000002"]
    assert rec.reconciled and rec.matched == 6 and rec.difference == 0
    assert rec.ledger_closing == statement.closing == read(
        engine, lambda c: ledger_balance(c, NOSTRO, DAY))


PLANTS: dict[str, tuple[Plant, tuple[str, int, str | None]]] = {
    "drop": (DropLine("P-005"), ("missing_in_statement", 20_000_000, "P-005")),
    "fee": (BankFee(15_000, "CHATS fee"), ("missing_in_ledger", 15_000, None)),
    "amount": (ChangeAmount("P-003", -1), ("amount_mismatch", 1, "P-003")),
    "date": (ShiftValueDate("P-002", 1), ("date_mismatch", 0, "P-002")),
    "duplicate": (DuplicateLine("P-006"), ("duplicate", -777_700, None)),
    "by_entry_id": (DropLine("I-004"), ("missing_in_statement", -99_999, "I-004")),
}


def planted_breaks(engine: Engine, plants: Sequence[Plant], fmt: Any
                   ) -> tuple[AccountReconciliation, list[tuple[str, int, str | None]]]:
    def work(conn: Connection) -> AccountReconciliation:
        _, body = statement_from_ledger(conn, NOSTRO, DAY, plant=plants, fmt=fmt)
        data = body if isinstance(body, bytes) else body.encode()
        return reconcile_statement(conn, data, account=NOSTRO, settings=SETTINGS)

    rec = read(engine, work)
    return rec, sorted((b.type, b.amount, b.ledger_ref) for b in rec.breaks)


@pytest.mark.parametrize("fmt", ["camt.053", "mt940"])
@pytest.mark.parametrize("which", sorted(PLANTS))
def test_each_planted_break_is_found_exactly(engine: Engine, which: str, fmt: Any) -> None:
    busy_day(engine)
    plant, expected = PLANTS[which]
    rec, found = planted_breaks(engine, [plant], fmt)
    assert found == [expected]
    assert type(plant).break_type == expected[0]
    assert rec.difference == expected[1]


@pytest.mark.parametrize("fmt", ["camt.053", "mt940"])
def test_all_planted_breaks_at_once(engine: Engine, fmt: Any) -> None:
    busy_day(engine)
    plants = [p for p, _ in PLANTS.values()]
    rec, found = planted_breaks(engine, plants, fmt)
    assert found == sorted(e for _, e in PLANTS.values())
    assert rec.matched == 6 - 4  # P-001 and P-006 (its first showing) match cleanly
    assert rec.difference == sum(e[1] for _, e in PLANTS.values())


def test_plants_naming_one_reference_take_its_lines_in_turn(engine: Engine) -> None:
    worked_example_ledger(engine)
    plants = [DropLine("E2E-002"), DropLine("E2E-002")]
    _, found = planted_breaks(engine, plants, "camt.053")
    assert found == [("missing_in_statement", -52_920_000, "E2E-002")] * 2
    with pytest.raises(InputError, match="no \\(further\\) line 'E2E-002'"):
        planted_breaks(engine, [*plants, DropLine("E2E-002")], "camt.053")


def test_bad_plants_are_refused(engine: Engine) -> None:
    busy_day(engine)
    for plant in (ChangeAmount("P-001", 0), ShiftValueDate("P-001", 0), BankFee(0),
                  DropLine("NOT-THERE")):
        with pytest.raises(InputError):
            read(engine, lambda c, p=plant: statement_from_ledger(c, NOSTRO, DAY, plant=[p]))


def test_mt940_refuses_references_it_cannot_carry(engine: Engine) -> None:
    seed(engine)
    post_ok(engine, [into(NOSTRO, "I-1", 100, ref="A-REFERENCE-LONGER-THAN-16")])
    with pytest.raises(InputError, match="16 characters"):
        read(engine, lambda c: statement_from_ledger(c, NOSTRO, DAY, fmt="mt940"))
    statement, _ = read(engine, lambda c: statement_from_ledger(
        c, NOSTRO, DAY, statement_account="HK00BANK0123456789012"))
    assert statement.account == "HK00BANK0123456789012"
