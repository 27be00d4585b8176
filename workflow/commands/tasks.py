"""Completing tasks; the version or period advances by itself when its guards hold."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from workflow.access import Actor
from workflow.command import Command, command
from workflow.engine import complete_held_task
from workflow.errors import NotFound
from workflow.models import Task
from workflow.permissions import lock_version
from workflow.subjects.corrective_action import lock_corrective_action
from workflow.subjects.period import lock_period
from workflow.subjects.version import VersionSubject

_TASK_OWNER = select(
    Task.agreement_id, Task.version_id, Task.period_id, Task.corrective_action_id
).where(Task.id == sa.bindparam("task_id"))


def complete_task(
    session: Session,
    *,
    actor: Actor,
    task_id: int,
    outcome: str,
    now: datetime,
    comment: str | None = None,
) -> Task:
    """Complete a task as its assignee or their delegate; one transaction, one commit."""
    with command(session) as tx:
        return _complete(tx, actor, task_id, outcome, now, comment)


def _complete(
    tx: Command,
    actor: Actor,
    task_id: int,
    outcome: str,
    now: datetime,
    comment: str | None,
) -> Task:
    session = tx.session
    # A task never moves to another agreement, version or period: read before the lock.
    owner = session.exec(_TASK_OWNER, params={"task_id": task_id}).first()
    if owner is None:
        raise NotFound("no such task")
    agreement_id, version_id, period_id, action_id = owner
    if action_id is not None:  # a step of a corrective action (it names its period too)
        action = lock_corrective_action(tx, action_id, actor, now)
        task = next(t for t in action.tasks if t.id == task_id)  # read under the lock
        complete_held_task(action, task, outcome, actor, comment=comment, now=now)
        return task
    if period_id is not None:
        subject = lock_period(tx, agreement_id, actor, now, period_id=period_id)
        task = next(t for t in subject.tasks if t.id == task_id)  # read under the lock
        complete_held_task(subject, task, outcome, actor, comment=comment, now=now)
        return task
    if version_id is None:
        raise NotFound("the task's version no longer exists")
    agreement, version, calendars = lock_version(
        session, agreement_id, actor, version_id=version_id
    )
    version_subject = VersionSubject(
        tx, agreement, version, now=now, comment=comment, calendars=calendars
    )
    task = next(t for t in version_subject.tasks if t.id == task_id)  # read under the lock
    complete_held_task(version_subject, task, outcome, actor, comment=comment, now=now)
    return task
