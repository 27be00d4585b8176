"""How near a task's due date is, as the pages highlight it."""

from __future__ import annotations

from datetime import date

from states import LIFECYCLE
from workflow.calendar import add_business_days
from workflow.queries.tasks import TaskView

# "Due soon" starts where the first reminder goes out.
DUE_SOON_BUSINESS_DAYS = max(LIFECYCLE.reminders.before_due, default=2)


def due_status(task: TaskView, today: date, calendar: str = "US") -> str:
    """`overdue`, `due-soon` or `` (also the CSS class the row carries)."""
    if task.state != "open":
        return ""
    if task.overdue:
        return "overdue"
    if task.due_on <= add_business_days(today, DUE_SOON_BUSINESS_DAYS, calendar):
        return "due-soon"
    return ""
