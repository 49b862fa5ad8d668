"""Every amount and every total the ledger holds stays within ``ledger.money.MAX_MINOR``.

Amounts over the bound are refused when parsed (a file's ``FILE:LINE: field 'amount'``, an API
``Money``: ``AmountError``); an instruction that would take a currency's total over it is
rejected (``balance_overflow``), counting earlier instructions of the batch and accounts allowed
to overdraw; a conversion whose bought amount is over it is ``amount_too_large``. The reports
still print afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from moneyed import Money

from ledger.errors import AmountError, InputError, LedgerError
from ledger.money import MAX_MINOR, check_bound, format_amount, from_decimal, parse_amount
from tests.settlement_builders import BANKS, INSTRUCTION_COLUMNS, _accounts, ins, write_csv
from wmc_ledger import FixedClock, Instruction, Ledger

MAX_HKD = format_amount(MAX_MINOR, "HKD")  # "9999999999999999.99"
HALF = format_amount(MAX_MINOR // 2 + 1, "HKD")


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    with Ledger.open(db_url, clock=FixedClock("2025-03-03T20:00:00+08:00")).init() as opened:
        opened.load_banks(BANKS)
        opened.load_accounts([
            *_accounts(),
            {"account": "A-NOSTRO-USD", "bank_id": "A", "type": "asset", "currency": "USD",
             "allow_overdraft": "true"},
        ])
        opened.load_rates([{"base": "USD", "quote": "HKD", "bid": "7.7750", "ask": "7.7850",
                            "as_of": "2025-03-03T09:15:00+08:00"}])
        yield opened


def nothing_posted(ledger: Ledger) -> bool:
    return not any(b.debits.amount or b.credits.amount for b in ledger.balances())


# -- parsing --------------------------------------------------------------------------------


def test_the_bound_is_eighteen_digits_of_minor_units_within_int64() -> None:
    assert MAX_MINOR == 10**18 - 1
    assert 2 * MAX_MINOR < 2**63 - 1  # a total plus one more bounded amount never overflows
    assert parse_amount(MAX_HKD, "HKD") == MAX_MINOR
    assert parse_amount("-" + MAX_HKD, "HKD") == -MAX_MINOR
    assert parse_amount("0001.00", "HKD") == 100


@pytest.mark.parametrize("text", ["10000000000000000.00", "10000000000000000", "1" * 19])
def test_an_amount_over_the_bound_is_refused_naming_the_bound(text: str) -> None:
    with pytest.raises(AmountError, match=f"at most {MAX_HKD}"):
        parse_amount(text, "HKD")


def test_thousands_of_digits_are_refused_before_any_conversion() -> None:
    started = time.perf_counter()
    for text in ("9" * 4301, "9" * 100_000 + ".00", "1." + "0" * 5000):
        with pytest.raises(AmountError, match="at most"):
            parse_amount(text, "HKD")
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("text", ["+5.00", " 5.00", "5.00 ", "5,000.00", "1e3", "1.", ".5",
                                  "٥.00", "--5.00", "5.0.0", ""])
def test_only_plain_decimal_notation_is_accepted(text: str) -> None:
    with pytest.raises(AmountError, match=r"decimal amount like 1234\.50"):
        parse_amount(text, "HKD")


@pytest.mark.parametrize("value", ["1E16", "1E999999", "-1E17", "99999999999999999.99"])
def test_a_decimal_over_the_bound_is_refused(value: str) -> None:
    with pytest.raises(AmountError, match="too large"):
        from_decimal(Decimal(value), "HKD")


def test_check_bound() -> None:
    assert check_bound(MAX_MINOR, "HKD") == MAX_MINOR
    with pytest.raises(AmountError, match=f"at most {MAX_HKD} HKD"):
        check_bound(MAX_MINOR + 1, "HKD")


# -- the file and the API -------------------------------------------------------------------


def test_a_file_with_an_amount_over_the_bound_is_refused_naming_line_and_field(
    ledger: Ledger, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "day.csv", [
        ins("I1", "transfer", "A-NOSTRO-HKD", "A-CUST-HKD", "100.00"),
        ins("I2", "transfer", "A-NOSTRO-HKD", "A-CUST-HKD", "1" * 4400),
        ins("I3", "transfer", "A-NOSTRO-HKD", "A-CUST-HKD", "+5.00"),
    ], INSTRUCTION_COLUMNS)
    with pytest.raises(InputError) as err:
        ledger.settle(path)
    assert [(p.line, p.field) for p in err.value.problems] == [(3, "amount"), (4, "amount")]
    assert f"{path}:3: field 'amount': at most {MAX_HKD}" in str(err.value)
    assert ledger.batches() == [] and nothing_posted(ledger)


def test_money_over_the_bound_is_an_amount_error_at_the_api(ledger: Ledger) -> None:
    with pytest.raises(AmountError, match="too large"):
        ledger.transfer("T1", "A-NOSTRO-HKD", "A-CUST-HKD", Money("1E16", "HKD"))
    with pytest.raises(AmountError, match="too large"):
        ledger.convert("C1", "A-NOSTRO-USD", "A-NOSTRO-HKD", Money("1E999999", "USD"))
    with pytest.raises(LedgerError):
        ledger.settle([Instruction("I1", "transfer", "A-NOSTRO-HKD", "A-CUST-HKD",
                                   Money("10000000000000000.00", "HKD"), "2025-03-03")])
    assert nothing_posted(ledger) and ledger.batches() == []


# -- the judge ------------------------------------------------------------------------------


def test_a_currency_total_past_the_bound_is_a_rejection_counting_the_batch(
    ledger: Ledger, tmp_path: Path
) -> None:
    rows = [
        ins("I1", "transfer", "A-NOSTRO-HKD", "A-CUST-HKD", HALF),  # allowed to overdraw
        ins("I2", "transfer", "B-NOSTRO-HKD", "B-CUST-HKD", HALF),  # the sum is one over
        ins("I3", "transfer", "A-NOSTRO-MOP", "A-CUST-MOP", HALF, "MOP"),  # another currency
    ]
    batch = ledger.settle(write_csv(tmp_path / "day.csv", rows, INSTRUCTION_COLUMNS))
    assert batch.codes == {"I2": "balance_overflow"}
    [rejection] = batch.rejections
    assert MAX_HKD in rejection.message and HALF in rejection.message
    # Every report still prints, and a later batch is judged the same way.
    assert ledger.balance("A-CUST-HKD") == Money(HALF, "HKD")
    assert {t.currency: t.debits for t in ledger.trial_balance().currencies}["HKD"] == Money(
        HALF, "HKD")
    rest = format_amount(MAX_MINOR - (MAX_MINOR // 2 + 1), "HKD")
    assert ledger.transfer("T2", "B-NOSTRO-HKD", "B-CUST-HKD", Money(rest, "HKD")).ok
    over = ledger.transfer("T3", "B-NOSTRO-HKD", "B-CUST-HKD", Money("0.01", "HKD"))
    assert over.code == "balance_overflow"
    # A reversal adds to the gross totals too: it is refused, not half done.
    assert ledger.reverse("T2", new_id="T2-R", value_date="2025-03-03").code == (
        "balance_overflow")
    assert ledger.trial_balance().currencies
    assert ledger.audit().ok


def test_a_conversion_buying_more_than_the_bound_is_amount_too_large(ledger: Ledger) -> None:
    # 2e15 USD at about 7.78 buys about 1.56e16 HKD: the sold amount is within the bound, the
    # bought one is not.
    result = ledger.convert("C1", "A-NOSTRO-USD", "A-NOSTRO-HKD", Money("2000000000000000.00",
                                                                         "USD"))
    assert result.code == "amount_too_large"
    assert nothing_posted(ledger)
