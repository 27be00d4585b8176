"""Tasks: the approval queue and every other list of tasks, one task, completing it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field, TypeAdapter
from starlette.concurrency import run_in_threadpool

from api.deps import (
    ActorDep,
    BearerDep,
    EngineDep,
    IdempotencyDep,
    NowDep,
    SessionDep,
    authenticate,
    request_session,
)
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


# Built once: the queue is the busiest request, and its page is serialised straight to JSON.
PAGE_OF_TASKS = TypeAdapter(Page[TaskView])


@router.get("", response_model=Page[TaskView])
async def get_tasks(
    request: Request,
    engine: EngineDep,
    token: BearerDep,
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
) -> Response:
    """Tasks of agreements your organisation is party to, by due date then id. The approval
    queue is `?assignee=me&kind=approval&state=open`."""
    filters = TaskFilter(
        mine=assignee == "me", state=state, kind=kind, agreement_id=sla_id, overdue=overdue
    )

    # The whole request in one trip to the threadpool (a sync dependency or endpoint is a trip
    # each): the same session, authentication and query as the dependencies would give.
    def answer() -> bytes:
        with request_session(engine) as session:
            actor = authenticate(request, session, token, now, read_only=True)
            after = decode_cursor(cursor)
            found = list_tasks(session, actor, filters, now=now, limit=limit, after=after)
        return PAGE_OF_TASKS.dump_json(page(found))

    return Response(await run_in_threadpool(answer), media_type="application/json")


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
