"""Bank business days of the WMC markets: Mainland (``CN``), Hong Kong (``HK``), Macau (``MO``).

What this module guarantees:

* A day is a **business day** of a market when the market's banks settle on it. Saturdays and
  Sundays are closed unless listed as a make-up working day; a bank holiday is closed; a day in
  the override data is what the data says, whatever the rules above say (an override wins).
* All three markets keep UTC+8 (:data:`MARKET_TZ`) with no daylight saving, so a timestamp has
  one local date everywhere; :func:`value_date_for` converts any aware timestamp to it first.
* Every answer is a pure function of the date, the ``holidays`` package and the override data:
  no I/O beyond reading the shipped data files (and a user override file, when asked).

Where the holidays come from (``holidays`` 0.109), and why:

* ``CN``: category ``public`` (the State Council's holiday arrangement, including the bridging
  days off such as 28 Jan-4 Feb 2025) and its ``weekend_workdays``: the make-up working days
  (Sun 26 Jan and Sat 8 Feb 2025). Category ``half_day`` (Women's Day, Youth Day afternoons for
  some employees) is not a bank closure and is left out. The library estimates years the State
  Council has not announced yet, without their make-up days: ``data/makeup_workdays.csv`` and the
  closures file fill such years in.
* ``HK``: category ``optional``, which in ``holidays`` is Hong Kong's *general holidays* (General
  Holidays Ordinance, Cap. 149). Those are the bank holidays: banks close on general holidays and
  Sundays. The default ``public`` category is the *statutory* holidays of the Employment
  Ordinance, which lack Good Friday, the day after it, Easter Monday and the first weekday after
  Christmas, when banks are closed (e.g. Easter Monday 21 Apr 2025).
* ``MO``: Macau's bank holidays (the AMCM list) differ from its public holidays: they include
  the compensatory rest days ("the first weekday following ..."), and Easter Monday instead of the
  day before Easter. Of the library's three categories, ``public`` is only the ten statutory days
  of the labour law (no Good Friday, no Christmas); ``optional`` is the general public holidays
  without compensatory days; ``government`` is the civil service's days off, including the
  compensatory days, but without Good Friday. The bank list is their union, ``government`` +
  ``optional``, *less* the half-day afternoons (Lunar New Year's Eve and New Year's Eve
  afternoons: banks open in the morning, so the day still settles). Cross-checked against the
  2020 AMCM bank holiday list (27-29 Jan, 6 Apr, 10 Apr, 13 Apr, 30 Apr ...), where it agrees. In
  years when the civil service got a day that banks did not, reopen it in the closures file
  (``closed`` = ``false``).

Override data, merged over the library (an override wins over a holiday and over a weekend):

* ``settlement/data/makeup_workdays.csv`` (``market,date,note``): days that are open, such as the
  Mainland's make-up working days, for years or dates the library lacks.
* ``settlement/data/bank_closures.csv`` (``market,date,closed,note``): bank-specific days; with
  ``closed`` = ``true`` the day is closed (a bank holiday the library lacks), with ``false`` open.
* a user file in the closures format, read by :func:`read_day_overrides` and passed to
  :func:`build_calendar`. A closure wins over a make-up day listed for the same date.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Final

import holidays

from ledger.errors import InputError, LedgerError, Problem
from ledger.files import Field, Schema, parse_bool, read_rows

MARKETS: Final = ("CN", "HK", "MO")

#: Beijing, Hong Kong and Macau time: UTC+8 all year round.
MARKET_TZ: Final = timezone(timedelta(hours=8), "UTC+08:00")

DATA_DIR: Final = Path(__file__).resolve().parent / "data"
MAKEUP_WORKDAYS_FILE: Final = DATA_DIR / "makeup_workdays.csv"
BANK_CLOSURES_FILE: Final = DATA_DIR / "bank_closures.csv"

# Which `holidays` categories make a bank holiday, per market (see the module docstring).
_CATEGORIES: Final[dict[str, tuple[str, ...]]] = {
    "CN": ("public",),
    "HK": ("optional",),
    "MO": ("government", "optional"),
}

# Macau's civil-service half days: the afternoon only, banks settle in the morning. Names are
# read in en_US so the check does not depend on the default (Chinese) language.
_HALF_DAY_SUFFIX: Final = "(Afternoon)"

# A guard against a calendar whose data closes every day: no real market is shut this long.
_MAX_CLOSED_RUN: Final = 366

_SATURDAY: Final = 5


class CalendarError(LedgerError, ValueError):
    """A calendar cannot answer: an unknown market, a timestamp without an offset."""


class UnknownMarket(CalendarError):
    """A market code other than ``CN``, ``HK`` or ``MO``."""


@dataclass(frozen=True, slots=True)
class DayOverride:
    """One day of one market declared open (``closed=False``) or closed, whatever the rules say."""

    market: str
    day: date
    closed: bool
    note: str = ""


@dataclass(frozen=True, slots=True)
class Calendar:
    """The bank business days of one market.

    Build one with :func:`calendar` (cached, shipped data) or :func:`build_calendar` (with extra
    overrides). ``open_days`` and ``closed_days`` are the overrides; holidays of the library are
    computed per year on first use and kept (a cache that never changes an answer).
    """

    market: str
    open_days: frozenset[date] = frozenset()
    closed_days: frozenset[date] = frozenset()
    _years: dict[int, tuple[frozenset[date], frozenset[date]]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if self.market not in _CATEGORIES:
            raise UnknownMarket(
                f"unknown market {self.market!r} (expected one of {', '.join(MARKETS)})"
            )

    def holidays_of(self, year: int) -> frozenset[date]:
        """The library's bank holidays of ``year`` (before overrides; weekends not included)."""
        return self._year(year)[0]

    def makeup_days_of(self, year: int) -> frozenset[date]:
        """The library's make-up working days of ``year`` (weekend days that are open)."""
        return self._year(year)[1]

    def is_business_day(self, d: date) -> bool:
        if d in self.closed_days:
            return False
        if d in self.open_days:
            return True
        closed, makeup = self._year(d.year)
        if d.weekday() >= _SATURDAY:
            return d in makeup
        return d not in closed

    def next_business_day(self, d: date) -> date:
        """The first business day strictly after ``d``."""
        return self._step(d, 1)

    def previous_business_day(self, d: date) -> date:
        """The last business day strictly before ``d``."""
        return self._step(d, -1)

    def roll_forward(self, d: date) -> date:
        """``d`` if it is a business day, else the next one ("following" convention)."""
        return d if self.is_business_day(d) else self._step(d, 1)

    def add_business_days(self, d: date, n: int) -> date:
        """Move ``n`` business days from ``d``; ``d`` itself need not be a business day.

        ``n > 0`` counts business days after ``d`` (a Saturday + 1 is the Monday); ``n < 0``
        counts back; ``n == 0`` is :meth:`roll_forward`.
        """
        if n == 0:
            return self.roll_forward(d)
        step = 1 if n > 0 else -1
        for _ in range(abs(n)):
            d = self._step(d, step)
        return d

    def value_date_for(self, submitted_at: datetime, cutoff: time) -> date:
        """The value date of an instruction submitted at ``submitted_at`` (aware, any offset).

        The local (UTC+8) date if before ``cutoff`` and a business day; at or after the cut-off
        the next business day; a closed day rolls forward to the next business day.
        """
        if submitted_at.tzinfo is None or submitted_at.utcoffset() is None:
            raise CalendarError(
                f"timestamp {submitted_at.isoformat()} has no UTC offset "
                "(expected ISO 8601 with an offset, e.g. 2025-03-03T09:15:00+08:00)"
            )
        if cutoff.tzinfo is not None:
            raise CalendarError(f"cut-off {cutoff} must be a local time (UTC+8), without offset")
        local = submitted_at.astimezone(MARKET_TZ)
        day = local.date()
        if local.time() >= cutoff:
            return self.next_business_day(day)
        return self.roll_forward(day)

    def leg_value_date(self, requested: date) -> tuple[date, bool]:
        """The value date of this market's leg: ``requested`` if open, else the next business day.

        The flag tells whether the date moved.
        """
        actual = self.roll_forward(requested)
        return actual, actual != requested

    def _year(self, year: int) -> tuple[frozenset[date], frozenset[date]]:
        known = self._years.get(year)
        if known is None:
            known = self._years[year] = _library_year(self.market, year)
        return known

    def _step(self, d: date, step: int) -> date:
        one = timedelta(days=step)
        for _ in range(_MAX_CLOSED_RUN):
            d += one
            if self.is_business_day(d):
                return d
        start = d - one * _MAX_CLOSED_RUN
        raise CalendarError(
            f"{self.market}: no business day within {_MAX_CLOSED_RUN} days of {start}"
        )


