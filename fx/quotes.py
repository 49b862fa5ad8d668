"""FX quotes as banks give them, and the rate a customer conversion uses.

The model (DOMAIN.md, "FX as banks quote it"):

- A :class:`Quote` is one bank's price for one pair ``base/quote`` in one rate book: ``bid`` is
  the quote-currency units the bank pays per 1 ``base`` when it *buys* base from the customer;
  ``ask`` the quote-currency units the customer pays per 1 ``base`` when *buying* base.
  Example: base CNY, quote HKD, bid 1.0584, ask 1.0688.
- A customer selling ``base`` gets ``amount x bid``; a customer buying ``base`` with ``quote``
  gets ``amount / ask``.
- Pairs without a quote are crossed through a pivot (HKD first, then USD), multiplying the two
  legs at full precision.

What this module guarantees:

- Every :class:`Quote` that exists is valid: both currencies are ledger currencies (``CNH`` is a
  book label, never a currency), ``base != quote``, ``0 < bid <= ask``, the rates are finite
  ``Decimal`` (never ``float``) and ``as_of`` carries a UTC offset. A wrong value raises
  :class:`RateError` whose ``field`` names the column (``base``, ``quote``, ``bid``, ``ask``,
  ``as_of``, ``book``, ``source``), so a loader can print ``FILE:LINE: field 'ask': ...``.
- Rate text is plain decimal notation only (``"1.0584"``): no sign, no exponent, no spaces.
- :func:`resolve` never inverts a pair that is quoted the other way round, never rounds: a
  :class:`CrossRate` holds its factors as exact ``Fraction`` and the legs it was built from, so a
  conversion can be recomputed and stored. Rounding to minor units happens once, in
  :mod:`fx.conversion`.
- Pure: no database, no logging, no I/O, no clock (the caller passes every timestamp).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Context, Decimal, Inexact, InvalidOperation
from fractions import Fraction
from typing import Final, Literal, TypeVar

from ledger.errors import LedgerError, Problem, UnknownCurrency
from ledger.files import parse_timestamp
from ledger.money import carried_currency

Pair = tuple[str, str]
Side = Literal["bid", "ask"]
_T = TypeVar("_T")

# Plain decimal notation, ASCII digits only; ``fullmatch`` so that no trailing newline slips in.
_RATE_RE: Final = re.compile(r"([0-9]+)(?:\.([0-9]+))?", re.ASCII)
# Bounds that keep every rate an ordinary number (no "1E+999999" turning into a giant Fraction):
# up to 12 integer digits and 18 decimals, far beyond any quoted rate.
MAX_RATE_INTEGER_DIGITS: Final = 12
MAX_RATE_DECIMALS: Final = 18
# Enough digits to hold (bid + ask) / 2 exactly for any rate within the bounds above (<= 32).
_MID_PRECISION: Final = 34

PEG_HKD_MOP: Final = Decimal("1.03")
"""MOP per 1 HKD under the peg: HKD 100 = MOP 103."""

DEFAULT_PIVOTS: Final = ("HKD", "USD")
DEFAULT_BOOK: Final = "default"


class RateError(LedgerError, ValueError):
    """A rate, quote or timestamp that is not valid; ``field`` names the column at fault."""

    def __init__(self, field: str, expected: str) -> None:
        self.field = field
        self.expected = expected
        super().__init__(f"field {field!r}: {expected}")

    def problem(self, file: str, line: int) -> Problem:
        """This error at ``FILE:LINE``, as the loaders report it."""
        return Problem(file, line, self.field, self.expected)


class QuoteCurrencyError(RateError, UnknownCurrency):
    """A quote's ``base`` or ``quote`` is not a ledger currency (catchable as either parent)."""


class NoRate(LedgerError):
    """No quote, direct or through a pivot, converts ``sell`` into ``buy``."""

    def __init__(self, sell: str, buy: str, detail: str = "") -> None:
        self.sell = sell
        self.buy = buy
        super().__init__(detail or f"no rate for {sell}/{buy}: no direct quote and no pivot leg")


