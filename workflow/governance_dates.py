"""The governance calendar's dates: pure functions of the activation day, the end of the
period of performance and today (calendar days, as `states.GovernanceCalendar` counts them)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta


def add_years(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 28 February in common years."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def newest_renewal(
    period_end: date, activated_on: date, today: date, days_before: Iterable[int]
) -> int | None:
    """The renewal step (days before the end) due today: the newest one dated on or before
    today, and not before activation; None after the period ended or before the first step."""
    if today > period_end:
        return None
    due = [d for d in days_before if activated_on <= period_end - timedelta(days=d) <= today]
    return min(due) if due else None


def newest_anniversary(activated_on: date, today: date) -> tuple[int, date] | None:
    """(n, the n-th anniversary of activation) for the newest one on or before today."""
    years = today.year - activated_on.year
    while years >= 1 and add_years(activated_on, years) > today:
        years -= 1
    return (years, add_years(activated_on, years)) if years >= 1 else None


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