_COUNTRY_MODULES: Final = {"CN": ("china", "China"), "HK": ("hongkong", "HongKong"),
                           "MO": ("macau", "Macau")}


@cache
def country_class(market: str) -> type[holidays.HolidayBase]:
    """The ``holidays`` class of ``market``, loaded from its own module alone.

    ``holidays.country_holidays`` (and any import of ``holidays.countries.X``) first runs the
    package ``holidays.countries``, which imports all of its 250 countries: a tenth of a second
    of every process that settles. The three markets' modules import only the library's core,
    so loading their files directly gives the same classes (a test holds them to
    ``country_holidays``). Should the library's layout change, the ordinary import is used.
    """
    module, name = _COUNTRY_MODULES[market]
    qualified = f"holidays.countries.{module}"
    loaded = sys.modules.get(qualified)
    if loaded is None:
        origin = Path(holidays.__file__).parent / "countries" / f"{module}.py"
        spec = importlib.util.spec_from_file_location(qualified, origin)
        if spec is None or spec.loader is None or not origin.is_file():
            loaded = importlib.import_module(qualified)
        else:
            loaded = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(loaded)
    cls: type[holidays.HolidayBase] = getattr(loaded, name)
    return cls


def _library_year(market: str, year: int) -> tuple[frozenset[date], frozenset[date]]:
    """``(bank holidays, make-up working days)`` of ``market`` in ``year`` per ``holidays``."""
    lib = country_class(market)(years=year, categories=_CATEGORIES[market], language="en_US")
    closed = frozenset(
        day
        for day in lib
        if not (market == "MO" and all(n.endswith(_HALF_DAY_SUFFIX) for n in lib.get_list(day)))
    )
    # `weekend_workdays` also keeps a few fixed dates of other years: keep this year's only.
    makeup = frozenset(d for d in getattr(lib, "weekend_workdays", ()) if d.year == year)
    return closed, makeup


