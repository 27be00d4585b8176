"""Measurement windows: calendar months and quarters in the agreement's time zone.

A window is `[local midnight of its first day, local midnight of the next window's first day)`
converted to UTC, so a window's length in hours follows the zone's DST changes and an
observation at 23:30 local on the last day belongs to it whatever the UTC date says.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from workflow.calendar import local_date, start_of_day
from workflow.content import Window


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """One month or quarter; `start` and `end` are UTC instants, `end` excluded."""

    kind: Window
    label: str  # 2027-01 or 2027-Q1
    first_day: date
    last_day: date
    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        return self.start <= require_aware(moment) < self.end


def require_aware(moment: datetime) -> datetime:
    """`moment` in UTC; ValueError when it has no offset (a naive time is ambiguous here)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone offset")
    return moment.astimezone(UTC)


def _first_day(day: date, kind: Window) -> date:
    if kind is Window.MONTH:
        return day.replace(day=1)
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _next_first_day(first: date, kind: Window) -> date:
    months = 1 if kind is Window.MONTH else 3
    index = first.month - 1 + months
    return date(first.year + index // 12, index % 12 + 1, 1)


def _label(first: date, kind: Window) -> str:
    if kind is Window.MONTH:
        return f"{first.year:04d}-{first.month:02d}"
    return f"{first.year:04d}-Q{(first.month - 1) // 3 + 1}"


def window_for_day(day: date, kind: Window, zone: str) -> TimeWindow:
    """The window of `kind` holding the local calendar day `day`."""
    first = _first_day(day, kind)
    following = _next_first_day(first, kind)
    return TimeWindow(
        kind=kind,
        label=_label(first, kind),
        first_day=first,
        last_day=date.fromordinal(following.toordinal() - 1),
        start=start_of_day(first, zone),
        end=start_of_day(following, zone),
    )


def window_of(moment: datetime, kind: Window, zone: str) -> TimeWindow:
    """The window an observation made at `moment` (aware) falls in."""
    return window_for_day(local_date(require_aware(moment), zone), kind, zone)


def windows_between(first_day: date, last_day: date, kind: Window, zone: str) -> list[TimeWindow]:
    """Every window of `kind` that holds at least one day of `[first_day, last_day]`."""
    return list(_iter_windows(first_day, last_day, kind, zone))


def _iter_windows(first_day: date, last_day: date, kind: Window, zone: str) -> Iterator[TimeWindow]:
    if last_day < first_day:
        raise ValueError("the range ends before it starts")
    window = window_for_day(first_day, kind, zone)
    while window.first_day <= last_day:
        yield window
        window = window_for_day(_next_first_day(window.first_day, kind), kind, zone)
