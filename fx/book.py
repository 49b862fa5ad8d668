"""Rates in the database, and the rate book that conversions look their rate up in.

Storing rates (``wmc load rates FILE``, :func:`load_rates_file`; from Python, :func:`load_rates`):

- A rates file is CSV or JSON Lines (``ledger.files``) with the columns ``base``, ``quote``,
  ``bid``, ``ask``, ``as_of`` (required), ``source`` and ``book`` (default ``"default"``). Every
  row is validated by :func:`fx.quotes.quote_errors`: a bad file (ask below bid, a zero,
  negative or exponent rate, a timestamp without offset, an unknown currency, ``CNH`` as a
  currency, an unknown column, ...) raises :class:`~ledger.errors.InputError` listing **every**
  problem as ``FILE:LINE: field 'NAME': ...``, and nothing is written.
- The key of a quote is ``(book, base, quote, instant of as_of)``. Loading is idempotent: a row
  whose key is stored with the same content (the same bid and ask as numbers, the same source)
  is a no-op; the same key with other content is a :class:`~ledger.errors.ConflictError` naming
  the stored row and the new one (with its ``FILE:LINE``), and nothing is written.
- Rates round-trip exactly: see :mod:`fx.schema` for the text encodings.

Looking rates up (:class:`RateBook`): the quotes of one or more books, read once per batch and
indexed per ``(book, base, quote)`` by time.

- :meth:`RateBook.quote_at` is the latest quote at or before an instant.
- :meth:`RateBook.rate_for` is the rate a customer selling ``sell`` for ``buy`` gets at ``at``:
  the latest quotes at or before ``at`` resolved by :func:`fx.quotes.resolve` (direct, then the
  inverse pair at 1/ask, then crosses through HKD, then USD, at full precision), each leg
  checked against the staleness limit (:func:`fx.quotes.check_fresh`, ``business_days`` counted
  with the caller's calendar). It raises :class:`~fx.quotes.NoRate` and
  :class:`~fx.quotes.StaleRate`, whose messages name the pair, the book and the timestamps.
- **The peg.** Unless ``peg`` is ``None``, HKD/MOP is quoted by the peg (HKD 100 = MOP 103; bid
  and ask are settings) whenever the book holds no HKD/MOP or MOP/HKD quote at or before ``at``:
  a quote the bank loaded into the book wins over the setting. The peg never goes stale; it is
  the quote ``Quote(book, "HKD", "MOP", bid, ask, PEG_AS_OF, "peg")``, dated the earliest
  instant there is, so it is recognisable in an entry's meta.
- **Speed.** :meth:`RateBook.view` gives the hot path's handle, :class:`BookRates`: one book
  under one set of rules (staleness, calendar, peg). It caches each resolution per
  ``(sell, buy)`` with the window of instants over which it holds: from the latest quote of any
  pair that could take part, up to but excluding the next quote of any such pair, and no later
  than the first leg used goes stale. Windows never overlap, so a lookup is a dict lookup, a
  bisection and two comparisons. :class:`FastRate` holds a rate's factors as integers in minor
  units, so :meth:`BookRates.convert` gives exactly the :class:`~fx.conversion.Conversion` of
  :func:`fx.conversion.convert` (the tests check it) at about a third of the cost. A RateBook
  is not thread-safe; use one per batch.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, insert, select, tuple_

from fx.conversion import Conversion, Rounding, convert
from fx.quotes import (
    DEFAULT_BOOK,
    DEFAULT_PIVOTS,
    PEG_HKD_MOP,
    CrossRate,
    NoRate,
    Pair,
    Quote,
    RateError,
    check_fresh,
    dealt_rate,
    fresh_until,
    make_quote,
    next_weekday,
    quote_errors,
    resolve,
)
from fx.schema import RateRow
from ledger.errors import ConflictError, InputError, Problem
from ledger.files import MAX_TEXT, Field, Schema, clean_text, read_rows
from ledger.money import currency
from ledger.records import record_rows
from ledger.refdata import LoadResult
from ledger.schema import KEY_LENGTH

PEG_SOURCE: Final = "peg"
PEG_AS_OF: Final = datetime.min.replace(tzinfo=UTC)
"""The date of the peg quote: the earliest instant, so that it is never the latest of a pair."""
DEFAULT_PEG: Final = (PEG_HKD_MOP, PEG_HKD_MOP)
"""The peg's (bid, ask), MOP per 1 HKD: HKD 100 = MOP 103 both ways unless a setting says so."""