def _parse_date(text: str) -> date:
    # date.fromisoformat also takes "20250304" and week dates: the files say YYYY-MM-DD only.
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise ValueError(f"a date YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"a real date YYYY-MM-DD, got {text!r}") from None


_OVERRIDE_SCHEMA: Final = Schema(
    (
        Field("market", required=True),
        Field("date", _parse_date, required=True),
        Field("closed", parse_bool, default=False),
        Field("note", default=""),
    )
)


def read_day_overrides(path: str | Path) -> tuple[DayOverride, ...]:
    """Read a CSV (or JSON Lines) of ``market,date[,closed][,note]`` rows.

    ``closed`` defaults to ``false`` (the day is open: a make-up working day). Any bad row
    refuses the whole file with an :class:`~ledger.errors.InputError` listing every problem.
    """
    problems: list[Problem] = []
    out: list[DayOverride] = []
    name = str(path)
    for line, row in read_rows(path, _OVERRIDE_SCHEMA, problems):
        market = row["market"]
        if market not in _CATEGORIES:
            problems.append(Problem(name, line, "market", f"one of {', '.join(MARKETS)}"))
            continue
        out.append(DayOverride(market, row["date"], row["closed"], row["note"] or ""))
    if problems:
        raise InputError(problems)
    return tuple(out)


@cache
def shipped_overrides() -> tuple[DayOverride, ...]:
    """The overrides shipped in ``settlement/data``: make-up working days, then closures."""
    return read_day_overrides(MAKEUP_WORKDAYS_FILE) + read_day_overrides(BANK_CLOSURES_FILE)


def build_calendar(market: str, overrides: Iterable[DayOverride] = ()) -> Calendar:
    """A calendar of ``market`` with the shipped data and then ``overrides`` merged in.

    For one date the last override wins, except that a closure beats an opening given in the
    same batch of overrides (a bank-specific closure on a make-up day closes it).
    """
    if market not in _CATEGORIES:
        raise UnknownMarket(f"unknown market {market!r} (expected one of {', '.join(MARKETS)})")
    state: dict[date, bool] = {}
    for group in (shipped_overrides(), tuple(overrides)):
        closed_here = {o.day for o in group if o.market == market and o.closed}
        for o in group:
            if o.market == market:
                state[o.day] = o.day in closed_here
    return Calendar(
        market,
        open_days=frozenset(d for d, closed in state.items() if not closed),
        closed_days=frozenset(d for d, closed in state.items() if closed),
    )


@cache
def calendar(market: str) -> Calendar:
    """The calendar of ``market`` (``CN``, ``HK``, ``MO``) with the shipped data; cached."""
    return build_calendar(market)


def value_date_for(submitted_at: datetime, market: str, cutoff: time) -> date:
    """:meth:`Calendar.value_date_for` on the shipped calendar of ``market``."""
    return calendar(market).value_date_for(submitted_at, cutoff)


def leg_value_date(requested: date, market: str) -> tuple[date, bool]:
    """:meth:`Calendar.leg_value_date` on the shipped calendar of ``market``."""
    return calendar(market).leg_value_date(requested)
