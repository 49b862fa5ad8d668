"""Currencies and exact amounts.

Currencies are ISO 4217's, with their minor units, from py-moneyed's table (no hand-written list):
:func:`currency` knows every active ISO 4217 currency that has a numeric code and minor units,
and refuses the rest (``CNH``, the offshore RMB market label, is not ISO 4217; the units of
account, metals and test codes ``XAU``, ``XDR``, ``XTS``... have no minor units). Which of them
the ledger *carries* is the setting ``ledger.currencies`` (default :data:`DEFAULT_CURRENCIES`);
:func:`carried_currency` refuses, naming it, a currency outside that set.

Inside the ledger an amount is an ``int`` of minor units next to an ISO 4217 code; in the database
a BIGINT. ``Decimal`` is only the parsing and formatting step, and py-moneyed ``Money`` only the
type at the public API boundary. No float ever holds an amount: ``parse_amount`` refuses floats,
exponents and more decimals than the currency has (``"10.005"`` MOP is an error, not 10.00).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final

import moneyed
from moneyed import Money

from ledger.errors import AmountError, UnknownCurrency


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    number: int
    minor_units: int

    @property
    def scale(self) -> int:
        """Minor units per major unit (100 for two decimals)."""
        return _SCALES[self.minor_units]


_SCALES: Final[tuple[int, ...]] = tuple(10**n for n in range(19))

# ISO 4217 lists no minor units ("N.A.") for these: units of account, precious metals, SDR,
# test and "no currency" codes. py-moneyed gives them a placeholder sub-unit of 1; refuse them.
_NO_MINOR_UNITS: Final = frozenset(
    {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}
)
# Market labels that look like codes but are not ISO 4217 (CNH: offshore RMB, which is CNY).
_NOT_ISO: Final = frozenset({"CNH", "CNT"})


def _iso_table() -> dict[str, Currency]:
    table: dict[str, Currency] = {}
    for code, cur in moneyed.CURRENCIES.items():
        sub_unit = int(cur.sub_unit)
        minor = len(str(sub_unit)) - 1
        # A code without an ISO numeric is one py-moneyed keeps for history or convenience.
        if (
            code in _NO_MINOR_UNITS or code in _NOT_ISO or not cur.numeric
            or not str(cur.numeric).isdigit() or sub_unit != 10**minor
        ):
            continue
        table[code] = Currency(code, int(cur.numeric), minor)
    return table


#: Every currency :func:`currency` knows: ISO 4217 code -> numeric code and minor units.
ISO_CURRENCIES: Final[Mapping[str, Currency]] = MappingProxyType(_iso_table())

#: The currencies a ledger carries unless its settings say otherwise (``ledger.currencies``).
DEFAULT_CURRENCIES: Final[tuple[str, ...]] = ("MOP", "HKD", "CNY", "USD")

#: The default carried currencies with their ISO data (what code without settings at hand, such
#: as the instruction reader, checks against).
CURRENCIES: Final[Mapping[str, Currency]] = MappingProxyType(
    {code: ISO_CURRENCIES[code] for code in DEFAULT_CURRENCIES}
)

# Plain decimal notation only: an optional minus, ASCII digits, an optional fraction. No plus,
# no exponent, no spaces, no thousands separators; "1." and ".5" are refused too, as a back
# office would never send them.
AMOUNT_GRAMMAR: Final = "-?[0-9]+(.[0-9]+)?, at most the currency's decimals"
_AMOUNT_RE: Final = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
# The bound of every amount and of every running total, currency total and position: at most 18
# digits of minor units (9,999,999,999,999,999.99 of a two-decimal currency). Eighteen digits
# fit the database's BIGINT with room to spare (2**63 - 1 is about 9.22e18), so the sum or
# difference of any two bounded values (debits - credits, a total plus one more amount before
# it is checked) never overflows, in Python, in SQLite or in PostgreSQL; and every value the
# ledger holds can be printed by every report. Amounts over it are refused when parsed; the
# poster rejects an entry that would take a currency's total over it (``balance_overflow``).
MAX_DIGITS: Final = 18
MAX_MINOR: Final = 10**MAX_DIGITS - 1


def currency(code: str) -> Currency:
    """The ISO 4217 currency ``code``; :class:`UnknownCurrency` for anything else (CNH too)."""
    try:
        return ISO_CURRENCIES[code]
    except (KeyError, TypeError):
        if code in _NOT_ISO:
            raise UnknownCurrency(
                f"unknown currency {code!r} (a market label, not an ISO 4217 currency; "
                "offshore RMB is CNY)"
            ) from None
        raise UnknownCurrency(
            f"unknown currency {code!r} (expected an ISO 4217 code such as "
            f"{', '.join(DEFAULT_CURRENCIES)})"
        ) from None


def carried_currency(code: str, carried: Collection[str] = DEFAULT_CURRENCIES) -> Currency:
    """The currency ``code`` if the ledger carries it (``carried``: the ``ledger.currencies``
    setting); :class:`UnknownCurrency` naming it otherwise, an ISO code or not."""
    cur = currency(code)
    if code not in carried:
        raise UnknownCurrency(
            f"currency {code} is not carried by this ledger (it carries "
            f"{', '.join(carried)}; the setting ledger.currencies)"
        )
    return cur


def parse_amount(text: str, code: str) -> int:
    """Parse a decimal string in major units into minor units, exactly.

    >>> parse_amount("1234.50", "HKD")
    123450
    """
    cur = ISO_CURRENCIES.get(code) or currency(code)
    if type(text) is not str:
        raise AmountError(f"expected a decimal string, got {type(text).__name__}")
    # The common shape, "1234.50", without the regex; anything else takes the full path below.
    whole, dot, frac = text.partition(".")
    if (
        dot and len(frac) == cur.minor_units and whole.isascii() and whole.isdigit()
        and frac.isascii() and frac.isdigit() and len(whole) + len(frac) <= MAX_DIGITS
    ):
        return int(whole) * cur.scale + int(frac)
    # Bounded before the regex and int(): a line of 4,300 digits is refused, not converted.
    if len(text) > 2 * MAX_DIGITS + 2:
        raise AmountError(f"at most {max_amount_text(cur.code)}, got {len(text)} characters")
    m = _AMOUNT_RE.fullmatch(text)
    if m is None:
        raise AmountError(
            f"expected a decimal amount like 1234.50 ({AMOUNT_GRAMMAR}), got {text!r}"
        )
    sign, whole, frac = m.group(1), m.group(2), m.group(3) or ""
    if len(frac) > cur.minor_units:
        raise AmountError(
            f"{text!r} has {len(frac)} decimals; {cur.code} has {cur.minor_units}"
        )
    if len(whole.lstrip("0")) + cur.minor_units > MAX_DIGITS:
        raise AmountError(f"at most {max_amount_text(cur.code)}, got {text!r}")
    minor = int(whole) * cur.scale + (int(frac.ljust(cur.minor_units, "0")) if frac else 0)
    return -minor if sign == "-" else minor


def max_amount_text(code: str) -> str:
    """The largest amount of ``code`` the ledger holds, as text: ``"9999999999999999.99"``."""
    return format_amount(MAX_MINOR, code)


def check_bound(minor: int, code: str) -> int:
    """``minor`` if its size is within :data:`MAX_MINOR`, else :class:`AmountError`."""
    if -MAX_MINOR <= minor <= MAX_MINOR:
        return minor
    raise AmountError(f"at most {max_amount_text(code)} {code}, got {format_amount(minor, code)}")


def format_amount(minor: int, code: str) -> str:
    """Minor units as a decimal string with exactly the currency's digits: ``"-50000.00"``."""
    cur = currency(code)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), cur.scale)
    if cur.minor_units == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:0{cur.minor_units}d}"


