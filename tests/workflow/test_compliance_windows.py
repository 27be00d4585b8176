"""Windows are local calendar months and quarters, half-open, converted to UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from workflow.compliance.windows import window_for_day, window_of, windows_between
from workflow.content import Window

NY = "America/New_York"
LA = "America/Los_Angeles"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_a_month_in_new_york_runs_from_local_midnight_to_local_midnight() -> None:
    january = window_for_day(date(2027, 1, 17), Window.MONTH, NY)
    assert january.label == "2027-01"
    assert (january.first_day, january.last_day) == (date(2027, 1, 1), date(2027, 1, 31))
    # EST is UTC-5: 00:00 local = 05:00 UTC
    assert january.start == utc(2027, 1, 1, 5)
    assert january.end == utc(2027, 2, 1, 5)


def test_west_of_utc_the_last_half_hour_of_january_is_february_in_utc() -> None:
    # 2027-01-31 23:30 PST (UTC-8) = 2027-02-01 07:30 UTC: still January locally
    late = datetime(2027, 1, 31, 23, 30, tzinfo=ZoneInfo(LA))
    assert late.astimezone(UTC) == utc(2027, 2, 1, 7, 30)
    assert window_of(late, Window.MONTH, LA).label == "2027-01"
    # 08:00 UTC is 00:00 PST on 1 February: the first instant of February
    assert window_of(utc(2027, 2, 1, 8), Window.MONTH, LA).label == "2027-02"
    assert window_of(utc(2027, 2, 1, 7, 59, 59), Window.MONTH, LA).label == "2027-01"


def test_east_of_utc_the_first_hours_of_march_are_february_in_utc() -> None:
    # 2027-03-01 00:30 JST (UTC+9) = 2027-02-28 15:30 UTC
    assert window_of(utc(2027, 2, 28, 15, 30), Window.MONTH, "Asia/Tokyo").label == "2027-03"
    assert window_of(utc(2027, 2, 28, 14, 59), Window.MONTH, "Asia/Tokyo").label == "2027-02"


def test_the_window_end_belongs_to_the_next_window() -> None:
    january = window_for_day(date(2027, 1, 1), Window.MONTH, NY)
    assert january.contains(utc(2027, 2, 1, 4, 59, 59))
    assert not january.contains(utc(2027, 2, 1, 5))
    assert window_of(utc(2027, 2, 1, 5), Window.MONTH, NY).label == "2027-02"


def test_march_loses_an_hour_when_daylight_saving_starts() -> None:
    # DST starts Sun 14 March 2027: March opens at UTC-5 and closes at UTC-4
    march = window_for_day(date(2027, 3, 14), Window.MONTH, NY)
    assert march.start == utc(2027, 3, 1, 5)
    assert march.end == utc(2027, 4, 1, 4)
    assert march.end - march.start == timedelta(hours=31 * 24 - 1)  # 743 h


def test_november_gains_an_hour_when_daylight_saving_ends() -> None:
    # DST ends Sun 7 November 2027: November opens at UTC-4 and closes at UTC-5
    november = window_for_day(date(2027, 11, 7), Window.MONTH, NY)
    assert november.start == utc(2027, 11, 1, 4)
    assert november.end == utc(2027, 12, 1, 5)
    assert november.end - november.start == timedelta(hours=30 * 24 + 1)  # 721 h
    # 2027-11-30 23:30 EST = 2027-12-01 04:30 UTC: still November
    assert window_of(utc(2027, 12, 1, 4, 30), Window.MONTH, NY).label == "2027-11"


def test_quarters_are_calendar_quarters() -> None:
    q1 = window_for_day(date(2027, 2, 14), Window.QUARTER, NY)
    assert q1.label == "2027-Q1"
    assert (q1.first_day, q1.last_day) == (date(2027, 1, 1), date(2027, 3, 31))
    assert (q1.start, q1.end) == (utc(2027, 1, 1, 5), utc(2027, 4, 1, 4))  # EST in, EDT out
    q4 = window_for_day(date(2027, 12, 31), Window.QUARTER, NY)
    assert q4.label == "2027-Q4"
    assert (q4.first_day, q4.last_day) == (date(2027, 10, 1), date(2027, 12, 31))
    assert (q4.start, q4.end) == (utc(2027, 10, 1, 4), utc(2028, 1, 1, 5))


def test_the_windows_covering_a_range_include_partly_covered_ones() -> None:
    months = windows_between(date(2027, 1, 15), date(2027, 3, 2), Window.MONTH, NY)
    assert [w.label for w in months] == ["2027-01", "2027-02", "2027-03"]
    quarters = windows_between(date(2027, 3, 31), date(2027, 7, 1), Window.QUARTER, NY)
    assert [w.label for w in quarters] == ["2027-Q1", "2027-Q2", "2027-Q3"]
    across = windows_between(date(2026, 12, 31), date(2027, 1, 1), Window.MONTH, NY)
    assert [w.label for w in across] == ["2026-12", "2027-01"]
    # consecutive windows tile time: each ends where the next begins
    assert all(a.end == b.start for a, b in pairwise(months))


def test_naive_times_and_backward_ranges_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        window_of(datetime(2027, 1, 1, 12), Window.MONTH, NY)
    with pytest.raises(ValueError, match="ends before"):
        windows_between(date(2027, 2, 1), date(2027, 1, 1), Window.MONTH, NY)
