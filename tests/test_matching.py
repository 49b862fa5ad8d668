"""Reconciliation: the worked example, each matching rule, and planted breaks found exactly."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InputError, IntegrityError
from ledger.money import parse_amount
from settlement.matching import (
    Break,
    LedgerLine,
    Reconciliation,
    reconcile,
    reconciliation_to_dict,
)
from settlement.statements import Statement, StatementEntry, read_statement, write_mt940

DATA = Path(__file__).parent / "data" / "statements"
DAY = date(2025, 3, 3)


def _scenario() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "worked_example.ledger.json").read_text())
    return data


def _ledger_lines(scenario: dict[str, Any]) -> list[LedgerLine]:
    code = scenario["currency"]
    return [
        LedgerLine(
            amount=parse_amount(row["amount"], code),
            currency=code,
            value_date=date.fromisoformat(row["value_date"]),
            reference=row["reference"],
            entry_id=row["entry_id"],
            kind=row["kind"],
        )
        for row in scenario["lines"]
    ]


# --- the DOMAIN.md worked example -------------------------------------------------------------


@pytest.mark.parametrize("name", ["worked_example.camt053.xml", "worked_example.mt940"])
def test_worked_example(name: str) -> None:
    scenario = _scenario()
    statement = read_statement(DATA / name)
    rec = reconcile(
        statement,
        _ledger_lines(scenario),
        parse_amount(scenario["ledger_opening"], scenario["currency"]),
    )
    assert reconciliation_to_dict(rec) == scenario["expected"]
    assert rec.matched == 2
    assert len(rec.breaks) == 4
    assert rec.difference == -32_904_999
    assert sum(b.amount for b in rec.breaks) == rec.difference
    duplicate = next(b for b in rec.breaks if b.type == "duplicate")
    assert duplicate.ledger_entry_id == "ENT-0003"  # the retry, not the first posting


def test_both_formats_give_identical_breaks_and_input_order_does_not_matter() -> None:
    scenario = _scenario()
    lines = _ledger_lines(scenario)
    opening = parse_amount(scenario["ledger_opening"], "HKD")
    from_camt = reconcile(read_statement(DATA / "worked_example.camt053.xml"), lines, opening)
    from_mt940 = reconcile(read_statement(DATA / "worked_example.mt940"), lines, opening)
    backwards = reconcile(read_statement(DATA / "worked_example.mt940"), lines[::-1], opening)
    assert from_camt == from_mt940 == backwards
    assert [b.statement_line for b in from_camt.breaks] == [85, None, 70, None]
    assert [b.statement_line for b in from_mt940.breaks] == [11, None, 9, None]


# --- the rules, one by one --------------------------------------------------------------------


def _stmt(*entries: StatementEntry, opening: int = 0) -> Statement:
    return Statement(
        account="ACC",
        currency="HKD",
        opening=opening,
        closing=opening + sum(e.amount for e in entries),
        opening_date=DAY,
        closing_date=DAY,
        entries=entries,
    )


def _s(
    amount: int,
    e2e: str | None,
    bank_ref: str,
    *,
    day: date = DAY,
    reversal: bool = False,
) -> StatementEntry:
    return StatementEntry(amount, "HKD", day, day, e2e, bank_ref, reversal)


def _l(
    amount: int, ref: str, entry_id: str, *, day: date = DAY, kind: str = "transfer"
) -> LedgerLine:
    return LedgerLine(amount, "HKD", day, ref, entry_id, kind)


def _summary(rec: Reconciliation) -> list[tuple[str, int, str | None, str | None]]:
    return [(b.type, b.amount, b.statement_ref, b.ledger_ref) for b in rec.breaks]


def test_all_matched() -> None:
    rec = reconcile(
        _stmt(_s(100, "A", "B1"), _s(-40, None, "B2")), [_l(100, "A", "1"), _l(-40, "FEE", "2")], 0
    )
    assert (rec.matched, rec.breaks, rec.difference, rec.reconciled) == (2, (), 0, True)


def test_reversal_pair_with_nothing_in_the_ledger_nets_out() -> None:
    stmt = _stmt(_s(500, "A", "B1"), _s(-500, "A", "B2", reversal=True))
    rec = reconcile(stmt, [], 0)
    assert (rec.matched, rec.breaks) == (0, ())


def test_reversal_pair_booked_and_reversed_in_the_ledger_too() -> None:
    stmt = _stmt(_s(500, "A", "B1"), _s(-500, "A", "B2", reversal=True))
    rec = reconcile(stmt, [_l(-500, "A", "2"), _l(500, "A", "1")], 0)
    assert (rec.matched, rec.breaks) == (2, ())


def test_reversal_pair_the_ledger_still_holds() -> None:
    stmt = _stmt(_s(500, "A", "B1"), _s(-500, "A", "B2", reversal=True))
    rec = reconcile(stmt, [_l(500, "A", "1")], 0)
    assert _summary(rec) == [("reversal", 500, "B2", "A")]
    assert rec.difference == 500


def test_reversal_of_an_earlier_days_entry() -> None:
    stmt = _stmt(_s(-500, "A", "B2", reversal=True))
    assert _summary(reconcile(stmt, [], 0)) == [("reversal", 500, "B2", None)]
    assert reconcile(stmt, [_l(-500, "A", "9")], 0).matched == 1
    # The ledger holds the original (booked earlier on the bank's side): not an amount mismatch.
    assert _summary(reconcile(stmt, [_l(500, "A", "1")], 0)) == [
        ("missing_in_statement", 500, None, "A"),
        ("reversal", 500, "B2", None),
    ]


def test_date_mismatch_by_reference_has_no_tolerance_and_no_amount() -> None:
    stmt = _stmt(_s(100, "A", "B1", day=DAY + timedelta(days=9)))
    rec = reconcile(stmt, [_l(100, "A", "1")], 0)
    assert _summary(rec) == [("date_mismatch", 0, "B1", "A")]
    assert rec.breaks[0].value_date == DAY + timedelta(days=9)


def test_amount_and_date_matching_without_reference() -> None:
    fee = _s(-150, None, "FEE1", day=DAY + timedelta(days=1))
    assert _summary(reconcile(_stmt(fee), [_l(-150, "F-1", "1")], 0)) == [
        ("date_mismatch", 0, "FEE1", "F-1")
    ]
    # Outside the window: two separate breaks that cancel.
    assert _summary(reconcile(_stmt(fee), [_l(-150, "F-1", "1")], 0, date_tolerance_days=0)) == [
        ("missing_in_statement", -150, None, "F-1"),
        ("missing_in_ledger", 150, "FEE1", None),
    ]
    # Nearest date first.
    near = _l(-150, "F-NEAR", "2", day=DAY + timedelta(days=1))
    far = _l(-150, "F-FAR", "3", day=DAY - timedelta(days=1))
    rec = reconcile(_stmt(fee), [far, near], 0)
    assert rec.matched == 1
    assert _summary(rec) == [("missing_in_statement", -150, None, "F-FAR")]


def test_an_unknown_end_to_end_id_is_not_matched_by_amount() -> None:
    rec = reconcile(_stmt(_s(100, "A", "B1")), [_l(100, "Z", "1")], 0)
    assert _summary(rec) == [
        ("missing_in_ledger", -100, "B1", None),
        ("missing_in_statement", 100, None, "Z"),
    ]


def test_ledger_retry_under_another_reference_is_a_duplicate() -> None:
    stmt = _stmt(_s(-700, "A", "B1"))
    rec = reconcile(stmt, [_l(-700, "A", "1"), _l(-700, "A-RETRY", "2")], 0)
    assert _summary(rec) == [("duplicate", -700, None, "A-RETRY")]


def test_fee_charged_twice_is_a_statement_duplicate() -> None:
    stmt = _stmt(_s(-150, None, "F1"), _s(-150, None, "F2"))
    rec = reconcile(stmt, [_l(-150, "FEE", "1")], 0)
    assert _summary(rec) == [("duplicate", 150, "F2", None)]


def test_reference_booked_twice_by_the_bank() -> None:
    stmt = _stmt(_s(300, "A", "B1"), _s(300, "A", "B2"))
    rec = reconcile(stmt, [_l(300, "A", "1")], 0)
    assert _summary(rec) == [("duplicate", -300, "B2", None)]


def test_opening_difference_is_a_break_of_its_own() -> None:
    stmt = _stmt(_s(100, "A", "B1"), opening=1_000)
    rec = reconcile(stmt, [_l(100, "A", "1")], 1_250)
    assert _summary(rec) == [("opening_difference", 250, None, None)]
    assert (rec.opening_difference, rec.difference, rec.matched) == (250, 250, 1)


def test_reconciliation_refuses_breaks_that_do_not_explain_the_difference() -> None:
    with pytest.raises(IntegrityError, match=r"breaks sum to 0\.00 but the difference is 1\.00"):
        Reconciliation("ACC", "HKD", 0, (), 0, 0, 100, 0)
    one = Break("missing_in_statement", 100, "HKD", None, "A", DAY)
    assert Reconciliation("ACC", "HKD", 0, (one,), 0, 0, 100, 0).difference == 100


def test_ledger_lines_in_another_currency_are_refused() -> None:
    with pytest.raises(InputError, match="ledger lines in MOP cannot be reconciled"):
        reconcile(_stmt(), [LedgerLine(1, "MOP", DAY, "A", "1", "transfer")], 0)


def test_json_shape() -> None:
    rec = reconcile(_stmt(_s(-15_000, None, "FEE")), [], 0)
    assert reconciliation_to_dict(rec) == {
        "account": "ACC",
        "matched": 0,
        "breaks": [
            {
                "type": "missing_in_ledger",
                "amount": "150.00",
                "currency": "HKD",
                "statement_ref": "FEE",
                "ledger_ref": None,
                "value_date": "2025-03-03",
            }
        ],
        "ledger_closing": "0.00",
        "statement_closing": "-150.00",
        "difference": "150.00",
    }


# --- planted breaks are found, exactly ---------------------------------------------------------

_PLANTS = ("none", "drop", "amount", "date", "duplicate", "stmt_duplicate", "reversed")
Expected = tuple[str, int, str | None, str | None]


@dataclasses.dataclass(frozen=True)
class PlantedDay:
    statement: Statement
    lines: list[LedgerLine]
    ledger_opening: int
    expected: Counter[Expected]
    clean: int  # ledger lines left as the bank booked them


@st.composite
def planted_days(draw: st.DrawFn) -> PlantedDay:
    """A ledger day, a statement derived from it, breaks planted, and the breaks expected."""
    n = draw(st.integers(0, 12))
    amounts = draw(
        st.lists(
            st.integers(-(10**9), 10**9).filter(lambda a: a != 0),
            min_size=n,
            max_size=n,
            unique=True,
        )
    )
    lines: list[LedgerLine] = []
    entries: list[StatementEntry] = []
    later: list[StatementEntry] = []
    expected: Counter[Expected] = Counter()
    clean = 0
    for i, amount in enumerate(amounts):
        ref, bank = f"E2E-{i:03d}", f"BR{i:04d}"
        day = DAY + timedelta(days=draw(st.integers(-2, 2)))
        line = LedgerLine(amount, "HKD", day, ref, f"ENT-{i:03d}", "transfer")
        entry = StatementEntry(amount, "HKD", day, day, ref, bank, False)
        lines.append(line)
        plant = draw(st.sampled_from(_PLANTS))
        if plant == "none":
            clean += 1
        elif plant == "drop":  # the bank has not booked it (yet)
            expected[("missing_in_statement", amount, None, ref)] += 1
            continue
        elif plant == "amount":
            delta = draw(st.integers(-5, 5).filter(lambda d: d != 0))
            entry = dataclasses.replace(entry, amount=amount + delta)
            expected[("amount_mismatch", -delta, bank, ref)] += 1
        elif plant == "date":
            shifted = day + timedelta(days=draw(st.integers(-5, 5).filter(lambda d: d != 0)))
            entry = dataclasses.replace(entry, value_date=shifted, booking_date=shifted)
            expected[("date_mismatch", 0, bank, ref)] += 1
        elif plant == "duplicate":  # posted twice in the ledger by a retry
            clean += 1
            lines.append(dataclasses.replace(line, entry_id=f"ENT-{i:03d}-RETRY"))
            expected[("duplicate", amount, None, ref)] += 1
        elif plant == "stmt_duplicate":  # booked twice by the bank
            clean += 1
            later.append(dataclasses.replace(entry, bank_ref=f"{bank}-2"))
            expected[("duplicate", -amount, f"{bank}-2", None)] += 1
        elif plant == "reversed":  # the bank booked it and reversed it the same day
            later.append(
                dataclasses.replace(entry, amount=-amount, bank_ref=f"{bank}-R", reversal=True)
            )
            expected[("reversal", amount, f"{bank}-R", ref)] += 1
        entries.append(entry)
    # Fees only on the statement, with amounts no ledger line has.
    for j in range(draw(st.integers(0, 3))):
        fee = -(10**10 + j)
        entries.append(StatementEntry(fee, "HKD", DAY, DAY, None, f"FEE{j}", False, "bank fee"))
        expected[("missing_in_ledger", -fee, f"FEE{j}", None)] += 1
    # Fees booked on both sides, the bank's without end-to-end id: matched by amount and date.
    for j in range(draw(st.integers(0, 3))):
        fee = -(2 * 10**10 + j)
        shift = draw(st.integers(-2, 2))
        lines.append(LedgerLine(fee, "HKD", DAY, f"FEE-L{j}", f"FEE-ENT-{j}", "fee"))
        when = DAY + timedelta(days=shift)
        entries.append(StatementEntry(fee, "HKD", when, when, None, f"LFEE{j}", False, "fee"))
        if shift:
            expected[("date_mismatch", 0, f"LFEE{j}", f"FEE-L{j}")] += 1
        else:
            clean += 1
    # A pair the bank booked and reversed that the ledger never had: nets out, no break.
    if draw(st.booleans()):
        entries.append(StatementEntry(777, "HKD", DAY, DAY, "GHOST", "G1", False))
        later.append(StatementEntry(-777, "HKD", DAY, DAY, "GHOST", "G2", True))
    # Any order, except that a reversal or a second booking comes after the first, as on a real
    # statement (the first booking is the original, the later one the duplicate).
    ordered = draw(st.permutations(entries)) + draw(st.permutations(later))
    opening = draw(st.integers(-(10**12), 10**12))
    statement = Statement(
        account="ACC",
        currency="HKD",
        opening=opening,
        closing=opening + sum(e.amount for e in ordered),
        opening_date=DAY,
        closing_date=DAY,
        entries=tuple(ordered),
    )
    ledger_opening = opening
    if draw(st.booleans()):
        ledger_opening += draw(st.integers(-(10**6), 10**6).filter(lambda d: d != 0))
        expected[("opening_difference", ledger_opening - opening, None, None)] += 1
    return PlantedDay(statement, draw(st.permutations(lines)), ledger_opening, expected, clean)


@settings(max_examples=200, deadline=None)
@given(planted_days())
def test_planted_breaks_are_found_exactly(day: PlantedDay) -> None:
    rec = reconcile(day.statement, day.lines, day.ledger_opening)
    found = Counter((b.type, b.amount, b.statement_ref, b.ledger_ref) for b in rec.breaks)
    assert found == day.expected
    assert rec.matched == day.clean
    assert sum(b.amount for b in rec.breaks) == rec.difference
    assert rec.ledger_closing == day.ledger_opening + sum(x.amount for x in day.lines)
    assert rec.statement_closing == day.statement.closing
    # Neither the order of the ledger lines nor the statement's format changes anything.
    assert reconcile(day.statement, day.lines[::-1], day.ledger_opening) == rec
    again = read_statement(write_mt940(day.statement).encode(), name="planted.sta")
    assert reconcile(again, day.lines, day.ledger_opening) == rec