def to_decimal(minor: int, code: str) -> Decimal:
    return Decimal(format_amount(minor, code))


def from_decimal(value: Decimal, code: str) -> int:
    """An exact ``Decimal`` in major units as minor units; over-precise values are refused."""
    if not isinstance(value, Decimal):
        raise AmountError(f"expected a Decimal, got {type(value).__name__}")
    if not value.is_finite():
        raise AmountError(f"expected a finite amount, got {value}")
    cur = currency(code)
    # In integers, not Decimal arithmetic: a context would round a value of more than 28 digits
    # before it could be refused.
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # unreachable for a finite value; mypy needs the int
        raise AmountError(f"expected a finite amount, got {value}")
    shift = exponent + cur.minor_units
    # Refused before int() or 10**shift: Decimal("1e999999") must not build a huge integer.
    if any(digits) and len(digits) + shift > MAX_DIGITS:
        raise AmountError(f"too large for an amount: at most {max_amount_text(code)} {code}")
    if shift < -MAX_DIGITS - len(digits) and any(digits):
        raise AmountError(f"{value} has more decimals than {cur.code}'s {cur.minor_units}")
    units = int("".join(map(str, digits)))
    if shift >= 0:
        minor: int = units * 10**shift
    else:
        minor, rest = divmod(units, 10**-shift)
        if rest:
            raise AmountError(f"{value} has more decimals than {cur.code}'s {cur.minor_units}")
    return -minor if sign else minor


def to_money(minor: int, code: str) -> Money:
    """Minor units as py-moneyed ``Money`` (the public boundary type)."""
    return Money(to_decimal(minor, code), code)


def from_money(money: Money) -> tuple[int, str]:
    """``Money`` as ``(minor units, currency code)``; over-precise amounts are refused."""
    code = money.currency.code
    return from_decimal(money.amount, code), code


def group_digits(amount: str) -> str:
    """An amount's text as people read it, thousands separated: ``"-1234567.89"`` ->
    ``"-1,234,567.89"``. The text's digits are kept as they are (no rounding, no arithmetic);
    what is not an amount's text raises ``ValueError``."""
    m = _AMOUNT_TEXT.fullmatch(amount)
    if m is None:
        raise ValueError(f"not an amount: {amount!r}")
    sign, whole, frac = m.groups()
    head = len(whole) % 3 or 3  # grouped as text: no digit limit, nothing converted
    grouped = whole[:head] + "".join(f",{whole[i:i + 3]}" for i in range(head, len(whole), 3))
    return f"{sign}{grouped}{frac or ''}"


_AMOUNT_TEXT = re.compile(r"([-+]?)([0-9]+)(\.[0-9]+)?")
