"""Quotes, rate parsing, rate resolution (direct, reverse, cross) and staleness: fx.quotes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fx.quotes import (
    NoRate,
    Quote,
    QuoteCurrencyError,
    RateError,
    StaleRate,
    check_fresh,
    check_rate_fresh,
    dealt_rate,
    fresh_until,
    latest_quotes,
    make_quote,
    parse_as_of,
    parse_rate,
    peg_quote,
    quote_errors,
    resolve,
)
from ledger.errors import LedgerError, UnknownCurrency

UTC8 = timezone(timedelta(hours=8))
T0 = datetime(2025, 3, 3, 9, 15, tzinfo=UTC8)  # a Monday


def q(
    base: str, quote: str, bid: str, ask: str, as_of: datetime = T0, book: str = "default"
) -> Quote:
    return make_quote(base, quote, bid, ask, as_of, source="test", book=book)


CNY_HKD = q("CNY", "HKD", "1.0584", "1.0688")


# --- parsing rates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("1.0584", "1.0584"), ("7", "7"), ("0.5", "0.5"), ("007.80", "7.80"), ("1.03", "1.03")],
)
def test_parse_rate_accepts_plain_decimals(text: str, value: str) -> None:
    assert parse_rate(text) == Decimal(value)


@pytest.mark.parametrize(
    "text",
    [
        "0", "0.0000", "-1.05", "+1.05", "1e0", "1E0", "1.05e-2", " 1.05", "1.05 ", "1.05\n",
        "1,05", "1_000.5", "", ".5", "1.", "NaN", "Infinity", "١.٥", "0x10",
        "1." + "0" * 18 + "1",  # 19 decimals
        "1" * 13,  # 13 integer digits
    ],
)  # fmt: skip
def test_parse_rate_refuses_anything_else(text: str) -> None:
    with pytest.raises(RateError) as info:
        parse_rate(text, "bid")
    assert info.value.field == "bid"
    assert "expected" in info.value.expected
    assert isinstance(info.value, LedgerError) and isinstance(info.value, ValueError)


def test_parse_rate_refuses_a_float() -> None:
    with pytest.raises(RateError) as info:
        parse_rate(1.0584, "ask")  # type: ignore[arg-type]
    assert info.value.field == "ask"


def test_parse_as_of_needs_an_offset() -> None:
    assert parse_as_of("2025-03-03T09:15:00+08:00") == T0
    with pytest.raises(RateError) as info:
        parse_as_of("2025-03-03T09:15:00")
    assert info.value.field == "as_of"
    with pytest.raises(RateError):
        parse_as_of("3 March 2025")


# --- building quotes -------------------------------------------------------------------------


def test_make_quote_from_text_row() -> None:
    quote = make_quote("CNY", "HKD", "1.0584", "1.0688", "2025-03-03T09:15:00+08:00", "BOCHK")
    assert quote == Quote(
        "default", "CNY", "HKD", Decimal("1.0584"), Decimal("1.0688"), T0, "BOCHK"
    )
    assert quote.pair == ("CNY", "HKD")


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"ask": "1.0500"}, "ask"),  # ask < bid
        ({"bid": "0"}, "bid"),
        ({"bid": "-1.0584"}, "bid"),
        ({"ask": "-1.0688"}, "ask"),
        ({"ask": "1e0"}, "ask"),
        ({"bid": "1.0584e0"}, "bid"),
        ({"bid": 1.0584}, "bid"),  # a float never gets in
        ({"bid": Decimal("NaN")}, "bid"),
        ({"as_of": "2025-03-03T09:15:00"}, "as_of"),
        ({"as_of": datetime(2025, 3, 3, 9, 15)}, "as_of"),
        ({"base": "XYZ"}, "base"),
        ({"base": "CNH"}, "base"),
        ({"quote": "CNH"}, "quote"),
        ({"quote": "hkd"}, "quote"),
        ({"quote": "CNY"}, "quote"),  # base == quote
        ({"book": ""}, "book"),
    ],
)
def test_bad_quote_names_its_field(row: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "base": "CNY", "quote": "HKD", "bid": "1.0584", "ask": "1.0688",
        "as_of": "2025-03-03T09:15:00+08:00", "source": "x", "book": "CNH",
    } | row  # fmt: skip
    with pytest.raises(RateError) as info:
        make_quote(**args)  # type: ignore[arg-type]
    assert info.value.field == field
    assert str(info.value).startswith(f"field '{field}': ")


def test_cnh_is_a_book_never_a_currency() -> None:
    assert make_quote("CNY", "HKD", "1.05", "1.06", T0, book="CNH").book == "CNH"
    with pytest.raises(UnknownCurrency) as info:  # the ledger's own error, with the field
        make_quote("CNH", "HKD", "1.05", "1.06", T0)
    assert isinstance(info.value, QuoteCurrencyError)
    assert info.value.field == "base"
    assert "CNH" in str(info.value)


def test_quote_errors_lists_every_problem_in_column_order() -> None:
    errors = quote_errors("CNH", "HKD", "0", "1e0", "2025-03-03")
    assert [e.field for e in errors] == ["base", "bid", "ask", "as_of"]
    assert quote_errors("CNY", "HKD", "1.07", "1.06", T0)[0].field == "ask"
    assert quote_errors("CNY", "HKD", "1.05", "1.06", T0) == []


def test_error_becomes_a_loader_problem() -> None:
    with pytest.raises(RateError) as info:
        make_quote("CNY", "HKD", "1.0688", "1.0584", T0)
    assert str(info.value.problem("rates.csv", 3)).startswith("rates.csv:3: field 'ask': expected")


def test_quote_constructor_validates_too() -> None:
    with pytest.raises(RateError) as info:
        Quote("default", "CNY", "HKD", Decimal("1.07"), Decimal("1.06"), T0)
    assert info.value.field == "ask"
    with pytest.raises(RateError) as info:
        Quote("default", "CNY", "HKD", 1.05, Decimal("1.06"), T0)  # type: ignore[arg-type]
    assert info.value.field == "bid"


def test_mid_is_exact() -> None:
    assert CNY_HKD.mid == Decimal("1.0636")
    assert CNY_HKD.mid_fraction == Fraction("1.0636")
    tight = q("USD", "HKD", "7.812345678901234567", "7.812345678901234568")
    assert tight.mid == Decimal("7.8123456789012345675")
    assert Fraction(tight.mid) == tight.mid_fraction


@given(bid=st.integers(1, 10**30 - 1), extra=st.integers(0, 10**30), places=st.integers(0, 18))
def test_mid_is_exact_for_any_valid_rates(bid: int, extra: int, places: int) -> None:
    b = Decimal(bid).scaleb(-places)
    a = Decimal(bid + extra).scaleb(-places)
    assume(a.adjusted() < 12)
    quote = Quote("default", "USD", "HKD", b, a, T0)
    assert Fraction(quote.mid) == (Fraction(b) + Fraction(a)) / 2


def test_peg_quote() -> None:
    peg = peg_quote(T0)
    assert peg.pair == ("HKD", "MOP")
    assert peg.bid == peg.ask == Decimal("1.03")
    around = peg_quote(T0, bid=Decimal("1.0290"), ask=Decimal("1.0310"), book="MOP")
    assert around.mid == Decimal("1.03") and around.book == "MOP"


# --- resolving a customer's rate -------------------------------------------------------------


def test_selling_the_base_gets_the_bid() -> None:
    rate = resolve("CNY", "HKD", {CNY_HKD.pair: CNY_HKD})
    assert rate.factor == Fraction("1.0584")
    assert rate.mid_factor == Fraction("1.0636")
    assert [(leg.quote, leg.side) for leg in rate.legs] == [(CNY_HKD, "bid")]


def test_buying_the_base_pays_the_ask() -> None:
    rate = resolve("HKD", "CNY", {CNY_HKD.pair: CNY_HKD})
    assert rate.factor == 1 / Fraction("1.0688")
    assert rate.mid_factor == 1 / Fraction("1.0636")
    assert rate.legs[0].side == "ask"
    assert (rate.legs[0].sell, rate.legs[0].buy) == ("HKD", "CNY")


def test_never_inverts_where_a_direct_quote_exists() -> None:
    hkd_cny = q("HKD", "CNY", "0.9300", "0.9400")
    quotes = {CNY_HKD.pair: CNY_HKD, hkd_cny.pair: hkd_cny}
    assert resolve("HKD", "CNY", quotes).factor == Fraction("0.9300")  # not 1/1.0688
    assert resolve("CNY", "HKD", quotes).factor == Fraction("1.0584")  # not 1/0.9400
    # and a direct quote beats any cross
    cny_mop = q("CNY", "MOP", "1.0900", "1.1000")
    quotes = {CNY_HKD.pair: CNY_HKD, ("HKD", "MOP"): peg_quote(T0), cny_mop.pair: cny_mop}
    assert resolve("CNY", "MOP", quotes).legs == resolve("CNY", "MOP", {cny_mop.pair: cny_mop}).legs


def test_cross_through_hkd_at_full_precision() -> None:
    quotes = {CNY_HKD.pair: CNY_HKD, ("HKD", "MOP"): peg_quote(T0)}
    rate = resolve("CNY", "MOP", quotes)
    assert rate.factor == Fraction("1.090152")  # 1.0584 x 1.03, not rounded to 1.0902
    assert rate.display() == "1.090152"
    assert rate.mid_factor == Fraction("1.0636") * Fraction("1.03")
    assert [leg.quote.pair for leg in rate.legs] == [("CNY", "HKD"), ("HKD", "MOP")]
    back = resolve("MOP", "CNY", quotes)
    assert back.factor == 1 / Fraction("1.03") / Fraction("1.0688")
    assert [leg.side for leg in back.legs] == ["ask", "ask"]


def test_pivots_through_usd_when_no_hkd_legs_exist() -> None:
    cny_usd = q("USD", "CNY", "7.1000", "7.2000")
    usd_mop = q("USD", "MOP", "8.0400", "8.0800")
    rate = resolve("CNY", "MOP", {cny_usd.pair: cny_usd, usd_mop.pair: usd_mop})
    assert rate.factor == Fraction("8.0400") / Fraction("7.2000")
    assert [(leg.quote.pair, leg.side) for leg in rate.legs] == [
        (("USD", "CNY"), "ask"),
        (("USD", "MOP"), "bid"),
    ]


def test_hkd_pivot_comes_before_usd_and_the_order_is_a_parameter() -> None:
    quotes = {
        quote.pair: quote
        for quote in (
            CNY_HKD,
            peg_quote(T0),
            q("USD", "CNY", "7.1000", "7.2000"),
            q("USD", "MOP", "8.0400", "8.0800"),
        )
    }
    assert resolve("CNY", "MOP", quotes).legs[0].quote.pair == ("CNY", "HKD")
    assert resolve("CNY", "MOP", quotes, pivots=("USD", "HKD")).legs[0].quote.pair == ("USD", "CNY")


def test_no_rate_names_the_pair() -> None:
    with pytest.raises(NoRate) as info:
        resolve("CNY", "MOP", {CNY_HKD.pair: CNY_HKD})
    assert (info.value.sell, info.value.buy) == ("CNY", "MOP")
    assert "CNY/MOP" in str(info.value)
    with pytest.raises(NoRate):
        resolve("HKD", "HKD", {CNY_HKD.pair: CNY_HKD})


def test_resolve_refuses_unknown_currencies_and_misfiled_quotes() -> None:
    with pytest.raises(UnknownCurrency):
        resolve("CNH", "HKD", {CNY_HKD.pair: CNY_HKD})
    with pytest.raises(RateError):
        resolve("CNY", "HKD", {("CNY", "HKD"): peg_quote(T0)})


def test_display_is_exact_or_rounded_half_even() -> None:
    rate = resolve("HKD", "CNY", {CNY_HKD.pair: CNY_HKD})
    assert rate.display() == "0.9356287425"
    assert rate.display(4) == "0.9356"
    assert dealt_rate("CNY", "HKD", Decimal("1.0650")).display() == "1.065"
    assert dealt_rate("CNY", "HKD", Decimal("7")).display() == "7"
    assert dealt_rate("HKD", "CNY", Decimal("8"), base="CNY").display(2) == "0.12"  # 0.125


def test_dealt_rate() -> None:
    rate = dealt_rate("HKD", "CNY", Decimal("1.0650"), base="CNY")
    assert rate.factor == rate.mid_factor == 1 / Fraction("1.0650")
    assert rate.legs == ()
    with pytest.raises(RateError) as info:
        dealt_rate("HKD", "CNY", Decimal("0"))
    assert info.value.field == "rate"
    with pytest.raises(RateError):
        dealt_rate("HKD", "CNY", Decimal("1.06"), base="USD")


# --- which quote is usable, and for how long --------------------------------------------------


def test_latest_quotes_picks_the_latest_at_or_before() -> None:
    early = q("CNY", "HKD", "1.0500", "1.0600", T0 - timedelta(hours=1))
    later = q("CNY", "HKD", "1.0584", "1.0688", T0)
    future = q("CNY", "HKD", "1.0700", "1.0800", T0 + timedelta(minutes=1))
    other_book = q("CNY", "HKD", "1.0000", "1.1000", T0, book="CNH")
    quotes = [later, future, early, other_book]
    assert latest_quotes(quotes, T0, book="default") == {("CNY", "HKD"): later}
    assert latest_quotes(quotes, T0 - timedelta(seconds=1), book="default") == {
        ("CNY", "HKD"): early
    }
    assert latest_quotes(quotes, T0 - timedelta(hours=2)) == {}
    assert latest_quotes(quotes, T0, book="CNH") == {("CNY", "HKD"): other_book}


def test_fresh_for_one_business_day() -> None:
    check_fresh(CNY_HKD, T0)
    check_fresh(CNY_HKD, T0 + timedelta(days=1))  # Tuesday 09:15, the limit itself
    with pytest.raises(StaleRate) as info:
        check_fresh(CNY_HKD, T0 + timedelta(days=1, seconds=1))
    message = str(info.value)
    assert "CNY/HKD" in message and "2025-03-03T09:15:00+08:00" in message
    assert info.value.pair == ("CNY", "HKD") and info.value.as_of == T0


def test_a_friday_rate_lasts_over_the_weekend() -> None:
    friday = q("CNY", "HKD", "1.0584", "1.0688", datetime(2025, 3, 7, 9, 15, tzinfo=UTC8))
    check_fresh(friday, datetime(2025, 3, 10, 9, 15, tzinfo=UTC8))
    with pytest.raises(StaleRate):
        check_fresh(friday, datetime(2025, 3, 10, 9, 16, tzinfo=UTC8))


def test_the_engine_passes_its_calendar() -> None:
    # Mainland 2025: 28 Jan - 4 Feb closed; a rate of Mon 27 Jan lasts to Wed 5 Feb.
    closed = {date(2025, 1, 28) + timedelta(days=i) for i in range(8)}

    def next_mainland_day(day: date) -> date:
        day += timedelta(days=1)
        while day in closed or day.weekday() >= 5:
            day += timedelta(days=1)
        return day

    rate = q("CNY", "HKD", "1.0584", "1.0688", datetime(2025, 1, 27, 9, 15, tzinfo=UTC8))
    until = fresh_until(rate, next_business_day=next_mainland_day)
    assert until == datetime(2025, 2, 5, 9, 15, tzinfo=UTC8)
    check_fresh(rate, until, next_business_day=next_mainland_day)
    with pytest.raises(StaleRate):
        check_fresh(rate, until, business_days=0, next_business_day=next_mainland_day)


def test_a_plain_duration_limit_and_other_offsets() -> None:
    check_fresh(CNY_HKD, T0 + timedelta(hours=2), timedelta(hours=2))
    with pytest.raises(StaleRate):
        check_fresh(CNY_HKD, T0 + timedelta(hours=2, microseconds=1), timedelta(hours=2))
    # the same instant written in UTC is the same instant
    check_fresh(CNY_HKD, datetime(2025, 3, 4, 1, 15, tzinfo=UTC))
    with pytest.raises(StaleRate):
        check_fresh(CNY_HKD, datetime(2025, 3, 4, 1, 16, tzinfo=UTC))


def test_a_quote_from_the_future_is_not_usable() -> None:
    with pytest.raises(NoRate):
        check_fresh(CNY_HKD, T0 - timedelta(seconds=1))
    with pytest.raises(RateError) as info:
        check_fresh(CNY_HKD, datetime(2025, 3, 3, 10, 0))
    assert info.value.field == "at"


def test_every_leg_of_a_cross_must_be_fresh() -> None:
    old_peg = peg_quote(T0 - timedelta(days=7))
    rate = resolve("CNY", "MOP", {CNY_HKD.pair: CNY_HKD, old_peg.pair: old_peg})
    with pytest.raises(StaleRate) as info:
        check_rate_fresh(rate, T0)
    assert info.value.pair == ("HKD", "MOP")
    check_rate_fresh(dealt_rate("CNY", "HKD", Decimal("1.065")), T0)


def test_a_long_rate_is_displayed_to_every_place_asked() -> None:
    from fx.quotes import fraction_text

    # 18 integer digits and 20 decimals: more than a Decimal context's 28 digits.
    rate = dealt_rate("HKD", "CNY", Decimal("0.000000000000000003"), base="CNY")
    assert rate.display(20) == "333333333333333333.33333333333333333333"
    assert fraction_text(Fraction(21, 20), 4) == "1.05"
    assert fraction_text(Fraction(5, 2), 0) == "2"  # half-even