_NEVER: Final = datetime.max.replace(tzinfo=UTC)
_ALWAYS: Final = PEG_AS_OF

RATE_SCHEMA: Final = Schema((
    Field("base", required=True),
    Field("quote", required=True),
    Field("bid", required=True),
    Field("ask", required=True),
    Field("as_of", required=True),
    Field("source", default=""),
    Field("book", default=DEFAULT_BOOK, limit=KEY_LENGTH),
))

NextBusinessDay = Callable[[date], date]
Peg = tuple[Decimal, Decimal]


# -- encodings -----------------------------------------------------------------------------------


def utc_text(at: datetime) -> str:
    """``at`` as fixed-width UTC text, ``2025-03-03T01:15:00.000000Z``: text order is time order."""
    try:
        utc = at.astimezone(UTC)
    except OverflowError:
        raise RateError(
            "as_of", f"expected a timestamp after year 1, got {at.isoformat()}"
        ) from None
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def rate_text(value: Decimal) -> str:
    """A rate as plain decimal text, every digit kept: ``Decimal(rate_text(d))`` is ``d``."""
    return format(value, "f")


def rate_row(quote: Quote, as_of_text: str | None = None) -> dict[str, str]:
    """The ``fx_rates`` row of ``quote``; ``as_of_text`` is the original text if there was one."""
    return {
        "book": quote.book,
        "base": quote.base,
        "quote": quote.quote,
        "as_of_utc": utc_text(quote.as_of),
        "as_of": as_of_text if as_of_text is not None else quote.as_of.isoformat(),
        "bid": rate_text(quote.bid),
        "ask": rate_text(quote.ask),
        "source": quote.source,
    }


def quote_from_row(row: Mapping[str, Any]) -> Quote:
    """The :class:`Quote` of a stored ``fx_rates`` row (validated again on the way in)."""
    return Quote(
        row["book"], row["base"], row["quote"], Decimal(row["bid"]), Decimal(row["ask"]),
        datetime.fromisoformat(row["as_of"]), row["source"] or "",
    )


# -- loading -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Incoming:
    quote: Quote
    as_of_text: str
    where: str  # "rates.csv:3", or "row 3" for Python values


def _describe(quote: Quote) -> str:
    return f"bid {quote.bid} ask {quote.ask} source {quote.source!r}"


def _same(a: Quote, b: Quote) -> bool:
    # Same key is a given (book, pair, instant); the same rates as numbers and the same source.
    return a.bid == b.bid and a.ask == b.ask and a.source == b.source


def _cnh_hint(error: RateError, value: object) -> str:
    if error.field in ("base", "quote") and value == "CNH":
        return (
            f"{error.expected} (CNH names a rate book, never a currency: "
            "use CNY with book CNH)"
        )
    return error.expected


def _store(conn: Connection, incoming: Sequence[_Incoming]) -> LoadResult:
    seen: dict[tuple[str, str, str, str], _Incoming] = {}
    for item in incoming:
        q = item.quote
        key = (q.book, q.base, q.quote, utc_text(q.as_of))
        held = seen.get(key)
        if held is None:
            seen[key] = item
        elif not _same(held.quote, q):
            raise ConflictError(
                f"rate {q.book} {q.base}/{q.quote} as of {item.as_of_text}: {item.where} has "
                f"{_describe(q)} but {held.where} has {_describe(held.quote)}"
            )
    t = RateRow.__table__.c
    cols = (t.book, t.base, t.quote, t.as_of_utc, t.as_of, t.bid, t.ask, t.source)
    keys = list(seen)
    stored: dict[tuple[str, str, str, str], Mapping[str, Any]] = {}
    for i in range(0, len(keys), 500):
        part = keys[i : i + 500]
        cond = tuple_(t.book, t.base, t.quote, t.as_of_utc).in_(part)
        for r in conn.execute(select(*cols).where(cond)):
            m = dict(r._mapping)
            stored[(m["book"], m["base"], m["quote"], m["as_of_utc"])] = m
    new: list[dict[str, str]] = []
    for key, item in seen.items():
        row = stored.get(key)
        if row is None:
            new.append(rate_row(item.quote, item.as_of_text))
            continue
        old = quote_from_row(row)
        if not _same(old, item.quote):
            q = item.quote
            raise ConflictError(
                f"rate {q.book} {q.base}/{q.quote} as of {item.as_of_text} exists with "
                f"different content: stored {_describe(old)} (as of {row['as_of']}), "
                f"{item.where} has {_describe(q)}"
            )
    if new:
        conn.execute(insert(RateRow), new)
        record_rows(conn, "fx_rates", new)
    return LoadResult("rates", len(incoming), len(new), len(incoming) - len(new))


