"""Completing tasks; the version or period advances by itself when its guards hold."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col

from workflow.access import Actor
from workflow.command import Command, command
from workflow.commands.proposals import complete_review
from workflow.engine import complete_held_task
from workflow.errors import Conflict, NotFound
from workflow.models import Task
from workflow.permissions import lock_version
from workflow.subjects.corrective_action import lock_corrective_action
from workflow.subjects.extension import lock_extension
from workflow.subjects.period import lock_period
from workflow.subjects.proposal import lock_proposal
from workflow.subjects.version import VersionSubject

_TASK_OWNER = sa.select(
    col(Task.agreement_id),
    col(Task.version_id),
    col(Task.period_id),
    col(Task.proposal_id),
    col(Task.extension_id),
    col(Task.service_review_id),
    col(Task.corrective_action_id),
    col(Task.kind),
).where(col(Task.id) == sa.bindparam("task_id"))


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
    owner = session.connection().execute(_TASK_OWNER, {"task_id": task_id}).first()
    if owner is None:
        raise NotFound("no such task")
    (
        agreement_id,
        version_id,
        period_id,
        proposal_id,
        extension_id,
        service_review_id,
        action_id,
        kind,
    ) = owner
    if action_id is not None:  # a step of a corrective action (it names its period too)
        action = lock_corrective_action(tx, action_id, actor, now)
        task = next(t for t in action.tasks if t.id == task_id)  # read under the lock
        complete_held_task(action, task, outcome, actor, comment=comment, now=now)
        return task
    if proposal_id is not None:
        proposal = lock_proposal(tx, proposal_id, actor)
        task = next(t for t in proposal.tasks if t.id == task_id)  # read under the lock
        complete_review(proposal, task, outcome, actor, comment=comment, now=now)
        return task
    if service_review_id is not None and kind == "service_review":
        raise Conflict(
            "a service review is done by recording its minutes "
            f"(POST /api/v1/slas/{agreement_id}/service-reviews/{service_review_id}/minutes)"
        )
    if extension_id is not None:
        extension = lock_extension(
            tx, agreement_id, actor, now, extension_id=extension_id, comment=comment
        )
        task = next(t for t in extension.tasks if t.id == task_id)  # read under the lock
        complete_held_task(extension, task, outcome, actor, comment=comment, now=now)
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
