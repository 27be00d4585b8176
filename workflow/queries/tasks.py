"""Tasks as people see them: their queue, an agreement's tasks, one task."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from states import TASK_KINDS
from workflow.access import DELEGATORS, Actor
from workflow.calendar import local_date
from workflow.errors import NotFound
from workflow.models.tasks import TASK_STATES
from workflow.queries.agreements import visible_agreement
from workflow.queries.common import Slice, after_date_and_id, one_of, page_of
from workflow.queries.task_rows import ONE_TASK, TaskView, page_statement, view_of

__all__ = ["TaskFilter", "TaskView", "list_tasks", "task_detail"]


@dataclass(frozen=True)
class TaskFilter:
    mine: bool = False  # the caller's tasks and those of whoever delegated to them today
    state: str | None = None
    kind: str | None = None
    agreement_id: int | None = None
    overdue: bool | None = None


def list_tasks(
    session: Session,
    actor: Actor,
    filters: TaskFilter,
    *,
    now: datetime,
    limit: int = 50,
    after: list[object] | None = None,
) -> Slice[TaskView]:
    """Tasks of agreements the actor's organisation is party to, by due date then id."""
    today = local_date(now)
    one_of("state", filters.state, TASK_STATES)
    one_of("kind", filters.kind, TASK_KINDS)
    start = after_date_and_id(after)
    delegators = _delegators(session, actor.user_id, today)
    stmt = page_statement(
        mine=filters.mine,
        state=filters.state is not None,
        kind=filters.kind is not None,
        agreement=filters.agreement_id is not None,
        overdue=filters.overdue,
        after=start is not None,
    )
    params: dict[str, Any] = {"org": actor.organization_id, "limit": limit + 1}
    if filters.mine:
        params["assignees"] = [actor.user_id, *delegators]
    if filters.state is not None:
        params["state"] = filters.state
    if filters.kind is not None:
        params["kind"] = filters.kind
    if filters.agreement_id is not None:
        params["agreement_id"] = filters.agreement_id
    if filters.overdue is not None:
        params["today"] = today
    if start is not None:
        params["after_due"], params["after_id"] = start
    rows = list(session.connection().execute(stmt, params).all())
    rows, next_after = page_of(rows, limit, lambda r: [r.due_on.isoformat(), r.id])
    return Slice([view_of(r, actor.user_id, delegators, today) for r in rows], next_after)


def task_detail(session: Session, actor: Actor, task_id: int, *, now: datetime) -> TaskView:
    row = session.connection().execute(ONE_TASK, {"task_id": task_id}).first()
    if row is None:
        raise NotFound("no such task")
    visible_agreement(session, actor, row.agreement_id)
    today = local_date(now)
    return view_of(row, actor.user_id, _delegators(session, actor.user_id, today), today)


def _delegators(session: Session, delegate_id: int, day: date) -> list[int]:
    # `access.delegators_of` without the ORM's execution path: a read has nothing to flush.
    params = {"delegate_id": delegate_id, "day": day}
    return list(session.connection().execute(DELEGATORS, params).scalars())