def load_rates(
    conn: Connection, rows: Iterable[Quote | Mapping[str, Any]]
) -> LoadResult:
    """Load quotes given as :class:`Quote` values or as rows of Python values.

    A row is a mapping with ``base``, ``quote``, ``bid``, ``ask`` (``Decimal`` or plain decimal
    text), ``as_of`` (an aware ``datetime`` or ISO text with offset), and optionally ``source``
    and ``book``. Every bad row is reported at once (``InputError``, rows counted from 1);
    idempotent as described in the module docstring. The caller owns the transaction.
    """
    problems: list[Problem] = []
    incoming: list[_Incoming] = []
    for i, row in enumerate(rows, start=1):
        where = f"row {i}"
        if isinstance(row, Quote):
            incoming.append(_Incoming(row, row.as_of.isoformat(), where))
            continue
        texts: dict[str, str] = {}
        for field, limit in (("source", MAX_TEXT), ("book", KEY_LENGTH)):
            value = row.get(field) or ""
            try:  # what the file reader does to every text field
                texts[field] = clean_text(value, limit) if isinstance(value, str) else value
            except ValueError as exc:
                problems.append(Problem("rates", i, field, str(exc)))
        if len(texts) < 2:
            continue
        args = (
            row.get("base"), row.get("quote"), row.get("bid"), row.get("ask"),
            row.get("as_of"), texts["source"], texts["book"] or DEFAULT_BOOK,
        )
        try:
            q = make_quote(*args)  # type: ignore[arg-type]
        except RateError:
            problems.extend(
                Problem("rates", i, e.field, _cnh_hint(e, row.get(e.field)))
                for e in quote_errors(*args)  # type: ignore[arg-type]
            )
            continue
        as_of = row["as_of"]
        incoming.append(_Incoming(q, as_of if isinstance(as_of, str) else q.as_of.isoformat(),
                                  where))
    if problems:
        raise InputError(problems)
    return _store(conn, incoming)


def load_rates_file(conn: Connection, path: str | Path) -> LoadResult:
    """``wmc load rates FILE``: a CSV or JSONL rates file, all or nothing (see module docstring).

    The caller owns the transaction; on any error nothing of the file has been written.
    """
    name = str(path)
    problems: list[Problem] = []
    incoming: list[_Incoming] = []
    for line, r in read_rows(path, RATE_SCHEMA, problems):
        args = (r["base"], r["quote"], r["bid"], r["ask"], r["as_of"], r["source"], r["book"])
        try:
            q = make_quote(*args)
        except RateError:
            problems.extend(
                Problem(name, line, e.field, _cnh_hint(e, r.get(e.field)))
                for e in quote_errors(*args)
            )
            continue
        incoming.append(_Incoming(q, r["as_of"], f"{name}:{line}"))
    if problems:
        raise InputError(sorted(problems, key=lambda p: p.line))
    return _store(conn, incoming)


def stored_quotes(conn: Connection, books: Iterable[str] | None = None) -> list[Quote]:
    """Every stored quote (of ``books`` if given), ordered by book, pair and time."""
    t = RateRow.__table__.c
    stmt = select(t.book, t.base, t.quote, t.as_of, t.bid, t.ask, t.source)
    if books is not None:
        wanted = sorted(set(books))
        if not wanted:
            return []
        stmt = stmt.where(t.book.in_(wanted))
    stmt = stmt.order_by(t.book, t.base, t.quote, t.as_of_utc)
    return [quote_from_row(dict(r._mapping)) for r in conn.execute(stmt)]


# -- fast, exact conversion ----------------------------------------------------------------------




