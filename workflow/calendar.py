"""Business days on a holiday calendar (US federal by default, per organisation)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

NO_HOLIDAYS = "none"


@lru_cache(maxsize=256)
def _holidays(calendar: str, year: int) -> frozenset[date]:
    if calendar == NO_HOLIDAYS:
        return frozenset()
    country, _, subdiv = calendar.partition("-")
    found = holidays.country_holidays(country, subdiv=subdiv or None, years=year)
    return frozenset(found.keys())


def validate_calendar(calendar: str) -> str:
    """Return the calendar name if `holidays` knows it, else raise ValueError."""
    if calendar == NO_HOLIDAYS:
        return calendar
    try:
        _holidays(calendar, 2026)
    except (NotImplementedError, KeyError, ValueError) as exc:
        raise ValueError(
            f"unknown holiday calendar {calendar!r} (use a country code such as 'US', "
            f"a subdivision such as 'US-CA', or 'none')"
        ) from exc
    return calendar


def is_business_day(day: date, calendar: str) -> bool:
    return day.weekday() < 5 and day not in _holidays(calendar, day.year)


def add_business_days(start: date, days: int, calendar: str) -> date:
    """The business day `days` business days after `start` (0: `start` or the next one)."""
    current = start
    while not is_business_day(current, calendar):
        current += timedelta(days=1)
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_business_day(current, calendar):
            remaining -= 1
    return current


def subtract_business_days(start: date, days: int, calendar: str) -> date:
    """The business day `days` business days before `start` (0: `start` or the one before)."""
    current = start
    while not is_business_day(current, calendar):
        current -= timedelta(days=1)
    remaining = days
    while remaining > 0:
        current -= timedelta(days=1)
        if is_business_day(current, calendar):
            remaining -= 1
    return current


def business_days_between(start: date, end: date, calendar: str) -> int:
    """Business days in (start, end]; negative when end is before start."""
    if end < start:
        return -business_days_between(end, start, calendar)
    count = 0
    current = start
    while current < end:
        current += timedelta(days=1)
        if is_business_day(current, calendar):
            count += 1
    return count
