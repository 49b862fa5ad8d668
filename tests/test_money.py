from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from moneyed import Money

from ledger.errors import AmountError, UnknownCurrency
from ledger.money import (
    CURRENCIES,
    carried_currency,
    currency,
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


@pytest.mark.parametrize("code", ["CNH", "XAU", "XXX", "ZZZ", "cny", ""])
def test_unknown_currency(code: str) -> None:
    with pytest.raises(UnknownCurrency):
        parse_amount("1.00", code)


@pytest.mark.parametrize(
    ("code", "number", "minor"),
    [("JPY", 392, 0), ("BHD", 48, 3), ("EUR", 978, 2), ("CLF", 990, 4), ("MOP", 446, 2)],
)
def test_any_iso_4217_currency_with_its_minor_units(code: str, number: int, minor: int) -> None:
    cur = currency(code)
    assert (cur.number, cur.minor_units, cur.scale) == (number, minor, 10**minor)
    assert format_amount(1, code) == ("1" if minor == 0 else "0." + "1".rjust(minor, "0"))


def test_a_currency_the_ledger_does_not_carry_is_refused_naming_it() -> None:
    assert carried_currency("HKD").code == "HKD"
    with pytest.raises(UnknownCurrency, match="currency EUR is not carried by this ledger"):
        carried_currency("EUR")
    assert carried_currency("EUR", ("EUR", "HKD")).minor_units == 2
    with pytest.raises(UnknownCurrency, match="market label"):
        carried_currency("CNH", ("CNH",))


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