@dataclass(frozen=True, slots=True)
class FastRate:
    """A :class:`CrossRate` with its factors as integers in minor units, for the hot path.

    ``exact_num / exact_den`` is buy minor units per sell minor unit at the customer's rate,
    ``mid_num / mid_den`` the same at mid, ``spread_num / spread_den`` their difference.
    """

    rate: CrossRate
    exact_num: int
    exact_den: int
    mid_num: int
    mid_den: int
    spread_num: int
    spread_den: int

    @classmethod
    def of(cls, rate: CrossRate) -> FastRate:
        scale = Fraction(currency(rate.buy).scale, currency(rate.sell).scale)
        exact = rate.factor * scale
        mid = rate.mid_factor * scale
        spread = mid - exact
        return cls(
            rate, exact.numerator, exact.denominator, mid.numerator, mid.denominator,
            spread.numerator, spread.denominator,
        )

    @classmethod
    def dealt(cls, sell: str, buy: str, rate: Decimal) -> FastRate:
        """``FastRate.of(dealt_rate(sell, buy, rate))``, kept for the process (the last
        :data:`DEALT_RATES_KEPT`): a rate dealt to many customers makes its exact fractions
        once, and the meta that records it (:func:`fx.booking.rate_meta`, kept per rate object)
        once too. Equal rates (``0.94``, ``0.9400``) give one and the same answer."""
        if isinstance(rate, Decimal) and rate.is_finite():
            return _dealt(sell, buy, rate)
        return cls.of(dealt_rate(sell, buy, rate))  # raises RateError, naming the rate

    def convert(self, amount: int, mode: Rounding = Rounding.HALF_EVEN) -> Conversion:
        """Exactly :func:`fx.conversion.convert` ``(amount, self.rate, mode)``, in integers."""
        buy, mid, spread, rounding = self.amounts(amount, mode)
        rate = self.rate
        return Conversion(
            rate.sell, rate.buy, amount, buy, mid, spread, rounding,
            Fraction(amount * self.exact_num, self.exact_den),
            Fraction(amount * self.mid_num, self.mid_den), mode, rate,
        )

    def amounts(self, amount: int,
                mode: Rounding = Rounding.HALF_EVEN) -> tuple[int, int, int, int]:
        """The buy, mid, spread and rounding amounts of :meth:`convert`, without the exact
        values as fractions: what the settlement hot path needs of a conversion."""
        if type(amount) is not int or amount <= 0:
            return self._by_convert(amount, mode)  # raises the same AmountError
        q, r = divmod(amount * self.exact_num, ed := self.exact_den)
        if mode is Rounding.HALF_EVEN:
            twice = 2 * r
            buy = q + 1 if twice > ed or (twice == ed and q & 1) else q
        elif mode is Rounding.FLOOR:
            buy = q
        elif mode is Rounding.HALF_UP:
            buy = q + 1 if 2 * r >= ed else q  # the value is positive: a half goes up
        else:
            return self._by_convert(amount, mode)  # raises for an unknown mode
        q, r = divmod(amount * self.mid_num, md := self.mid_den)
        twice = 2 * r
        mid = q + 1 if twice > md or (twice == md and q & 1) else q
        q, r = divmod(amount * self.spread_num, sd := self.spread_den)
        twice = 2 * r
        spread = q + 1 if twice > sd or (twice == sd and q & 1) else q
        return buy, mid, spread, mid - buy - spread

    def _by_convert(self, amount: int, mode: Rounding) -> tuple[int, int, int, int]:
        c = convert(amount, self.rate, mode)
        return c.buy_amount, c.mid_amount, c.spread, c.rounding


DEALT_RATES_KEPT: Final = 4096


@lru_cache(maxsize=DEALT_RATES_KEPT)
def _dealt(sell: str, buy: str, rate: Decimal) -> FastRate:
    return FastRate.of(dealt_rate(sell, buy, rate))


# -- the rate book -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Timeline:
    times: list[datetime]
    quotes: list[Quote]


# (valid from, valid until (excluded), fresh until (included), the rate), all bounds in UTC.
_Window = tuple[datetime, datetime, datetime, FastRate]
_Rules = tuple[str, int, NextBusinessDay | None, Peg | None]


