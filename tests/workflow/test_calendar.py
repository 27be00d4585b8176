"""Business days skip weekends and the organisation's holidays."""

from __future__ import annotations

from datetime import date

import pytest

from workflow.calendar import (
    add_business_days,
    business_days_between,
    is_business_day,
    validate_calendar,
)


def test_us_federal_holidays_are_not_business_days() -> None:
    assert not is_business_day(date(2026, 11, 26), "US")  # Thanksgiving
    assert not is_business_day(date(2026, 12, 25), "US")
    assert is_business_day(date(2026, 11, 27), "US")  # the Friday after is a work day


def test_five_business_days_from_the_monday_before_thanksgiving() -> None:
    # Mon 23 → Tue 24, Wed 25, (Thu 26 holiday), Fri 27, Mon 30, Tue 1 Dec
    assert add_business_days(date(2026, 11, 23), 5, "US") == date(2026, 12, 1)
    assert add_business_days(date(2026, 11, 23), 5, "none") == date(2026, 11, 30)


def test_a_start_on_a_weekend_counts_from_the_next_business_day() -> None:
    assert add_business_days(date(2026, 11, 28), 0, "US") == date(2026, 11, 30)
    assert add_business_days(date(2026, 11, 28), 1, "US") == date(2026, 12, 1)


def test_business_days_between_is_signed() -> None:
    assert business_days_between(date(2026, 11, 23), date(2026, 12, 1), "US") == 5
    assert business_days_between(date(2026, 12, 1), date(2026, 11, 23), "US") == -5


def test_unknown_calendars_are_refused_with_a_hint() -> None:
    assert validate_calendar("US-CA") == "US-CA"
    with pytest.raises(ValueError, match="unknown holiday calendar 'XX'"):
        validate_calendar("XX")
