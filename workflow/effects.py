"""The tasks a version's transitions open, and the messages that announce them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from states import Role, Side, SideRef, TaskTemplate
from workflow import outbox
from workflow.access import Actor, Grant
from workflow.calendar import add_business_days, local_date
from workflow.guards import VersionContext
from workflow.models import Task
from workflow.transaction import flush

ALL_STAKEHOLDERS: dict[str, Any] = {"stakeholders": "all"}


def resolve_side(template: TaskTemplate, ctx: VersionContext, grant: Grant | None) -> Side:
    if template.side is SideRef.DRAFTING:
        return Side(ctx.version.drafting_side)
    if template.side is SideRef.ACTOR:
        return grant.side if grant is not None else Side(ctx.version.drafting_side)
    return Side(template.side.value)


def assignee_for(ctx: VersionContext, side: Side, role: Role) -> int | None:
    """The role's holder, or the side's Program Manager when the role is not filled."""
    return ctx.assignments.get((side, role)) or ctx.assignments.get((side, Role.PROGRAM_MANAGER))


def open_tasks(
    ctx: VersionContext,
    templates: list[tuple[TaskTemplate, str]],
    *,
    grant: Grant | None,
    now: datetime,
) -> list[Task]:
    """Open one task per (template, detail), flushed together, and announce each."""
    opened = add_tasks(ctx, templates, grant=grant, now=now)
    if opened:
        flush(ctx.session)
        announce_tasks(ctx, opened, now)
    return opened


def add_tasks(
    ctx: VersionContext,
    templates: list[tuple[TaskTemplate, str]],
    *,
    grant: Grant | None,
    now: datetime,
) -> list[Task]:
    """New tasks, added to the session but not flushed: they have no id yet."""
    opened = []
    for template, detail in templates:
        side = resolve_side(template, ctx, grant)
        due_on = add_business_days(local_date(now), template.due_business_days, ctx.calendars[side])
        opened.append(
            Task(
                agreement_id=ctx.agreement.id,  # type: ignore[arg-type]
                version_id=ctx.version.id,
                cycle=ctx.version.cycle,
                kind=template.kind,
                side=side.value,
                role=template.role.value,
                assignee_id=assignee_for(ctx, side, template.role),
                title=template.title or template.kind.replace("_", " ").capitalize(),
                detail=detail,
                required=template.required,
                due_on=due_on,
                escalation_roles=[r.value for r in template.escalation_roles],
                created_at=now,
            )
        )
    ctx.session.add_all(opened)
    ctx.add_tasks(opened)
    return opened


def open_task(
    ctx: VersionContext,
    template: TaskTemplate,
    *,
    grant: Grant | None,
    now: datetime,
    detail: str = "",
) -> Task:
    return open_tasks(ctx, [(template, detail)], grant=grant, now=now)[0]


def announce_tasks(ctx: VersionContext, tasks: list[Task], now: datetime) -> None:
    for task in tasks:
        _announce_task(ctx, task, now)


def _announce_task(ctx: VersionContext, task: Task, now: datetime) -> None:
    announce_task(ctx.session, task, about=agreement_payload(ctx), now=now)


def announce_task(session: Session, task: Task, *, about: dict[str, Any], now: datetime) -> None:
    """Tell the assignee of a new task (`about`: the agreement and version, or period)."""
    outbox.enqueue(
        session,
        topic="task.assigned",
        dedupe_key=f"task.assigned:{task.id}",
        now=now,
        agreement_id=task.agreement_id,
        recipients={"user_ids": [task.assignee_id] if task.assignee_id else []},
        payload={
            **about,
            "task": {
                "id": task.id,
                "kind": task.kind,
                "title": task.title,
                "detail": task.detail,
                "side": task.side,
                "role": task.role,
                "due_on": task.due_on.isoformat(),
                "assignee_id": task.assignee_id,
            },
        },
    )


def announce_approval(ctx: VersionContext, task: Task, actor: Actor, now: datetime) -> None:
    """Tell every stakeholder that one approver approved (with or without conditions)."""
    topic = f"version.{task.outcome}"
    outbox.enqueue(
        ctx.session,
        topic=topic,
        dedupe_key=f"{topic}:{task.id}",
        now=now,
        agreement_id=ctx.agreement.id,
        recipients=ALL_STAKEHOLDERS,
        payload={
            **agreement_payload(ctx),
            "task": {
                "id": task.id,
                "kind": task.kind,
                "title": task.title,
                "side": task.side,
                "role": task.role,
                "due_on": task.due_on.isoformat(),
                "assignee_id": task.assignee_id,
            },
            "outcome": task.outcome,
            "actor": actor.name,
            "comment": task.comment,
        },
    )


def cancel_open_tasks(ctx: VersionContext, now: datetime) -> list[int]:
    cancelled = []
    for task in ctx.open_tasks():
        task.state = "cancelled"
        task.completed_at = now
        ctx.session.add(task)
        cancelled.append(task.id)
    return [t for t in cancelled if t is not None]


def agreement_payload(ctx: VersionContext) -> dict[str, Any]:
    """What every message about a version carries: the agreement and the version."""
    return {
        "agreement": {
            "id": ctx.agreement.id,
            "key": ctx.agreement.key,
            "title": ctx.agreement.title,
        },
        "version": {
            "id": ctx.version.id,
            "number": ctx.version.number,
            "modification_number": ctx.version.modification_number,
            "state": ctx.version.state,
        },
    }
