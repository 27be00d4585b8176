"""Completing tasks; the version advances by itself when the last required one is done."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from states import LIFECYCLE, FiredBy, Role, Side
from workflow import audit
from workflow.access import Actor, Grant
from workflow.calendar import local_date
from workflow.commands.periods import complete_period_task
from workflow.completion import chosen_outcome, record_completion
from workflow.db import begin_write
from workflow.effects import announce_approval, apply_transition
from workflow.errors import Forbidden, InvalidInput, NotAllowedNow, NotFound
from workflow.guards import APPROVING_OUTCOMES, VersionContext
from workflow.models import Task, User
from workflow.permissions import lock_version
from workflow.snapshots import task_summary
from workflow.transaction import command_body, commit

_TASK_OWNER = select(Task.agreement_id, Task.version_id, Task.period_id).where(
    Task.id == sa.bindparam("task_id")
)


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
    begin_write(session)
    with command_body(session):
        task = _complete(session, actor, task_id, outcome, now, comment)
    commit(session)
    return task


def _complete(
    session: Session,
    actor: Actor,
    task_id: int,
    outcome: str,
    now: datetime,
    comment: str | None,
) -> Task:
    # A task never moves to another agreement or version, so these may be read before the lock.
    owner = session.exec(_TASK_OWNER, params={"task_id": task_id}).first()
    if owner is None:
        raise NotFound("no such task")
    agreement_id, version_id, period_id = owner
    if period_id is not None:
        task = session.get_one(Task, task_id)
        complete_period_task(
            session,
            actor=actor,
            task=task,
            agreement_id=agreement_id,
            outcome=outcome,
            comment=comment,
            now=now,
        )
        return task
    if version_id is None:
        raise NotFound("the task's version no longer exists")
    agreement, version, calendars = lock_version(
        session, agreement_id, actor, version_id=version_id
    )
    ctx = VersionContext(session, agreement, version, now=now, comment=comment, calendars=calendars)
    task = next(t for t in ctx.tasks if t.id == task_id)  # read under the lock
    if task.state != "open":
        raise NotAllowedNow(
            f"task {task_id} is already {task.state}", current_state=task.state, allowed_events=[]
        )
    if task.assignee_id == actor.user_id:
        on_behalf_of = None
    elif task.assignee_id in ctx.delegators(actor.user_id, local_date(now)):
        on_behalf_of = task.assignee_id
    else:
        raise Forbidden("only the task's assignee or their delegate may complete it")
    finish_task(ctx, task, outcome, actor, on_behalf_of, comment=comment, now=now)
    return task


def finish_task(
    ctx: VersionContext,
    task: Task,
    outcome_name: str,
    actor: Actor,
    on_behalf_of: int | None,
    *,
    comment: str | None,
    now: datetime,
) -> None:
    """Record the outcome, then fire the event it leads to (if its guards now hold)."""
    outcome = chosen_outcome(LIFECYCLE.task_kind(task.kind), outcome_name)
    if outcome.comment_required and not (comment and comment.strip()):
        what = "conditions" if outcome.name == "approved_with_conditions" else "a comment"
        raise InvalidInput(
            f"{outcome.name} needs {what}", [{"field": "comment", "message": "required"}]
        )
    if task.kind == "approval" and outcome.name in APPROVING_OUTCOMES:
        _check_segregation(ctx, task, actor, on_behalf_of)
        task.approved_content_hash = ctx.version.content_hash
    before = task_summary(task)
    record_completion(task, outcome, actor, on_behalf_of, comment=comment, now=now)
    # Written by the transition's flush below, or at commit.
    ctx.session.add(task)
    audit.append(
        ctx.session,
        action="task.completed",
        now=now,
        agreement_id=ctx.agreement.id,
        version_id=ctx.version.id,
        actor_id=actor.user_id,
        on_behalf_of_id=on_behalf_of,
        data={
            "task_id": task.id,
            "outcome": outcome.name,
            "comment": comment,
            "content_hash": task.approved_content_hash,
            "before": before,
            "after": task_summary(task),
        },
    )
    if task.kind == "approval" and outcome.name in APPROVING_OUTCOMES:
        announce_approval(ctx, task, actor, now)
    if outcome.fires is None:
        return
    transition = LIFECYCLE.transition(outcome.fires)
    if ctx.version.state not in transition.sources:
        return
    grant = Grant(Side(task.side), Role(task.role), on_behalf_of)
    if transition.fired_by is FiredBy.SYSTEM and ctx.failed_guards(transition.guards):
        return  # not the last required task yet
    apply_transition(
        ctx,
        transition,
        actor=actor if transition.fired_by is not FiredBy.SYSTEM else None,
        grant=grant,
        now=now,
        comment=comment,
    )


def _check_segregation(
    ctx: VersionContext, task: Task, actor: Actor, on_behalf_of: int | None
) -> None:
    """Two sides, two different people; nobody approves twice; editors do not approve."""
    people = {actor.user_id} | ({on_behalf_of} if on_behalf_of else set())
    for other in ctx.current("approval"):
        if (
            other.id != task.id
            and other.outcome in APPROVING_OUTCOMES
            and people & {other.completed_by_id, other.on_behalf_of_id}
        ):
            raise Forbidden(
                f"you already approved version {ctx.version.number} as the {other.side} "
                f"{Role(other.role).label}; nobody approves twice, and each side's approval "
                "must come from a different person"
            )
    editor_id = ctx.version.last_edited_by_id
    if ctx.agreement.allow_editor_approval or editor_id not in people:
        return
    editor = ctx.session.get(User, editor_id)
    if editor is not None and ctx.agreement.side_of_org(editor.organization_id) == Side(task.side):
        raise Forbidden(
            f"{editor.name} last edited version {ctx.version.number}, so another {task.side} "
            "approver must approve it (the agreement setting allow_editor_approval relaxes this)"
        )
