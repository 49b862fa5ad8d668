"""Bank business days of CN, HK and MO; cut-offs; a leg moved by its own market only."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from ledger.errors import InputError, LedgerError
from settlement.calendars import (
    MARKETS,
    CalendarError,
    DayOverride,
    UnknownMarket,
    build_calendar,
    calendar,
    leg_value_date,
    read_day_overrides,
    value_date_for,
)

UTC8 = timezone(timedelta(hours=8))
RMB_CUTOFF = time(19, 30)


# -- Mainland 2025: Spring Festival with its make-up working days -------------------------------


@pytest.mark.parametrize(
    ("day", "open_"),
    [
        (date(2025, 1, 25), False),  # Saturday
        (date(2025, 1, 26), True),  # Sunday, make-up working day
        (date(2025, 1, 27), True),  # Monday, before the holiday
        (date(2025, 1, 28), False),  # Spring Festival 28 Jan - 4 Feb
        (date(2025, 1, 29), False),
        (date(2025, 1, 31), False),
        (date(2025, 2, 1), False),
        (date(2025, 2, 3), False),
        (date(2025, 2, 4), False),
        (date(2025, 2, 5), True),
        (date(2025, 2, 8), True),  # Saturday, make-up working day
        (date(2025, 2, 9), False),  # Sunday
    ],
)
def test_mainland_2025_spring_festival(day: date, open_: bool) -> None:
    assert calendar("CN").is_business_day(day) is open_


def test_mainland_rolls_over_the_holiday() -> None:
    cn = calendar("CN")
    assert cn.next_business_day(date(2025, 1, 27)) == date(2025, 2, 5)
    assert cn.next_business_day(date(2025, 1, 24)) == date(2025, 1, 26)  # Fri -> make-up Sun
    assert cn.roll_forward(date(2025, 1, 30)) == date(2025, 2, 5)
    assert cn.roll_forward(date(2025, 1, 27)) == date(2025, 1, 27)
    assert cn.add_business_days(date(2025, 1, 27), 2) == date(2025, 2, 6)
    assert cn.add_business_days(date(2025, 2, 5), -1) == date(2025, 1, 27)
    assert cn.add_business_days(date(2025, 2, 1), 0) == date(2025, 2, 5)


def test_mainland_makeup_days_are_shipped_as_data() -> None:
    # The data file alone opens the make-up days, should the library lack them.
    rows = read_day_overrides(Path(__file__).parents[1] / "settlement/data/makeup_workdays.csv")
    assert {r.day for r in rows if r.market == "CN"} >= {date(2025, 1, 26), date(2025, 2, 8)}
    assert all(not r.closed and r.day.weekday() >= 5 for r in rows)


# -- Hong Kong and Macau -------------------------------------------------------------------------


def test_hong_kong_general_holidays_are_bank_holidays() -> None:
    hk = calendar("HK")
    assert not hk.is_business_day(date(2025, 7, 1))  # HKSAR Establishment Day (Tuesday)
    assert not hk.is_business_day(date(2025, 4, 21))  # Easter Monday: a general holiday only
    assert not hk.is_business_day(date(2025, 12, 26))  # first weekday after Christmas
    assert hk.is_business_day(date(2025, 7, 2))
    assert calendar("MO").is_business_day(date(2025, 7, 1))
    assert calendar("CN").is_business_day(date(2025, 7, 1))


def test_macau_only_holiday() -> None:
    # Feast of the Immaculate Conception, Monday 8 Dec 2025: Macau banks shut, Hong Kong open.
    assert not calendar("MO").is_business_day(date(2025, 12, 8))
    assert calendar("HK").is_business_day(date(2025, 12, 8))
    assert calendar("CN").is_business_day(date(2025, 12, 8))


def test_macau_bank_holidays_differ_from_public_holidays() -> None:
    mo = calendar("MO")
    # Compensatory rest days ("the first weekday following") are bank holidays...
    assert not mo.is_business_day(date(2025, 12, 22))  # for MSAR Day, Sat 20 Dec
    assert not mo.is_business_day(date(2025, 4, 21))  # for the day before Easter
    assert not mo.is_business_day(date(2025, 4, 18))  # Good Friday
    # ...the civil service's half-day afternoons are not: banks open in the morning.
    assert mo.is_business_day(date(2025, 1, 28))  # Lunar New Year's Eve
    assert mo.is_business_day(date(2025, 12, 31))  # New Year's Eve
    # 2020, as published by the banks: 28-29 Jan, 13 Apr (Easter Monday) closed.
    for day in (date(2020, 1, 28), date(2020, 1, 29), date(2020, 4, 13), date(2020, 10, 5)):
        assert not mo.is_business_day(day)


def test_weekends_are_closed_everywhere_unless_makeup() -> None:
    for market in MARKETS:
        cal = calendar(market)
        assert not cal.is_business_day(date(2025, 3, 1))  # Saturday
        assert not cal.is_business_day(date(2025, 3, 2))  # Sunday
        assert cal.is_business_day(date(2025, 3, 3))
    assert not calendar("HK").is_business_day(date(2025, 2, 8))  # a Mainland make-up day only


def test_unknown_market_is_a_ledger_error() -> None:
    with pytest.raises(UnknownMarket, match="'SG'") as info:
        calendar("SG")
    assert isinstance(info.value, LedgerError)
    with pytest.raises(UnknownMarket):
        leg_value_date(date(2025, 3, 3), "CNH")


def test_calendar_is_cached() -> None:
    assert calendar("HK") is calendar("HK")


# -- cut-off: the RMB route at 19:30 -------------------------------------------------------------


def test_before_the_cutoff_is_same_day() -> None:
    at = datetime(2025, 3, 3, 19, 29, 59, tzinfo=UTC8)
    assert value_date_for(at, "CN", RMB_CUTOFF) == date(2025, 3, 3)


def test_at_the_cutoff_is_next_business_day() -> None:
    at = datetime(2025, 3, 3, 19, 30, tzinfo=UTC8)
    assert value_date_for(at, "CN", RMB_CUTOFF) == date(2025, 3, 4)


def test_friday_evening_goes_to_monday() -> None:
    at = datetime(2025, 3, 7, 20, 0, tzinfo=UTC8)
    assert value_date_for(at, "HK", RMB_CUTOFF) == date(2025, 3, 10)


def test_weekend_submission_rolls_forward() -> None:
    at = datetime(2025, 3, 8, 9, 0, tzinfo=UTC8)  # Saturday morning
    assert value_date_for(at, "MO", RMB_CUTOFF) == date(2025, 3, 10)


def test_after_cutoff_before_the_mainland_holiday() -> None:
    at = datetime(2025, 1, 27, 19, 45, tzinfo=UTC8)
    assert value_date_for(at, "CN", RMB_CUTOFF) == date(2025, 2, 5)


def test_other_offset_is_converted_to_utc8() -> None:
    # 11:30 UTC on Monday is 19:30 in Beijing: at the cut-off.
    assert value_date_for(datetime(2025, 3, 3, 11, 30, tzinfo=UTC), "CN", RMB_CUTOFF) == date(
        2025, 3, 4
    )
    # 23:00 on Sunday in New York (UTC-5) is 12:00 Monday in Hong Kong: before the cut-off.
    new_york = timezone(timedelta(hours=-5))
    assert value_date_for(datetime(2025, 3, 2, 23, 0, tzinfo=new_york), "HK", RMB_CUTOFF) == date(
        2025, 3, 3
    )


def test_naive_timestamp_is_refused() -> None:
    with pytest.raises(CalendarError, match="offset"):
        value_date_for(datetime(2025, 3, 3, 9, 0), "CN", RMB_CUTOFF)


# -- a closed day moves only that market's leg ---------------------------------------------------


def test_closed_day_moves_only_that_markets_leg() -> None:
    day = date(2025, 7, 1)  # closed in Hong Kong only
    assert leg_value_date(day, "HK") == (date(2025, 7, 2), True)
    assert leg_value_date(day, "MO") == (day, False)
    assert leg_value_date(day, "CN") == (day, False)
    mainland_closed = date(2025, 10, 2)  # National Day week; open in Hong Kong
    assert leg_value_date(mainland_closed, "CN") == (date(2025, 10, 9), True)
    assert leg_value_date(mainland_closed, "HK") == (mainland_closed, False)


# -- overrides -----------------------------------------------------------------------------------


def test_overrides_close_and_open_days() -> None:
    cal = build_calendar(
        "HK",
        [
            DayOverride("HK", date(2025, 3, 4), closed=True, note="typhoon signal 8"),
            DayOverride("HK", date(2025, 3, 8), closed=False, note="special Saturday"),
            DayOverride("MO", date(2025, 3, 5), closed=True),  # another market: ignored
        ],
    )
    assert not cal.is_business_day(date(2025, 3, 4))
    assert cal.is_business_day(date(2025, 3, 8))
    assert cal.is_business_day(date(2025, 3, 5))
    assert cal.next_business_day(date(2025, 3, 3)) == date(2025, 3, 5)
    assert calendar("HK").is_business_day(date(2025, 3, 4))  # the shipped calendar is untouched


def test_closure_beats_makeup_day() -> None:
    cal = build_calendar("CN", [DayOverride("CN", date(2025, 1, 26), closed=True)])
    assert not cal.is_business_day(date(2025, 1, 26))


def test_read_day_overrides(tmp_path: Path) -> None:
    good = tmp_path / "days.csv"
    good.write_text("market,date,closed,note\nMO,2025-03-04,true,bank-only\nCN,2027-02-20,false,\n")
    rows = read_day_overrides(good)
    assert rows == (
        DayOverride("MO", date(2025, 3, 4), True, "bank-only"),
        DayOverride("CN", date(2027, 2, 20), False, ""),
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "market,date,closed\nSG,2025-03-04,true\nMO,2025-02-30,true\nHK,2025-03-04,maybe\n"
        "CN,20250304,true\n"
    )
    with pytest.raises(InputError) as info:
        read_day_overrides(bad)
    fields = [(p.line, p.field) for p in info.value.problems]
    assert fields == [(2, "market"), (3, "date"), (4, "closed"), (5, "date")]
