"""Conversions to the cent: one rounding, spread and residue booked, blocks: fx.conversion."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fx.conversion import (
    Conversion,
    Rounding,
    convert,
    convert_block,
    parse_rounding,
    round_minor,
)
from fx.quotes import CrossRate, Quote, RateError, dealt_rate, make_quote, peg_quote, resolve
from ledger.errors import AmountError
from ledger.money import currency, format_amount, parse_amount

T0 = datetime(2025, 3, 3, 9, 15, tzinfo=timezone(timedelta(hours=8)))
CNY_HKD = make_quote("CNY", "HKD", "1.0584", "1.0688", T0, "test")
QUOTES = {CNY_HKD.pair: CNY_HKD, ("HKD", "MOP"): peg_quote(T0)}


def cny(text: str) -> int:
    return parse_amount(text, "CNY")


# --- rounding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "half_even", "half_up", "floor"),
    [
        ("2.5", 2, 3, 2), ("3.5", 4, 4, 3), ("2.4", 2, 2, 2), ("2.6", 3, 3, 2), ("7", 7, 7, 7),
        ("-2.5", -2, -3, -3), ("-3.5", -4, -4, -4), ("-2.4", -2, -2, -3), ("-2.6", -3, -3, -3),
        ("0.5", 0, 1, 0), ("-0.5", 0, -1, -1), ("1/3", 0, 0, 0), ("-1/3", 0, 0, -1),
        ("0", 0, 0, 0),
    ],
)  # fmt: skip
def test_round_minor(value: str, half_even: int, half_up: int, floor: int) -> None:
    exact = Fraction(value)
    assert round_minor(exact, Rounding.HALF_EVEN) == half_even
    assert round_minor(exact, Rounding.HALF_UP) == half_up
    assert round_minor(exact, Rounding.FLOOR) == floor


@given(st.fractions(), st.sampled_from(Rounding))
def test_round_minor_agrees_with_decimal(value: Fraction, mode: Rounding) -> None:
    # A second opinion: Decimal division, then quantize. With these bounds the 28-digit quotient
    # is off by < 1e-10 while a non-half value is > 5e-10 from a half, so no false ties.
    assume(value.denominator < 10**9 and abs(value.numerator) < 10**18)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    expected = int(exact.quantize(Decimal(1), rounding=mode.decimal_mode))
    assert round_minor(value, mode) == expected
    assert abs(round_minor(value, mode) - value) < 1


def test_rounding_modes_name_the_decimal_ones() -> None:
    assert Rounding.HALF_EVEN.decimal_mode == ROUND_HALF_EVEN
    assert Rounding.HALF_UP.decimal_mode == ROUND_HALF_UP
    assert Rounding.FLOOR.decimal_mode == ROUND_FLOOR
    assert parse_rounding("half_up") is Rounding.HALF_UP
    with pytest.raises(RateError) as info:
        parse_rounding("bankers", "rounding")
    assert info.value.field == "rounding"


# --- the DOMAIN.md numbers ---------------------------------------------------------------------


def test_cross_cny_to_mop_rounds_once() -> None:
    rate = resolve("CNY", "MOP", QUOTES)
    conv = convert(cny("100000.00"), rate)
    assert format_amount(conv.buy_amount, "MOP") == "109015.20"
    assert conv.exact_value == 10901520
    # Rounding the cross rate first would pay MOP 109,020.00, 4.80 too much: we do not.
    rounded_first = convert(cny("100000.00"), dealt_rate("CNY", "MOP", Decimal("1.0902")))
    assert format_amount(rounded_first.buy_amount, "MOP") == "109020.00"
    assert rounded_first.buy_amount - conv.buy_amount == 480
    # at mid (1.0636 x 1.03 = 1.095508) the bank's position is worth 109,550.80: spread 535.60
    assert (conv.mid_amount, conv.spread, conv.rounding) == (10955080, 53560, 0)


BLOCK = [cny("12345.00"), cny("20001.00"), cny("30003.00")]
AT_1_0650 = dealt_rate("CNY", "HKD", Decimal("1.0650"))


def hkd(amounts: tuple[int, ...] | int) -> tuple[str, ...] | str:
    if isinstance(amounts, int):
        return format_amount(amounts, "HKD")
    return tuple(format_amount(a, "HKD") for a in amounts)


def test_block_deal_half_up_leaves_a_cent_for_the_rounding_account() -> None:
    block = convert_block(BLOCK, AT_1_0650, Rounding.HALF_UP, "residue")
    assert block.block.sell_amount == cny("62349.00")
    # exact: 13,147.425 / 21,301.065 / 31,953.195, block 66,401.685
    assert hkd(block.line_amounts) == ("13147.43", "21301.07", "31953.20")
    assert hkd(sum(block.line_amounts)) == "66401.70"
    assert hkd(block.block.buy_amount) == "66401.69"
    # residue = block - lines = -0.01: the lines pay out a cent more than the block brings in,
    # so the rounding account is debited 0.01 (DOMAIN.md: "0.01 goes to the rounding account").
    assert block.residue == -1


def test_block_deal_half_even_lines_sum_to_the_block() -> None:
    block = convert_block(BLOCK, AT_1_0650, Rounding.HALF_EVEN, "residue")
    assert hkd(block.line_amounts) == ("13147.42", "21301.06", "31953.20")
    assert hkd(block.block.buy_amount) == "66401.68"  # half-even: 66,401.685 -> .68
    assert block.residue == 0


def test_block_deal_allocated_by_largest_remainder() -> None:
    block = convert_block(BLOCK, AT_1_0650, Rounding.HALF_UP, "allocate")
    # floors 13,147.42 / 21,301.06 / 31,953.19 = 66,401.67; two cents to place, all three
    # remainders are 0.5 cent, so the earlier lines get them.
    assert hkd(block.line_amounts) == ("13147.43", "21301.07", "31953.19")
    assert sum(block.line_amounts) == block.block.buy_amount == parse_amount("66401.69", "HKD")
    assert block.residue == 0
    for line in block.lines:
        assert line.buy_amount + line.spread + line.rounding == line.mid_amount
    # Allocation is pure largest remainder toward the block: under half-even the block is
    # 66,401.68, so one cent goes to the first line (not the third, as per-line rounding did).
    even = convert_block(BLOCK, AT_1_0650, Rounding.HALF_EVEN, "allocate")
    assert hkd(even.line_amounts) == ("13147.43", "21301.06", "31953.19")


def test_largest_remainder_beats_line_order() -> None:
    # CNY 0.30 and 0.70 at 1.01: exact 30.3 and 70.7 cents, block 101. Floors 30 + 70 leave
    # one cent, which goes to the larger remainder (0.7, the second line), not the first line.
    rate = dealt_rate("CNY", "HKD", Decimal("1.01"))
    block = convert_block([30, 70], rate, Rounding.HALF_UP, "allocate")
    assert block.line_amounts == (30, 71)


def test_floor_block_residue_is_never_negative() -> None:
    block = convert_block(BLOCK, AT_1_0650, Rounding.FLOOR, "residue")
    assert hkd(block.line_amounts) == ("13147.42", "21301.06", "31953.19")
    assert hkd(block.block.buy_amount) == "66401.68"
    assert block.residue == 1  # the block brought in a cent the lines did not pay out: credit


def test_southbound_round_trip_loses_exactly_the_spread_and_roundings() -> None:
    there = convert(cny("100000.00"), resolve("CNY", "HKD", QUOTES))
    back = convert(there.buy_amount, resolve("HKD", "CNY", QUOTES))
    assert format_amount(there.buy_amount, "HKD") == "105840.00"  # x 1.0584
    assert (there.mid_amount, there.spread, there.rounding) == (10636000, 52000, 0)
    assert format_amount(back.buy_amount, "CNY") == "99026.95"  # / 1.0688 = 99,026.946...
    assert (back.mid_amount, back.spread, back.rounding) == (9951109, 48415, -1)
    loss = cny("100000.00") - back.buy_amount
    assert format_amount(loss, "CNY") == "973.05"
    # In CNY the loss is the second spread and rounding plus what the bank's position kept:
    # CNY 100,000.00 in, CNY 99,511.09 (the mid value of HKD 105,840.00) out, i.e. the first
    # leg's HKD 520.00 spread at mid (520 / 1.0636 = 488.906 -> 488.91).
    position_kept = cny("100000.00") - back.mid_amount
    assert position_kept == round_minor(
        Fraction(there.spread + there.rounding) / CNY_HKD.mid_fraction, Rounding.HALF_EVEN
    )
    assert loss == back.spread + back.rounding + position_kept
    books = Counter[tuple[str, str]]()
    post(books, there)
    post(books, back)
    assert books[("customer", "CNY")] == -loss and books[("customer", "HKD")] == 0
    assert books[("fx_income", "HKD")] == 52000 and books[("fx_income", "CNY")] == 48415
    assert balanced(books)


def post(books: Counter[tuple[str, str]], c: Conversion) -> None:
    """The booking fx.conversion documents; Counter values are signed balances."""
    for frm, to, cur, amount in (
        ("customer", "fx_position", c.sell, c.sell_amount),
        ("fx_position", "customer", c.buy, c.buy_amount),
        ("fx_position", "fx_income", c.buy, c.spread),
        ("fx_position", "rounding", c.buy, c.rounding),
    ):
        books[(frm, cur)] -= amount
        books[(to, cur)] += amount


def balanced(books: Counter[tuple[str, str]]) -> bool:
    totals = Counter[str]()
    for (_, cur), amount in books.items():
        totals[cur] += amount
    return all(v == 0 for v in totals.values())


def test_tiny_round_trip_can_gain_under_half_rounding_but_never_under_floor() -> None:
    # A known limit of rounding each leg to the cent, stated so nobody is surprised: HKD 0.06
    # buys USD 0.01 (0.06 / 7.76 = 0.0077 -> 0.01), which sells for HKD 0.08 (7.75 -> 8 cents).
    usd_hkd = make_quote("USD", "HKD", "7.7500", "7.7600", T0)
    quotes = {usd_hkd.pair: usd_hkd}
    there = convert(6, resolve("HKD", "USD", quotes), Rounding.HALF_EVEN)
    back = convert(there.buy_amount, resolve("USD", "HKD", quotes), Rounding.HALF_EVEN)
    assert (there.buy_amount, back.buy_amount) == (1, 8)
    there = convert(6, resolve("HKD", "USD", quotes), Rounding.FLOOR)
    assert there.buy_amount == 0  # floor: nothing to sell back


# --- generality and validation -----------------------------------------------------------------


def test_minor_unit_scales_come_from_the_currency(monkeypatch: pytest.MonkeyPatch) -> None:
    # JPY (0 decimals) and BHD (3) come from the ISO 4217 table like any currency; the default
    # ledger does not carry them, so the quotes' carried-currency check is widened to ISO here.
    monkeypatch.setattr("fx.quotes.carried_currency", lambda code: currency(code))
    # USD 1.00 at 150.255 JPY -> JPY 150.255 -> 150 (no minor units)
    assert convert(100, dealt_rate("USD", "JPY", Decimal("150.255"))).buy_amount == 150
    # JPY 1,000 at 0.0025 BHD -> BHD 2.500 = 2500 fils
    assert convert(1000, dealt_rate("JPY", "BHD", Decimal("0.0025"))).buy_amount == 2500


@pytest.mark.parametrize("amount", [0, -100, True, 1.5, Decimal("100")])
def test_convert_refuses_anything_but_a_positive_int(amount: object) -> None:
    with pytest.raises(AmountError):
        convert(amount, AT_1_0650)  # type: ignore[arg-type]
    with pytest.raises(AmountError):
        convert_block([100, amount], AT_1_0650)  # type: ignore[list-item]


def test_block_needs_lines_and_a_known_policy() -> None:
    with pytest.raises(AmountError):
        convert_block([], AT_1_0650)
    with pytest.raises(RateError):
        convert_block([100], AT_1_0650, policy="spread")  # type: ignore[arg-type]


# --- properties --------------------------------------------------------------------------------

amounts = st.integers(1, 10**13)  # up to 100 billion in major units
modes = st.sampled_from(Rounding)


@st.composite
def quotes(draw: st.DrawFn, min_bid: int = 1) -> Quote:
    """Quotes with bid >= ``min_bid`` (0: down to 1e-8) and a spread up to 10%."""
    places = draw(st.integers(0, 8))
    bid = draw(st.integers(max(1, min_bid * 10**places), 50 * 10**places))
    ask = bid + draw(st.integers(0, bid // 10 + 1))
    pair = draw(st.sampled_from([("CNY", "HKD"), ("USD", "HKD"), ("HKD", "MOP"), ("USD", "CNY")]))
    return Quote("default", *pair, Decimal(bid).scaleb(-places), Decimal(ask).scaleb(-places), T0)


@st.composite
def rates(draw: st.DrawFn) -> CrossRate:
    quote = draw(quotes())
    sell, buy = draw(st.sampled_from([quote.pair, quote.pair[::-1]]))
    return resolve(sell, buy, {quote.pair: quote})


@given(amounts, rates(), modes)
def test_a_conversion_never_creates_money(amount: int, rate: CrossRate, mode: Rounding) -> None:
    c = convert(amount, rate, mode)
    assert c.buy_amount + c.spread + c.rounding == c.mid_amount
    assert abs(c.buy_amount - c.exact_value) < 1
    assert abs(c.rounding) <= 1
    assert c.spread >= 0  # the customer's rate is never better than mid
    if mode is Rounding.FLOOR:
        assert c.buy_amount <= c.exact_value
    else:
        assert abs(c.buy_amount - c.exact_value) <= Fraction(1, 2)
    books = Counter[tuple[str, str]]()
    post(books, c)
    assert balanced(books)


@given(st.lists(amounts, min_size=1, max_size=20), rates(), modes)
def test_block_allocation_sums_to_the_block(
    lines: list[int], rate: CrossRate, mode: Rounding
) -> None:
    allocated = convert_block(lines, rate, mode, "allocate")
    assert sum(allocated.line_amounts) == allocated.block.buy_amount
    assert allocated.residue == 0
    for line in allocated.lines:
        assert abs(line.buy_amount - line.exact_value) < 1
        assert line.buy_amount + line.spread + line.rounding == line.mid_amount
    kept = convert_block(lines, rate, mode, "residue")
    assert sum(kept.line_amounts) + kept.residue == kept.block.buy_amount
    assert kept.line_amounts == tuple(convert(a, rate, mode).buy_amount for a in lines)
    assert kept.block == allocated.block


@given(amounts, quotes(), modes)
def test_round_trip_from_the_base_never_gains(amount: int, quote: Quote, mode: Rounding) -> None:
    # Selling the base at bid then buying it back at ask: with rates >= 1 (quote's units per
    # base) no rounding mode can hand back more than was sold (see the tiny-amount test above
    # for rates below 1 under half rounding).
    pair = {quote.pair: quote}
    there = convert(amount, resolve(quote.base, quote.quote, pair), mode)
    assume(there.buy_amount > 0)
    back = convert(there.buy_amount, resolve(quote.quote, quote.base, pair), mode)
    assert back.buy_amount <= amount


@given(amounts, quotes(min_bid=0), st.booleans())
def test_round_trip_under_floor_never_gains(amount: int, quote: Quote, from_base: bool) -> None:
    sell, buy = quote.pair if from_base else quote.pair[::-1]
    pair = {quote.pair: quote}
    there = convert(amount, resolve(sell, buy, pair), Rounding.FLOOR)
    assume(there.buy_amount > 0)
    back = convert(there.buy_amount, resolve(buy, sell, pair), Rounding.FLOOR)
    assert back.buy_amount <= amount
    books = Counter[tuple[str, str]]()
    post(books, there)
    post(books, back)
    assert balanced(books)
    # the customer's loss is all in the bank's books: income, rounding and position
    assert books[("customer", sell)] == back.buy_amount - amount
