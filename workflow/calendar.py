"""Business days on a holiday calendar (US federal by default, per organisation).

Days are local: time-driven work asks which calendar day a moment falls on in the business
time zone (America/New_York by default, the zone of the US federal calendar), so that a sweep
at 23:30 local belongs to that day even when UTC has already moved on to the next.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

NO_HOLIDAYS = "none"
BUSINESS_TIME_ZONE = "America/New_York"


@lru_cache(maxsize=64)
def time_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; ValueError when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name such as 'America/New_York')"
        ) from exc


def local_date(moment: datetime, zone: str = BUSINESS_TIME_ZONE) -> date:
    """The calendar day `moment` falls on in `zone` (a naive moment is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(time_zone(zone)).date()


def start_of_day(day: date, zone: str = BUSINESS_TIME_ZONE) -> datetime:
    """The UTC instant at which `day` begins in `zone` (local midnight, whatever the offset)."""
    return datetime.combine(day, time(0), tzinfo=time_zone(zone)).astimezone(UTC)


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