class RateBook:
    """The quotes of one or more rate books, indexed for lookups (see the module docstring)."""

    def __init__(
        self, quotes: Iterable[Quote] = (), *, pivots: tuple[str, ...] = DEFAULT_PIVOTS
    ) -> None:
        self.pivots = pivots
        self._lines: dict[tuple[str, str, str], _Timeline] = {}
        self._views: dict[_Rules, BookRates] = {}
        self._pegs: dict[tuple[str, Peg], Quote] = {}
        self._pairs: dict[Pair, tuple[Pair, ...]] = {}
        self.add(quotes)

    @classmethod
    def load(
        cls,
        conn: Connection,
        books: Iterable[str] | None = None,
        *,
        pivots: tuple[str, ...] = DEFAULT_PIVOTS,
    ) -> RateBook:
        """Every stored quote of ``books`` (all books if ``None``), read in one query."""
        return cls(stored_quotes(conn, books), pivots=pivots)

    def add(self, quotes: Iterable[Quote]) -> None:
        """Add quotes; a quote of the same book, pair and instant replaces the one held."""
        for q in quotes:
            if not isinstance(q, Quote):
                raise RateError("quote", f"expected a Quote, got {type(q).__name__}")
            line = self._lines.setdefault((q.book, q.base, q.quote), _Timeline([], []))
            i = bisect_right(line.times, q.as_of)
            if i and line.times[i - 1] == q.as_of:
                line.quotes[i - 1] = q
            else:
                insort(line.times, q.as_of)
                line.quotes.insert(i, q)
        for view in self._views.values():
            view.clear()

    @property
    def books(self) -> frozenset[str]:
        return frozenset(book for book, _, _ in self._lines)

    def __len__(self) -> int:
        return sum(len(line.quotes) for line in self._lines.values())

    def quotes(self, book: str | None = None) -> Iterator[Quote]:
        """The quotes held (of ``book`` if given), by book, pair and time."""
        for key in sorted(self._lines):
            if book is None or key[0] == book:
                yield from self._lines[key].quotes

    def quote_at(self, book: str, base: str, quote: str, at: datetime) -> Quote | None:
        """The latest quote of ``base/quote`` in ``book`` dated at or before ``at``, if any."""
        line = self._lines.get((book, base, quote))
        if line is None:
            return None
        i = bisect_right(line.times, _aware(at))
        return line.quotes[i - 1] if i else None

    def view(
        self,
        book: str = DEFAULT_BOOK,
        *,
        staleness_business_days: int = 1,
        next_business_day: NextBusinessDay | None = None,
        peg: Peg | None = DEFAULT_PEG,
    ) -> BookRates:
        """The rates of ``book`` under these rules, with their own cache: the hot path's handle."""
        rules = (book, staleness_business_days, next_business_day, peg)
        try:
            found = self._views.get(rules)
        except TypeError:  # an unhashable calendar: a view of its own, not shared
            return BookRates(self, *rules)
        if found is None:
            found = self._views[rules] = BookRates(self, *rules)
        return found

    def rate_for(
        self,
        sell: str,
        buy: str,
        *,
        at: datetime,
        book: str = DEFAULT_BOOK,
        staleness_business_days: int = 1,
        next_business_day: NextBusinessDay | None = None,
        peg: Peg | None = DEFAULT_PEG,
    ) -> CrossRate:
        """The rate at which a customer selling ``sell`` buys ``buy`` at ``at`` in ``book``.

        Raises :class:`~fx.quotes.NoRate` or :class:`~fx.quotes.StaleRate`.
        """
        view = self.view(
            book, staleness_business_days=staleness_business_days,
            next_business_day=next_business_day, peg=peg,
        )
        return view.fast_rate(sell, buy, at).rate

    def convert(
        self,
        amount: int,
        sell: str,
        buy: str,
        *,
        at: datetime,
        book: str = DEFAULT_BOOK,
        mode: Rounding = Rounding.HALF_EVEN,
        staleness_business_days: int = 1,
        next_business_day: NextBusinessDay | None = None,
        peg: Peg | None = DEFAULT_PEG,
    ) -> Conversion:
        """Convert ``amount`` minor units of ``sell`` at the book's rate at ``at``, in ``mode``."""
        view = self.view(
            book, staleness_business_days=staleness_business_days,
            next_business_day=next_business_day, peg=peg,
        )
        return view.fast_rate(sell, buy, at).convert(amount, mode)

    # -- internals ------------------------------------------------------------------------------

    def _relevant(self, sell: str, buy: str) -> tuple[Pair, ...]:
        """Every pair :func:`fx.quotes.resolve` may read for ``sell -> buy``, either way round."""
        pairs = self._pairs.get((sell, buy))
        if pairs is None:
            found: list[Pair] = [(sell, buy), (buy, sell)]
            for pivot in self.pivots:
                if pivot not in (sell, buy):
                    found += [(sell, pivot), (pivot, sell), (pivot, buy), (buy, pivot)]
            pairs = self._pairs[(sell, buy)] = tuple(dict.fromkeys(found))
        return pairs

    def _peg(self, book: str, peg: Peg) -> Quote:
        quote = self._pegs.get((book, peg))
        if quote is None:
            quote = Quote(book, "HKD", "MOP", peg[0], peg[1], PEG_AS_OF, PEG_SOURCE)
            self._pegs[(book, peg)] = quote
        return quote

    def _resolve(self, rules: _Rules, sell: str, buy: str, at: datetime) -> _Window:
        """Resolve ``sell -> buy`` at ``at`` (UTC) and the window over which the answer holds."""
        book, business_days, next_business_day, peg = rules
        latest: dict[Pair, Quote] = {}
        lo, hi = _ALWAYS, _NEVER
        for base, quote in self._relevant(sell, buy):
            line = self._lines.get((book, base, quote))
            if line is None:
                continue
            i = bisect_right(line.times, at)
            if i:
                latest[(base, quote)] = line.quotes[i - 1]
                lo = max(lo, line.times[i - 1])
            if i < len(line.times):
                hi = min(hi, line.times[i])
        peg_quote = None
        if peg is not None and ("HKD", "MOP") not in latest and ("MOP", "HKD") not in latest:
            peg_quote = latest[("HKD", "MOP")] = self._peg(book, peg)
        try:
            rate = resolve(sell, buy, latest, self.pivots)
        except NoRate as exc:
            raise NoRate(sell, buy, f"{exc} (book {book!r}, at {at.isoformat()})") from None
        calendar = next_business_day or next_weekday
        deadline = _NEVER
        for leg in rate.legs:
            if leg.quote is peg_quote:
                continue
            check_fresh(
                leg.quote, at, business_days=business_days, next_business_day=calendar
            )
            until = fresh_until(leg.quote, business_days=business_days, next_business_day=calendar)
            deadline = min(deadline, until.astimezone(UTC))
        return lo.astimezone(UTC), hi.astimezone(UTC), deadline, FastRate.of(rate)


