"""Corrective actions as people see them: side, metric, window, state, plan and history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, or_, select

from states import CORRECTIVE_ACTIONS, Side
from states.corrective_actions import COUNTERPART_ROLES
from workflow.access import Actor, delegators_of, grants
from workflow.errors import NotFound
from workflow.models import (
    Agreement,
    CorrectiveAction,
    ReportingPeriod,
    StakeholderAssignment,
    Task,
)
from workflow.queries.agreements import visible_agreement
from workflow.queries.common import (
    AgreementRef,
    Person,
    Slice,
    View,
    after_int,
    agreement_ref,
    one_of,
    page_of,
    people,
)


class PlannedActionView(View):
    description: str
    owner: Person | None
    owner_id: int | None
    due_on: date | None


class PlanView(View):
    root_cause: str | None
    actions: list[PlannedActionView]
    target_date: date | None


class StepView(View):
    event: str
    to_state: str
    actor: Person | None
    on_behalf_of: Person | None
    at: datetime
    comment: str | None


class ActionTaskView(View):
    id: int
    kind: str
    side: str
    role: str
    state: str
    due_on: date
    assignee: Person | None


class CorrectiveActionView(View):
    id: int
    sla_id: int
    agreement: AgreementRef
    period: str
    side: str
    metric: str
    window: str
    target: float | None
    actual: float | None
    state: str
    lock_version: int
    created_at: datetime
    state_changed_at: datetime


class CorrectiveActionDetail(CorrectiveActionView):
    plan: PlanView
    cancel_reason: str | None
    next_events: list[str]
    tasks: list[ActionTaskView]
    history: list[StepView]


def list_corrective_actions(
    session: Session,
    actor: Actor,
    *,
    sla_id: int | None = None,
    state: str | None = None,
    period: str | None = None,
    limit: int = 50,
    after: list[Any] | None = None,
) -> Slice[CorrectiveActionView]:
    """The actions of agreements the actor's organisation is party to, newest first."""
    org = actor.organization_id
    query = (
        select(CorrectiveAction, Agreement, ReportingPeriod.period)
        .join(Agreement, col(Agreement.id) == col(CorrectiveAction.agreement_id))
        .join(ReportingPeriod, col(ReportingPeriod.id) == col(CorrectiveAction.period_id))
        .where(or_(col(Agreement.customer_org_id) == org, col(Agreement.provider_org_id) == org))
    )
    if sla_id is not None:
        visible_agreement(session, actor, sla_id)
        query = query.where(CorrectiveAction.agreement_id == sla_id)
    if period is not None:
        query = query.where(ReportingPeriod.period == period)
    state = one_of("state", state, CORRECTIVE_ACTIONS.state_names)
    if state is not None:
        query = query.where(CorrectiveAction.state == state)
    position = after_int(after)
    if position is not None:
        query = query.where(col(CorrectiveAction.id) < position)
    rows = list(session.exec(query.order_by(col(CorrectiveAction.id).desc()).limit(limit + 1)))
    found, next_after = page_of(rows, limit, lambda r: [r[0].id])
    return Slice([_view(a, ag, label) for a, ag, label in found], next_after)


def corrective_action_detail(
    session: Session, actor: Actor, action_id: int
) -> CorrectiveActionDetail:
    row = session.get(CorrectiveAction, action_id, populate_existing=True)
    if row is None:
        raise NotFound("no such corrective action")
    agreement = visible_agreement(session, actor, row.agreement_id)
    period = session.get(ReportingPeriod, row.period_id)
    assert period is not None
    tasks = list(
        session.exec(
            select(Task).where(Task.corrective_action_id == row.id).order_by(col(Task.id))
        ).all()
    )
    who = people(
        session,
        [
            *(a.get("owner_id") for a in row.actions),
            *(h.get("actor_id") for h in row.history),
            *(h.get("on_behalf_of_id") for h in row.history),
            *(t.assignee_id for t in tasks),
        ],
    )
    return CorrectiveActionDetail(
        **_view(row, agreement, period.period).model_dump(),
        plan=PlanView(
            root_cause=row.root_cause,
            actions=[
                PlannedActionView(
                    description=a.get("description") or "",
                    owner=who.get(a.get("owner_id") or 0),
                    owner_id=a.get("owner_id"),
                    due_on=date.fromisoformat(a["due_on"]) if a.get("due_on") else None,
                )
                for a in row.actions
            ],
            target_date=row.target_date,
        ),
        cancel_reason=row.cancel_reason,
        next_events=[
            t.event for t in CORRECTIVE_ACTIONS.events_from(row.state) if t.task_kind is not None
        ],
        tasks=[
            ActionTaskView(
                id=t.id or 0,
                kind=t.kind,
                side=t.side,
                role=t.role,
                state=t.state,
                due_on=t.due_on,
                assignee=who.get(t.assignee_id or 0),
            )
            for t in tasks
        ],
        history=[
            StepView(
                event=h["event"],
                to_state=h["to_state"],
                actor=who.get(h.get("actor_id") or 0),
                on_behalf_of=who.get(h.get("on_behalf_of_id") or 0),
                at=datetime.fromisoformat(h["at"]),
                comment=h.get("comment"),
            )
            for h in row.history
        ],
    )


def my_events(
    session: Session, actor: Actor, detail: CorrectiveActionDetail, day: date
) -> list[str]:
    """The action's next events the actor may take now: as the holder of the step's task (or
    their delegate), or, for the other side's steps, as its Program Manager or Functional
    Lead (the rule `workflow.subjects.corrective_action` enforces)."""
    principals = {actor.user_id, *delegators_of(session, actor.user_id, day)}
    held = grants(session, detail.sla_id, actor, day)
    owner = Side(detail.side)
    allowed = []
    for event in detail.next_events:
        kind = CORRECTIVE_ACTIONS.transition(event).task_kind
        for task in detail.tasks:
            if task.kind != kind or task.state != "open":
                continue
            mine = task.assignee is not None and task.assignee.id in principals
            deciding = Side(task.side) is owner.other and any(
                g.side is owner.other and g.role in COUNTERPART_ROLES for g in held
            )
            if mine or deciding:
                allowed.append(event)
                break
    return allowed


def stakeholders(session: Session, agreement_id: int) -> list[tuple[Person, str, str]]:
    """Who may own a planned action: each stakeholder with their side and role."""
    rows = session.exec(
        select(
            StakeholderAssignment.user_id, StakeholderAssignment.side, StakeholderAssignment.role
        )
        .where(StakeholderAssignment.agreement_id == agreement_id)
        .order_by(col(StakeholderAssignment.side), col(StakeholderAssignment.role))
    ).all()
    who = people(session, [r[0] for r in rows])
    return [(who[u], side, role) for u, side, role in rows if u in who]


def _view(row: CorrectiveAction, agreement: Agreement, period: str) -> CorrectiveActionView:
    return CorrectiveActionView(
        id=row.id or 0,
        sla_id=row.agreement_id,
        agreement=agreement_ref(agreement),
        period=period,
        side=row.side,
        metric=row.metric_key,
        window=row.window,
        target=row.target,
        actual=row.actual,
        state=row.state,
        lock_version=row.lock_version,
        created_at=row.created_at,
        state_changed_at=row.state_changed_at,
    )