class StaleRate(LedgerError):
    """A quote older than its book's staleness limit; names the pair and the quote's time."""

    def __init__(self, quote: Quote, at: datetime, limit: str) -> None:
        self.pair = quote.pair
        self.as_of = quote.as_of
        self.book = quote.book
        super().__init__(
            f"stale rate {quote.base}/{quote.quote} (book {quote.book!r}) as of "
            f"{quote.as_of.isoformat()}: older than {limit} at {at.isoformat()}"
        )


def parse_rate(text: str, field: str = "rate") -> Decimal:
    """A rate from plain decimal text (``"1.0584"``); refuses signs, exponents, spaces and zero.

    >>> parse_rate("1.0584")
    Decimal('1.0584')
    """
    if not isinstance(text, str):
        raise RateError(field, f"expected a decimal string like 1.0584, got {type(text).__name__}")
    m = _RATE_RE.fullmatch(text)
    if m is None:
        raise RateError(
            field,
            f"expected a positive decimal rate like 1.0584 (no sign, exponent or spaces), "
            f"got {text!r}",
        )
    return _check_rate(Decimal(text), field)


def _check_rate(value: object, field: str) -> Decimal:
    """``value`` if it is a finite, positive, reasonably sized ``Decimal``; else ``RateError``."""
    if not isinstance(value, Decimal):
        # bool is an int, float is the defect we are here to keep out: refuse both by name.
        raise RateError(field, f"expected a Decimal rate, got {type(value).__name__}")
    if not value.is_finite():
        raise RateError(field, f"expected a finite rate, got {value}")
    if value <= 0:
        raise RateError(field, f"expected a rate greater than zero, got {value}")
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -MAX_RATE_DECIMALS:
        raise RateError(field, f"expected at most {MAX_RATE_DECIMALS} decimals, got {value}")
    if value.adjusted() >= MAX_RATE_INTEGER_DIGITS:
        raise RateError(
            field, f"expected at most {MAX_RATE_INTEGER_DIGITS} integer digits, got {value}"
        )
    return value


def parse_as_of(text: str, field: str = "as_of") -> datetime:
    """An ISO 8601 timestamp that carries its offset (``2025-03-03T09:15:00+08:00``)."""
    if not isinstance(text, str):
        raise RateError(field, f"expected an ISO 8601 timestamp, got {type(text).__name__}")
    try:
        value = parse_timestamp(text)
    except ValueError as exc:
        raise RateError(field, f"expected {exc}") from None
    return _check_aware(value, field)


def _rate_from(value: str | Decimal, field: str) -> Decimal:
    return parse_rate(value, field) if isinstance(value, str) else _check_rate(value, field)