class BookRates:
    """The rates of one book under one set of rules (staleness, calendar, peg), cached.

    Made by :meth:`RateBook.view`. Lookups are positional and keyed by ``(sell, buy)`` only; a
    cache hit costs a dict lookup, a bisection over the pair's windows and two comparisons.
    """

    __slots__ = ("_book", "_cache", "_last_at", "_last_utc", "rules")

    def __init__(
        self,
        book: RateBook,
        name: str,
        staleness_business_days: int,
        next_business_day: NextBusinessDay | None,
        peg: Peg | None,
    ) -> None:
        self._book = book
        self.rules: _Rules = (name, staleness_business_days, next_business_day, peg)
        # Per pair: the windows met so far, sorted by start (they never overlap: each is a
        # span between two consecutive quote times of the pairs involved), and their starts.
        self._cache: dict[Pair, tuple[list[datetime], list[_Window]]] = {}
        self._last_at: datetime | None = None
        self._last_utc: datetime = _ALWAYS

    @property
    def name(self) -> str:
        """The rate book's name."""
        return self.rules[0]

    def clear(self) -> None:
        self._cache.clear()

    def rate_for(self, sell: str, buy: str, at: datetime) -> CrossRate:
        """See :meth:`RateBook.rate_for`."""
        return self.fast_rate(sell, buy, at).rate

    def convert(
        self, amount: int, sell: str, buy: str, at: datetime, mode: Rounding = Rounding.HALF_EVEN
    ) -> Conversion:
        """See :meth:`RateBook.convert`."""
        return self.fast_rate(sell, buy, at).convert(amount, mode)

    def fast_rate(self, sell: str, buy: str, at: datetime) -> FastRate:
        """:meth:`rate_for` as a :class:`FastRate`."""
        if at is self._last_at:
            utc = self._last_utc
        else:
            tz = at.tzinfo
            if tz is UTC:
                utc = at
            elif tz is None:
                raise RateError("at", f"expected a timestamp with a UTC offset, got {at!r}")
            else:
                utc = at.astimezone(UTC)
            self._last_at = at
            self._last_utc = utc
        cached = self._cache.get((sell, buy))
        if cached is None:
            cached = self._cache[(sell, buy)] = ([], [])
        starts, windows = cached
        i = bisect_right(starts, utc) - 1
        if i >= 0:
            _, hi, deadline, fast = windows[i]
            if utc < hi and utc <= deadline:
                return fast
        window = self._book._resolve(self.rules, sell, buy, _aware(at))
        i = bisect_right(starts, window[0])
        if i and starts[i - 1] == window[0]:
            windows[i - 1] = window
        else:
            starts.insert(i, window[0])
            windows.insert(i, window)
        return window[3]


def _aware(at: datetime) -> datetime:
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise RateError("at", f"expected a timestamp with a UTC offset, got {at!r}")
    return at
