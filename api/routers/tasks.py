"""Tasks: the approval queue and every other list of tasks, one task, completing it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from api.deps import ActorDep, IdempotencyDep, NowDep, SessionDep
from api.idempotency import idempotent
from api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, page
from api.schemas import Strict
from api.types import Id
from workflow import commands
from workflow.queries.tasks import TaskFilter, TaskView, list_tasks, task_detail

router = APIRouter(prefix="/tasks", tags=["tasks"])


class TaskComplete(Strict):
    outcome: Annotated[str, Field(min_length=1, max_length=40)]
    comment: Annotated[str, Field(max_length=4000)] | None = None


@router.get("")
def get_tasks(
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    assignee: Annotated[
        Literal["me"] | None, Query(description="me: mine and my delegators' tasks")
    ] = None,
    state: Annotated[
        str | None, Query(max_length=10, description="open, completed or cancelled")
    ] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    sla_id: Id | None = None,
    overdue: Annotated[bool | None, Query(description="open and past its due date")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[TaskView]:
    """Tasks of agreements your organisation is party to, by due date then id. The approval
    queue is `?assignee=me&kind=approval&state=open`."""
    filters = TaskFilter(
        mine=assignee == "me", state=state, kind=kind, agreement_id=sla_id, overdue=overdue
    )
    return page(
        list_tasks(session, actor, filters, now=now, limit=limit, after=decode_cursor(cursor))
    )


@router.get("/{task_id}")
def get_task(task_id: Id, session: SessionDep, actor: ActorDep, now: NowDep) -> TaskView:
    return task_detail(session, actor, task_id, now=now)


@router.post("/{task_id}/complete", dependencies=[IdempotencyDep])
@idempotent
def complete_task(
    task_id: Id, body: TaskComplete, session: SessionDep, actor: ActorDep, now: NowDep
) -> TaskView:
    """Complete a task as its assignee or their delegate; the version advances by itself
    when the last required task of its step is done."""
    commands.complete_task(
        session, actor=actor, task_id=task_id, outcome=body.outcome, comment=body.comment, now=now
    )
    return task_detail(session, actor, task_id, now=now)
