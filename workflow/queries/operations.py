"""What an operator watches: open and overdue work, the outbox backlog, the scheduler's jobs.

Read at each Prometheus scrape (api/metrics.py): a handful of aggregate queries, whatever the
number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from states import TaskState
from workflow.models import JobRun, NotificationDelivery, OutboxMessage, OutboxStatus, Task


@dataclass
class OperationsSnapshot:
    open_tasks: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, side)
    overdue_tasks: dict[tuple[str, str], int] = field(default_factory=dict)
    outbox: dict[str, int] = field(default_factory=dict)  # status -> rows
    oldest_pending_seconds: float = 0.0
    emails_delivered: int = 0
    job_last_success: dict[str, datetime] = field(default_factory=dict)
    job_last_duration_ms: dict[str, float] = field(default_factory=dict)


def operations_snapshot(session: Session, *, now: datetime, today: date) -> OperationsSnapshot:
    snapshot = OperationsSnapshot()
    overdue = sa.case((col(Task.due_on) < today, 1), else_=0)
    for kind, side, opened, late in session.exec(
        select(Task.kind, Task.side, func.count(), func.sum(overdue))
        .where(Task.state == TaskState.OPEN)
        .group_by(col(Task.kind), col(Task.side))
    ):
        snapshot.open_tasks[(kind, side)] = int(opened)
        snapshot.overdue_tasks[(kind, side)] = int(late or 0)
    for status, count in session.exec(
        select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status))
    ):
        snapshot.outbox[status] = int(count)
    oldest = session.exec(
        select(func.min(OutboxMessage.created_at)).where(
            OutboxMessage.status == OutboxStatus.PENDING
        )
    ).one()
    if oldest is not None:
        snapshot.oldest_pending_seconds = max(0.0, (now - oldest).total_seconds())
    snapshot.emails_delivered = int(
        session.exec(
            select(func.count()).where(col(NotificationDelivery.channel).in_(("to", "cc")))
        ).one()
    )
    for run in session.exec(select(JobRun)):
        snapshot.job_last_duration_ms[run.job] = run.last_duration_ms
        if run.last_success_at is not None:
            snapshot.job_last_success[run.job] = run.last_success_at
    return snapshot
