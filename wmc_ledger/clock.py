"""Clocks: where the ledger's idea of "now" comes from.

A clock is any callable returning an aware ``datetime``. The ledger asks it for the time it
stamps on what it posts (``posted_at``, a batch's ``committed_at``), for the default instant of a
conversion's rate and for the default value date (the clock's day in UTC+8, the GBA's time).
Inject a :class:`FixedClock` and a scenario gives the same hashes, ids and reports on every run;
leave it out and the ledger reads the system clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Final

from ledger.errors import InputError

Clock = Callable[[], dt.datetime]
"""What the ledger calls for the current time: no arguments, an aware ``datetime``."""

GBA_TIME: Final = dt.timezone(dt.timedelta(hours=8), "UTC+08:00")
"""Beijing, Hong Kong and Macau time: UTC+8, no daylight saving."""

DEFAULT_START: Final = dt.datetime(2025, 3, 3, 18, 0, tzinfo=GBA_TIME)
"""Where a :class:`FixedClock` starts unless told: Monday 3 March 2025, 18:00 in the GBA, a
business day in all three markets, after the HKD and MOP cut-offs and before the RMB one."""


def system_clock() -> dt.datetime:
    """The system's time, in UTC+8."""
    return dt.datetime.now(GBA_TIME)


def aware(at: dt.datetime | str, what: str = "time") -> dt.datetime:
    """``at`` (a ``datetime`` or ISO 8601 text) as an aware ``datetime``; naive is refused."""
    value = dt.datetime.fromisoformat(at) if isinstance(at, str) else at
    if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{what}: expected an aware datetime with an offset, got {at!r}")
    return value


class FixedClock:
    """A clock that stands still until the test moves it.

    Every call returns :attr:`now`, then moves it on by ``tick`` (zero by default: the same
    instant every time). :meth:`advance` and :meth:`set` move it explicitly. Two runs of a
    scenario with clocks that start at the same instant see the same times.

    >>> clock = FixedClock("2025-03-03T09:15:00+08:00")
    >>> clock().isoformat()
    '2025-03-03T09:15:00+08:00'
    >>> clock.advance(hours=1).isoformat()
    '2025-03-03T10:15:00+08:00'
    """

    def __init__(
        self, start: dt.datetime | str = DEFAULT_START, *, tick: dt.timedelta = dt.timedelta(0)
    ) -> None:
        self._now = aware(start, "clock start")
        if tick < dt.timedelta(0):
            raise InputError(f"clock tick: expected a step of zero or more, got {tick}")
        self._tick = tick

    @property
    def now(self) -> dt.datetime:
        """The instant the next call returns."""
        return self._now

    @property
    def today(self) -> dt.date:
        """The day of :attr:`now` in UTC+8 (the ledger's default value date)."""
        return self._now.astimezone(GBA_TIME).date()

    def __call__(self) -> dt.datetime:
        now = self._now
        self._now = now + self._tick
        return now

    def advance(
        self,
        delta: dt.timedelta | None = None,
        *,
        days: int = 0,
        hours: int = 0,
        minutes: int = 0,
        seconds: int = 0,
    ) -> dt.datetime:
        """Move the clock forward (never back) and return the new :attr:`now`."""
        step = (delta or dt.timedelta(0)) + dt.timedelta(
            days=days, hours=hours, minutes=minutes, seconds=seconds
        )
        if step < dt.timedelta(0):
            raise InputError(f"clock: cannot go back in time by {-step}")
        self._now += step
        return self._now

    def set(self, at: dt.datetime | str) -> dt.datetime:
        """Put the clock at ``at`` (any aware instant, earlier ones too) and return it."""
        self._now = aware(at, "clock")
        return self._now

    def __repr__(self) -> str:
        return f"FixedClock({self._now.isoformat()!r}, tick={self._tick!r})"
