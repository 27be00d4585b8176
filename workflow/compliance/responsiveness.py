"""How quickly each side does its tasks, measured from the workflow itself.

Turnaround is calendar hours from a task's creation to its completion (not business hours:
the figure is about elapsed waiting, and it needs no holiday calendar to reproduce in SQL).
Median and 90th percentile use the same linear interpolation as p95 (`percentile_cont`).
A task counts when it was created in the report's span; cancelled tasks do not count at all.
Overdue, like the reminder sweep: a task is due by the end of its `due_on` day in the business
time zone, so it is overdue when still open on a later local day (`overdue_open`, as of `now`)
or when it was completed on a later local day (`completed_late`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from states import Role, Side, TaskState
from workflow.calendar import BUSINESS_TIME_ZONE, local_date
from workflow.compliance.aggregation import percentile, round_actual
from workflow.compliance.attribution import ChargedCounts
from workflow.compliance.excusals import ExcusedCounts
from workflow.compliance.windows import require_aware

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class TaskRecord:
    side: Side
    role: Role
    created_at: datetime
    due_on: date
    state: str  # open | completed | cancelled
    completed_at: datetime | None = None

    def __post_init__(self) -> None:
        # Plain strings from a row are accepted and stored as the enums.
        object.__setattr__(self, "side", Side(self.side))
        object.__setattr__(self, "role", Role(self.role))
        require_aware(self.created_at)
        if self.state not in tuple(TaskState):
            raise ValueError(f"unknown task state {self.state!r}")
        if (self.state == TaskState.COMPLETED) != (self.completed_at is not None):
            raise ValueError("completed_at is set exactly when the task is completed")
        if self.completed_at is not None and self.completed_at < self.created_at:
            raise ValueError("a task cannot be completed before it was created")


@dataclass(frozen=True, slots=True)
class ResponsivenessRow:
    """One side (role None: all its roles) or one role of a side."""

    side: Side
    role: Role | None
    tasks: int  # not cancelled
    completed: int
    median_hours: float | None
    p90_hours: float | None
    overdue_open: int
    completed_late: int
    excused_misses: int | None  # misses excused to this side; only on the side's own row
    # Unexcused misses and windows without data charged to this side; only on its own row.
    charged_misses: int | None = None


def turnaround_hours(task: TaskRecord) -> float | None:
    if task.completed_at is None:
        return None
    return (task.completed_at - task.created_at).total_seconds() / HOUR


def _row(
    side: Side,
    role: Role | None,
    tasks: Sequence[TaskRecord],
    today: date,
    zone: str,
    excused: int | None,
    charged: int | None = None,
) -> ResponsivenessRow:
    hours = [h for h in map(turnaround_hours, tasks) if h is not None]
    median = percentile(hours, 0.5)
    p90 = percentile(hours, 0.9)
    return ResponsivenessRow(
        side=side,
        role=role,
        tasks=len(tasks),
        completed=len(hours),
        median_hours=None if median is None else round_actual(median),
        p90_hours=None if p90 is None else round_actual(p90),
        overdue_open=sum(1 for t in tasks if t.state == TaskState.OPEN and t.due_on < today),
        completed_late=sum(
            1
            for t in tasks
            if t.completed_at is not None and local_date(t.completed_at, zone) > t.due_on
        ),
        excused_misses=excused,
        charged_misses=charged,
    )


def responsiveness(
    tasks: Sequence[TaskRecord],
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    excused: ExcusedCounts | None = None,
    charged: ChargedCounts | None = None,
    zone: str = BUSINESS_TIME_ZONE,
) -> list[ResponsivenessRow]:
    """A row per side (always both), then one per role of that side that had tasks."""
    start, end = require_aware(start), require_aware(end)
    today = local_date(require_aware(now), zone)
    counts = excused or ExcusedCounts()
    in_scope = [t for t in tasks if t.state != TaskState.CANCELLED and start <= t.created_at < end]
    rows: list[ResponsivenessRow] = []
    for side in Side:
        mine = [t for t in in_scope if t.side is side]
        side_excused = counts.customer if side is Side.CUSTOMER else counts.provider
        side_charged = (charged or ChargedCounts()).of_side(side)
        rows.append(_row(side, None, mine, today, zone, side_excused, side_charged))
        for role in Role:
            theirs = [t for t in mine if t.role is role]
            if theirs:
                rows.append(_row(side, role, theirs, today, zone, None))
    return rows


def with_charged(
    rows: Sequence[ResponsivenessRow], charged: ChargedCounts
) -> tuple[ResponsivenessRow, ...]:
    """`rows` with each side's charged count replaced (a report narrowed to fewer windows)."""
    return tuple(
        replace(row, charged_misses=charged.of_side(row.side)) if row.role is None else row
        for row in rows
    )