def _check_aware(value: object, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise RateError(field, f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise RateError(
            field,
            f"expected a timestamp with a UTC offset (like +08:00), got {value.isoformat()}",
        )
    return value


def _check_currency(code: object, field: str) -> str:
    if not isinstance(code, str):
        raise QuoteCurrencyError(field, f"expected a currency code, got {type(code).__name__}")
    try:
        carried_currency(code)
    except UnknownCurrency as exc:
        raise QuoteCurrencyError(field, str(exc)) from None
    return code


def _check_label(value: object, field: str, *, empty_ok: bool) -> str:
    if not isinstance(value, str):
        raise RateError(field, f"expected text, got {type(value).__name__}")
    if value != value.strip() or (not value and not empty_ok):
        raise RateError(field, f"expected a non-blank name without surrounding spaces: {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Quote:
    """One bank's bid/ask for ``base/quote`` in rate book ``book`` at ``as_of``.

    ``bid`` and ``ask`` are quote-currency units per 1 base. Constructing a ``Quote`` validates
    it (see the module docstring); :func:`make_quote` is the constructor from text.
    """

    book: str
    base: str
    quote: str
    bid: Decimal
    ask: Decimal
    as_of: datetime
    source: str = ""

    def __post_init__(self) -> None:
        _check_label(self.book, "book", empty_ok=False)
        _check_currency(self.base, "base")
        _check_currency(self.quote, "quote")
        if self.base == self.quote:
            raise RateError("quote", f"expected a currency other than the base {self.base}")
        _check_rate(self.bid, "bid")
        _check_rate(self.ask, "ask")
        if self.ask < self.bid:
            raise RateError("ask", f"expected ask >= bid {self.bid}, got {self.ask}")
        _check_aware(self.as_of, "as_of")
        _check_label(self.source, "source", empty_ok=True)

    @property
    def pair(self) -> Pair:
        return (self.base, self.quote)

    @property
    def mid(self) -> Decimal:
        """``(bid + ask) / 2``, exact: computed in a 34-digit context that traps any rounding."""
        exact = Context(prec=_MID_PRECISION, traps=[Inexact, InvalidOperation])
        return exact.divide(exact.add(self.bid, self.ask), Decimal(2))

    @property
    def mid_fraction(self) -> Fraction:
        """The mid as an exact ``Fraction``, for arithmetic."""
        return (Fraction(self.bid) + Fraction(self.ask)) / 2


def make_quote(
    base: str,
    quote: str,
    bid: str | Decimal,
    ask: str | Decimal,
    as_of: str | datetime,
    source: str = "",
    book: str = DEFAULT_BOOK,
) -> Quote:
    """A validated :class:`Quote` from a rates-file row (text) or from typed values.

    Raises the first :class:`RateError` in column order; :func:`quote_errors` lists them all.
    """
    errors, value = _build(base, quote, bid, ask, as_of, source, book)
    if value is None:
        raise errors[0]
    return value


def quote_errors(
    base: str,
    quote: str,
    bid: str | Decimal,
    ask: str | Decimal,
    as_of: str | datetime,
    source: str = "",
    book: str = DEFAULT_BOOK,
) -> list[RateError]:
    """Every problem of a rates-file row, in column order; empty when :func:`make_quote` works."""
    return _build(base, quote, bid, ask, as_of, source, book)[0]


def _build(
    base: str,
    quote: str,
    bid: str | Decimal,
    ask: str | Decimal,
    as_of: str | datetime,
    source: str,
    book: str,
) -> tuple[list[RateError], Quote | None]:
    errors: list[RateError] = []

    def attempt(check: Callable[[], _T]) -> _T | None:
        try:
            return check()
        except RateError as exc:
            errors.append(exc)
            return None

    base_ok = attempt(lambda: _check_currency(base, "base"))
    quote_ok = attempt(lambda: _check_currency(quote, "quote"))
    if base_ok is not None and base_ok == quote_ok:
        errors.append(RateError("quote", f"expected a currency other than the base {base}"))
    bid_v = attempt(lambda: _rate_from(bid, "bid"))
    ask_v = attempt(lambda: _rate_from(ask, "ask"))
    if bid_v is not None and ask_v is not None and ask_v < bid_v:
        errors.append(RateError("ask", f"expected ask >= bid {bid_v}, got {ask_v}"))
    as_of_v = attempt(
        lambda: parse_as_of(as_of) if isinstance(as_of, str) else _check_aware(as_of, "as_of")
    )
    attempt(lambda: _check_label(source, "source", empty_ok=True))
    attempt(lambda: _check_label(book, "book", empty_ok=False))
    if errors or bid_v is None or ask_v is None or as_of_v is None:
        return errors, None
    return errors, Quote(book, base, quote, bid_v, ask_v, as_of_v, source)


def peg_quote(
    as_of: datetime,
    bid: Decimal = PEG_HKD_MOP,
    ask: Decimal = PEG_HKD_MOP,
    book: str = DEFAULT_BOOK,
    source: str = "peg",
) -> Quote:
    """The MOP-HKD peg as a quote: base HKD, quote MOP, 1.03 MOP per HKD unless a setting
    gives a bid/ask around it.

    The peg does not go stale: build it with ``as_of`` = the instant of the conversion.
    """
    return Quote(book, "HKD", "MOP", bid, ask, as_of, source)


def latest_quotes(
    quotes: Iterable[Quote], at: datetime, book: str | None = None
) -> dict[Pair, Quote]:
    """Per pair, the latest quote dated at or before ``at`` (in ``book`` if given).

    A quote dated after ``at`` is simply not usable yet: skipped, not an error. Between two
    quotes of the same pair and time, the later one in ``quotes`` wins.
    """
    at = _check_aware(at, "at")
    best: dict[Pair, Quote] = {}
    for q in quotes:
        if (book is not None and q.book != book) or q.as_of > at:
            continue
        held = best.get(q.pair)
        if held is None or q.as_of >= held.as_of:
            best[q.pair] = q
    return best


@dataclass(frozen=True, slots=True)
class Leg:
    """One quote used in one direction: ``bid`` sells its base, ``ask`` buys its base."""

    quote: Quote
    side: Side

    @property
    def sell(self) -> str:
        return self.quote.base if self.side == "bid" else self.quote.quote

    @property
    def buy(self) -> str:
        return self.quote.quote if self.side == "bid" else self.quote.base

    @property
    def factor(self) -> Fraction:
        """Buy units the customer gets per 1 sell unit: ``bid``, or ``1 / ask``."""
        if self.side == "bid":
            return Fraction(self.quote.bid)
        return 1 / Fraction(self.quote.ask)

    @property
    def mid_factor(self) -> Fraction:
        """The same direction at the mid: ``mid``, or ``1 / mid``."""
        if self.side == "bid":
            return self.quote.mid_fraction
        return 1 / self.quote.mid_fraction


@dataclass(frozen=True, slots=True)
class CrossRate:
    """The exact rate of one customer conversion ``sell -> buy``.

    ``factor`` is buy units the customer gets per 1 sell unit (major units), ``mid_factor`` the
    same path at mid rates; both exact ``Fraction``. ``legs`` are the quotes used, in order
    (empty for a dealt rate): enough to recompute and store the conversion.
    """

    sell: str
    buy: str
    factor: Fraction
    mid_factor: Fraction
    legs: tuple[Leg, ...]

    def display(self, places: int = 10) -> str:
        """``factor`` as decimal text for people (``"1.090152"``); never used for arithmetic.

        Exact when the factor has at most ``places`` decimals, else rounded ROUND_HALF_EVEN.
        """
        return fraction_text(self.factor, places)

    def mid_display(self, places: int = 10) -> str:
        return fraction_text(self.mid_factor, places)


def fraction_text(value: Fraction, places: int) -> str:
    """A positive ``value`` as decimal text for people: exact up to ``places`` decimals, else
    rounded half-even there, once; trailing zeros dropped. In integers only: a Decimal context
    would round a long number a second time."""
    scaled = value * 10**places
    quotient, remainder = divmod(scaled.numerator, scaled.denominator)
    twice = 2 * remainder
    if twice > scaled.denominator or (twice == scaled.denominator and quotient % 2 == 1):
        quotient += 1
    whole, frac = divmod(quotient, 10**places)
    return f"{whole}.{frac:0{places}d}".rstrip("0").rstrip(".") if places else str(whole)


def _direct(sell: str, buy: str, quotes: Mapping[Pair, Quote]) -> Leg | None:
    """The quote for ``sell -> buy`` as quoted, if any: ``(sell, buy)`` before ``(buy, sell)``."""
    candidates: tuple[tuple[Pair, Side], ...] = (((sell, buy), "bid"), ((buy, sell), "ask"))
    for pair, side in candidates:
        q = quotes.get(pair)
        if q is not None:
            if q.pair != pair:
                raise RateError("quote", f"quote for {q.base}/{q.quote} filed under {pair}")
            return Leg(q, side)
    return None


def _from_legs(sell: str, buy: str, legs: tuple[Leg, ...]) -> CrossRate:
    factor = Fraction(1)
    mid = Fraction(1)
    for leg in legs:
        factor *= leg.factor
        mid *= leg.mid_factor
    return CrossRate(sell, buy, factor, mid, legs)


def resolve(
    sell: str,
    buy: str,
    quotes: Mapping[Pair, Quote],
    pivots: tuple[str, ...] = DEFAULT_PIVOTS,
) -> CrossRate:
    """The rate at which a customer selling ``sell`` buys ``buy``.

    ``quotes`` maps ``(base, quote)`` to the latest usable quote (see :func:`latest_quotes`).
    A direct quote wins: ``(sell, buy)`` at its bid, else ``(buy, sell)`` at 1/ask. Otherwise the
    first pivot (in order) with both legs quoted, each leg resolved the same way, multiplied
    exactly. Raises :class:`NoRate` naming the pair when nothing resolves.
    """
    _check_currency(sell, "sell")
    _check_currency(buy, "buy")
    if sell == buy:
        raise NoRate(sell, buy, f"no conversion from {sell} to itself")
    direct = _direct(sell, buy, quotes)
    if direct is not None:
        return _from_legs(sell, buy, (direct,))
    for pivot in pivots:
        if pivot in (sell, buy):
            continue
        first = _direct(sell, pivot, quotes)
        second = _direct(pivot, buy, quotes)
        if first is not None and second is not None:
            return _from_legs(sell, buy, (first, second))
    raise NoRate(
        sell,
        buy,
        f"no rate for {sell}/{buy}: no quote {sell}/{buy} or {buy}/{sell}, "
        f"and no pivot through {', '.join(pivots) or 'nothing'}",
    )


def dealt_rate(sell: str, buy: str, rate: Decimal, base: str | None = None) -> CrossRate:
    """A rate agreed for one deal (an instruction's ``rate``): no spread, no legs.

    ``rate`` is quote units per 1 ``base``; ``base`` is ``sell`` unless given (``buy`` then
    means the customer gets ``amount / rate``).
    """
    _check_currency(sell, "sell")
    _check_currency(buy, "buy")
    if sell == buy:
        raise NoRate(sell, buy, f"no conversion from {sell} to itself")
    value = Fraction(_check_rate(rate, "rate"))
    if base is None or base == sell:
        factor = value
    elif base == buy:
        factor = 1 / value
    else:
        raise RateError("base", f"expected {sell} or {buy}, got {base!r}")
    return CrossRate(sell, buy, factor, factor, ())


def next_weekday(day: date) -> date:
    """The next Monday-to-Friday date: the calendar used when none is given."""
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def fresh_until(
    quote: Quote,
    limit: timedelta | None = None,
    *,
    business_days: int = 1,
    next_business_day: Callable[[date], date] = next_weekday,
) -> datetime:
    """The last instant at which ``quote`` is still usable.

    With ``limit``: ``as_of + limit``. Without (the default, "one business day"): the same
    clock time, in the quote's own offset, ``business_days`` business days after the quote's
    date, counted with ``next_business_day`` (the settlement engine passes its market calendar;
    Monday to Friday otherwise). A Friday 09:15 rate is thus usable until Monday 09:15.
    """
    if limit is not None:
        return quote.as_of + limit
    if business_days < 0:
        raise RateError("business_days", f"expected zero or more, got {business_days}")
    day = quote.as_of.date()
    for _ in range(business_days):
        following = next_business_day(day)
        if following <= day:
            raise RateError("next_business_day", f"returned {following} for {day}")
        day = following
    return datetime.combine(day, quote.as_of.timetz())


def check_fresh(
    quote: Quote,
    at: datetime,
    limit: timedelta | None = None,
    *,
    business_days: int = 1,
    next_business_day: Callable[[date], date] = next_weekday,
) -> None:
    """Raise :class:`StaleRate` if ``quote`` is past its limit at ``at`` (see :func:`fresh_until`).

    A quote dated after ``at`` is not usable either: :class:`NoRate` (the lookup,
    :func:`latest_quotes`, never hands one out).
    """
    at = _check_aware(at, "at")
    if quote.as_of > at:
        raise NoRate(
            quote.base,
            quote.quote,
            f"rate {quote.base}/{quote.quote} as of {quote.as_of.isoformat()} "
            f"is not usable before then (at {at.isoformat()})",
        )
    deadline = fresh_until(
        quote, limit, business_days=business_days, next_business_day=next_business_day
    )
    if at > deadline:
        described = str(limit) if limit is not None else f"{business_days} business day(s)"
        raise StaleRate(quote, at, described)


def check_rate_fresh(
    rate: CrossRate,
    at: datetime,
    limit: timedelta | None = None,
    *,
    business_days: int = 1,
    next_business_day: Callable[[date], date] = next_weekday,
) -> None:
    """:func:`check_fresh` for every leg of ``rate`` (a dealt rate has none)."""
    for leg in rate.legs:
        check_fresh(
            leg.quote, at, limit, business_days=business_days, next_business_day=next_business_day
        )
