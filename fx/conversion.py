"""Customer conversions: exact value, one rounding, and where every minor unit goes.

What this module guarantees:

- Arithmetic is exact (``Fraction``) from the sell amount to the buy amount; the only rounding
  is the final one to the buy currency's minor units, in the mode the caller names
  (:class:`Rounding`). Minor-unit scales come from ``ledger.money.currency(...).scale``.
- A :class:`Conversion` never creates money: ``buy_amount + spread + rounding == mid_amount``,
  where ``mid_amount`` is the value at mid rates rounded ROUND_HALF_EVEN. It supports this
  booking, each currency balancing on its own (the FX position, FX income and rounding accounts
  are the converting bank's, one per currency)::

      sell currency:  customer's account   -> FX position          sell_amount
      buy currency:   FX position          -> customer's account   buy_amount
                      FX position          -> FX income            spread
                      FX position          -> rounding account     rounding
                                              (negative: rounding account -> FX position)

  so the FX position gives up ``mid_amount`` of the buy currency for ``sell_amount`` of the
  sell currency: the bank's position is always carried at mid.
- A :class:`BlockConversion` converts the block (the sum of its lines) once, with the same
  rate and mode. Under ``"residue"`` the lines keep their own rounding and
  ``residue = block - sum(lines)`` is posted to the rounding account: positive, the block brought
  in more than the lines pay out (rounding account credited); negative, the lines pay out more
  (rounding account debited). Under ``"allocate"`` the lines are adjusted by largest remainder
  so that they sum to the block exactly, and ``residue == 0``.
- Pure: no database, no logging, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP
from enum import StrEnum
from fractions import Fraction
from typing import Literal

from fx.quotes import CrossRate, RateError
from ledger.errors import AmountError
from ledger.money import currency

BlockPolicy = Literal["residue", "allocate"]


class Rounding(StrEnum):
    """How a rate book rounds what the customer gets (a setting per book)."""

    HALF_EVEN = "half_even"
    """Nearest; a half goes to the even neighbour (the default)."""
    HALF_UP = "half_up"
    """Nearest; a half goes away from zero (Decimal's ROUND_HALF_UP)."""
    FLOOR = "floor"
    """Toward minus infinity: on a positive amount the customer never gets more than exact."""

    @property
    def decimal_mode(self) -> str:
        """The ``decimal`` module's name for this mode, for code that rounds ``Decimal``."""
        return {
            Rounding.HALF_EVEN: ROUND_HALF_EVEN,
            Rounding.HALF_UP: ROUND_HALF_UP,
            Rounding.FLOOR: ROUND_FLOOR,
        }[self]


def parse_rounding(text: str, field: str = "rounding") -> Rounding:
    """A rounding mode from a setting: ``half_even``, ``half_up`` or ``floor``."""
    try:
        return Rounding(text)
    except ValueError:
        expected = ", ".join(m.value for m in Rounding)
        raise RateError(field, f"expected one of {expected}, got {text!r}") from None


def round_minor(value: Fraction | int, mode: Rounding) -> int:
    """Round an exact number of minor units to an ``int``, once, in ``mode``.

    Correct for negative values: ``-2.5`` is ``-2`` half-even, ``-3`` half-up (away from zero),
    ``-3`` floor.
    """
    exact = Fraction(value)
    floor, remainder = divmod(exact.numerator, exact.denominator)  # remainder >= 0
    if mode is Rounding.FLOOR or remainder == 0:
        return floor
    twice = 2 * remainder
    if twice < exact.denominator:
        return floor
    if twice > exact.denominator:
        return floor + 1
    if mode is Rounding.HALF_EVEN:
        return floor if floor % 2 == 0 else floor + 1
    if mode is Rounding.HALF_UP:
        return floor + 1 if exact > 0 else floor
    raise RateError("rounding", f"unknown rounding mode {mode!r}")


@dataclass(frozen=True, slots=True)
class Conversion:
    """One customer conversion of ``sell_amount`` (minor units of ``sell``) into ``buy``.

    ``exact_value`` and ``mid_value`` are the unrounded buy minor units at the customer's and
    at the mid rate. ``buy_amount + spread + rounding == mid_amount`` always.
    """

    sell: str
    buy: str
    sell_amount: int
    buy_amount: int
    mid_amount: int
    spread: int
    rounding: int
    exact_value: Fraction
    mid_value: Fraction
    mode: Rounding
    rate: CrossRate


def _check_amount(amount: object) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise AmountError(f"expected an int of minor units, got {type(amount).__name__}")
    if amount <= 0:
        raise AmountError(f"expected an amount greater than zero, got {amount}")
    return amount


def _in_buy_minor(amount: int, rate: CrossRate, factor: Fraction) -> Fraction:
    """``amount`` minor units of ``rate.sell`` times ``factor``, in minor units of ``rate.buy``."""
    sell_scale: int = currency(rate.sell).scale
    buy_scale: int = currency(rate.buy).scale
    return Fraction(amount * buy_scale, sell_scale) * factor


def convert(amount: int, rate: CrossRate, mode: Rounding = Rounding.HALF_EVEN) -> Conversion:
    """Convert ``amount`` minor units of ``rate.sell`` at ``rate``, rounding once in ``mode``.

    The spread is the exact difference between the mid and the customer value, rounded
    ROUND_HALF_EVEN; the rounding residue is whatever makes the buy currency balance.
    """
    amount = _check_amount(amount)
    exact = _in_buy_minor(amount, rate, rate.factor)
    mid = _in_buy_minor(amount, rate, rate.mid_factor)
    buy_amount = round_minor(exact, mode)
    mid_amount = round_minor(mid, Rounding.HALF_EVEN)
    spread = round_minor(mid - exact, Rounding.HALF_EVEN)
    return Conversion(
        sell=rate.sell,
        buy=rate.buy,
        sell_amount=amount,
        buy_amount=buy_amount,
        mid_amount=mid_amount,
        spread=spread,
        rounding=mid_amount - buy_amount - spread,
        exact_value=exact,
        mid_value=mid,
        mode=mode,
        rate=rate,
    )


@dataclass(frozen=True, slots=True)
class BlockConversion:
    """Lines converted against one block deal; ``sum(line_amounts) + residue == block.buy_amount``.

    ``residue`` is ``block.buy_amount - sum(line_amounts)``: positive credits the rounding
    account, negative debits it; always 0 under the ``"allocate"`` policy.
    """

    sell: str
    buy: str
    mode: Rounding
    policy: BlockPolicy
    lines: tuple[Conversion, ...]
    block: Conversion
    residue: int

    @property
    def line_amounts(self) -> tuple[int, ...]:
        """What each line's customer gets, in minor units of ``buy``."""
        return tuple(line.buy_amount for line in self.lines)


def convert_block(
    amounts: Sequence[int],
    rate: CrossRate,
    mode: Rounding = Rounding.HALF_EVEN,
    policy: BlockPolicy = "residue",
) -> BlockConversion:
    """Convert each line and the block (their sum, converted and rounded once) at ``rate``.

    ``"allocate"``: each line starts from its exact value rounded ROUND_FLOOR; the units the
    block has beyond that go one each to the lines with the largest remainders (exact minus
    floor), earlier lines first on a tie. A line's ``rounding`` then absorbs its adjustment, so
    every line still satisfies ``buy_amount + spread + rounding == mid_amount``. Under the
    ``floor`` mode a line may so get one unit above its exact value; the block never does.
    """
    if policy not in ("residue", "allocate"):
        raise RateError("policy", f"expected 'residue' or 'allocate', got {policy!r}")
    if not amounts:
        raise AmountError("expected at least one line in a block")
    lines = [convert(amount, rate, mode) for amount in amounts]
    block = convert(sum(amounts), rate, mode)
    if policy == "allocate":
        lines = _allocate(lines, block.buy_amount)
    residue = block.buy_amount - sum(line.buy_amount for line in lines)
    return BlockConversion(rate.sell, rate.buy, mode, policy, tuple(lines), block, residue)


def _allocate(lines: list[Conversion], total: int) -> list[Conversion]:
    """Largest-remainder apportionment of ``total`` over the lines' exact values."""
    floors = [round_minor(line.exact_value, Rounding.FLOOR) for line in lines]
    short = total - sum(floors)
    # The block rounds sum(exact) once, so it lies between sum(floors) and sum(floors) plus
    # the number of lines with a remainder: every unit short has a line to go to.
    with_remainder = sum(1 for line, f in zip(lines, floors, strict=True) if line.exact_value != f)
    if not 0 <= short <= with_remainder:
        raise AmountError(f"cannot apportion {total} over lines whose floors sum to {sum(floors)}")
    order = sorted(range(len(lines)), key=lambda i: (-(lines[i].exact_value - floors[i]), i))
    amounts = list(floors)
    for i in order[:short]:
        amounts[i] += 1
    return [
        replace(line, buy_amount=amt, rounding=line.mid_amount - amt - line.spread)
        for line, amt in zip(lines, amounts, strict=True)
    ]
