from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from moneyed import Money

from ledger.errors import AmountError, UnknownCurrency
from ledger.money import (
    CURRENCIES,
    format_amount,
    from_decimal,
    from_money,
    parse_amount,
    to_money,
)


def test_currencies_have_iso_numbers_and_minor_units() -> None:
    assert {c.code: (c.number, c.minor_units) for c in CURRENCIES.values()} == {
        "MOP": (446, 2), "HKD": (344, 2), "CNY": (156, 2), "USD": (840, 2),
    }


@pytest.mark.parametrize(
    ("text", "minor"),
    [("1234.50", 123450), ("0.01", 1), ("7", 700), ("-50000.00", -5000000), ("0.5", 50)],
)
def test_parse_amount(text: str, minor: int) -> None:
    assert parse_amount(text, "HKD") == minor


@pytest.mark.parametrize("text", ["10.005", "1e3", "1E-2", "1,000.00", " 1.00", "", ".5", "1.",
                                  "NaN", "inf", "0x10", "1_000"])
def test_parse_amount_refuses(text: str) -> None:
    with pytest.raises(AmountError):
        parse_amount(text, "MOP")


def test_over_precise_is_an_error_never_a_truncation() -> None:
    with pytest.raises(AmountError, match="3 decimals; MOP has 2"):
        parse_amount("10.005", "MOP")


def test_float_is_refused() -> None:
    with pytest.raises(AmountError):
        parse_amount(10.5, "MOP")  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["CNH", "EUR", "cny", ""])
def test_unknown_currency(code: str) -> None:
    with pytest.raises(UnknownCurrency):
        parse_amount("1.00", code)


@given(st.integers(min_value=-(10**17), max_value=10**17), st.sampled_from(sorted(CURRENCIES)))
def test_format_parse_round_trip(minor: int, code: str) -> None:
    text = format_amount(minor, code)
    assert text.split(".")[1].__len__() == CURRENCIES[code].minor_units
    assert parse_amount(text, code) == minor


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(sorted(CURRENCIES)))
def test_money_round_trip(minor: int, code: str) -> None:
    money = to_money(minor, code)
    assert isinstance(money, Money)
    assert from_money(money) == (minor, code)


def test_money_over_precise_refused() -> None:
    with pytest.raises(AmountError):
        from_money(Money(Decimal("1.005"), "HKD"))
    with pytest.raises(AmountError):
        from_decimal(Decimal("NaN"), "HKD")


@pytest.mark.parametrize("text", ["1.000000000000000000000000000001",
                                  "99999999999.999999999999999999", "0.001"])
def test_over_precise_decimals_are_refused_whatever_their_length(text: str) -> None:
    # More than 28 digits: Decimal arithmetic would round them before any check could see it.
    with pytest.raises(AmountError, match="more decimals"):
        from_money(Money(text, "HKD"))


def test_decimals_too_large_for_the_database_are_refused() -> None:
    with pytest.raises(AmountError, match="too large"):
        from_decimal(Decimal("1E+30"), "HKD")
    assert from_decimal(Decimal("1.000"), "HKD") == 100
    assert from_decimal(Decimal("-2.5"), "MOP") == -250
