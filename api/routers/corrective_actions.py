"""Corrective action plans: the owner side plans and reports, the other side accepts and
confirms (api.md, "Joint accountability")."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from api.deps import ActorDep, IdempotencyDep, NowDep, SessionDep
from api.idempotency import idempotent
from api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, page
from api.schemas import Strict
from api.types import Id
from workflow import commands
from workflow.corrective_plan import MAX_ACTIONS, TEXT_MAX, Plan, PlannedAction
from workflow.queries.corrective_actions import (
    CorrectiveActionDetail,
    CorrectiveActionView,
    corrective_action_detail,
    list_corrective_actions,
)

router = APIRouter(prefix="/corrective-actions", tags=["corrective actions"])


class PlannedActionIn(Strict):
    description: Annotated[str, Field(max_length=TEXT_MAX)] = ""
    owner_id: int | None = None
    due_on: date | None = None


class CorrectiveActionEventIn(Strict):
    """`submit_plan`: root_cause, actions, target_date; `request_rework` and
    `report_completion`: comment (required); the others take none."""

    root_cause: Annotated[str, Field(max_length=TEXT_MAX)] | None = None
    actions: Annotated[list[PlannedActionIn], Field(max_length=MAX_ACTIONS)] | None = None
    target_date: date | None = None
    comment: Annotated[str, Field(max_length=TEXT_MAX)] | None = None
    expected_lock_version: int | None = Field(
        default=None, description="refuse with 409 if the action changed since it was read"
    )

    def plan(self) -> Plan:
        return Plan(
            root_cause=self.root_cause or "",
            actions=tuple(
                PlannedAction(a.description, a.owner_id, a.due_on) for a in self.actions or []
            ),
            target_date=self.target_date,
        )


@router.get("")
def get_corrective_actions(
    session: SessionDep,
    actor: ActorDep,
    sla_id: Id | None = None,
    state: Annotated[str | None, Query(max_length=20)] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[CorrectiveActionView]:
    """Corrective actions of agreements your organisation is party to, newest first."""
    return page(
        list_corrective_actions(
            session, actor, sla_id=sla_id, state=state, limit=limit, after=decode_cursor(cursor)
        )
    )


@router.get("/{action_id}")
def get_corrective_action(
    action_id: Id, session: SessionDep, actor: ActorDep
) -> CorrectiveActionDetail:
    """One action: side, metric, window, state, plan, its steps' tasks and history."""
    return corrective_action_detail(session, actor, action_id)


@router.post("/{action_id}/events/{event}", dependencies=[IdempotencyDep])
@idempotent
def fire_corrective_action_event(
    action_id: Id,
    event: str,
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    body: CorrectiveActionEventIn | None = None,
) -> CorrectiveActionDetail:
    """`submit_plan` and `report_completion` by the owner side's Program Manager;
    `accept_plan`, `request_rework` and `confirm_closure` by the other side's Program Manager
    or Functional Lead (or their delegates). 422 names each field of a bad plan; 409 names
    the state; 403 when the step belongs to someone else."""
    body = body or CorrectiveActionEventIn()
    commands.fire_corrective_action_event(
        session,
        actor=actor,
        action_id=action_id,
        event=event,
        now=now,
        comment=body.comment,
        plan=body.plan() if event == "submit_plan" else None,
        expected_lock_version=body.expected_lock_version,
    )
    return corrective_action_detail(session, actor, action_id)
