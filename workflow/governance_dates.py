"""The governance calendar's dates: pure functions of the period of performance, the first
activation and today (calendar days, as `states.GovernanceCalendar` counts them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta


def add_years(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 28 February in common years."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def newest_renewal(
    period_end: date, since: date, today: date, days_before: Iterable[int]
) -> int | None:
    """The renewal step (days before the end) due today: the newest one dated on or before
    today, and not before `since` (the day the renewal decision opened); None after the period
    ended or before the first step."""
    if today > period_end:
        return None
    due = [d for d in days_before if since <= period_end - timedelta(days=d) <= today]
    return min(due) if due else None


@dataclass(frozen=True)
class AnnualSlot:
    """The n-th 12 months of a period of performance and its annual review's dates."""

    number: int
    first_day: date
    last_day: date  # the day before the next anniversary of the start, or the period's end
    due_on: date
    opens_on: date

    @property
    def key(self) -> str:
        return self.first_day.isoformat()


def annual_slots(
    period_start: date, period_end: date, days_before_end: int, opens_days_before_due: int
) -> list[AnnualSlot]:
    """Each 12 months of the period with its review due `days_before_end` before they end.

    The last 12 months end with the period, so its review is due that many days before the
    period ends; a last stretch too short to hold a review that early has none (the review of
    the 12 months before it is less than a year old).
    """
    slots: list[AnnualSlot] = []
    n = 0
    while (first := add_years(period_start, n)) <= period_end:
        last = min(add_years(period_start, n + 1) - timedelta(days=1), period_end)
        due = last - timedelta(days=days_before_end)
        if due >= first:
            opens = max(first, due - timedelta(days=opens_days_before_due))
            slots.append(AnnualSlot(n + 1, first, last, due, opens))
        n += 1
    return slots


def newest_annual_slot(slots: Iterable[AnnualSlot], today: date) -> AnnualSlot | None:
    """The newest 12 months whose review has opened by today and that have not ended."""
    current = [s for s in slots if s.opens_on <= today <= s.last_day]
    return current[-1] if current else None


def renewal_decision_window(
    period_end: date, today: date, opens_days_before: int, due_days_before: int
) -> date | None:
    """The renewal decision's due date when it should be open today, else None."""
    if not period_end - timedelta(days=opens_days_before) <= today <= period_end:
        return None
    return max(period_end - timedelta(days=due_days_before), today)


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def newest_quarter(activated_on: date, today: date) -> date | None:
    """The start of the newest calendar quarter that began after activation, up to today."""
    start = quarter_start(today)
    return start if start > activated_on else None


def quarter_label(start: date) -> str:
    """`2026 Q4 (US fiscal 2027 Q1)` for the quarter starting 1 Oct 2026."""
    q = (start.month - 1) // 3 + 1
    fiscal_year, fiscal_q = (start.year + 1, 1) if q == 4 else (start.year, q + 1)
    return f"{start.year} Q{q} (fiscal {fiscal_year} Q{fiscal_q})"
