"""Tasks as people see them: their queue, an agreement's tasks, one task."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, not_, or_
from sqlmodel import Session, col, select

from states import TASK_KINDS, Role, Side, task_kind
from workflow.access import Actor, delegators_of
from workflow.calendar import local_date
from workflow.errors import NotFound
from workflow.models import Agreement, AgreementVersion, ReportingPeriod, Task
from workflow.models.tasks import TASK_STATES
from workflow.queries.agreements import visible_agreement
from workflow.queries.common import (
    AgreementRef,
    Person,
    Slice,
    View,
    after_date_and_id,
    agreement_ref,
    one_of,
    page_of,
    people,
)


class TaskView(View):
    id: int
    agreement: AgreementRef
    version_number: int | None
    period: str | None = None  # a reporting period's task: its period (2027-01)
    proposal_id: int | None = None  # a proposal's review task: the proposal it decides
    extension_id: int | None = None  # an extension's approval: the extension
    service_review_id: int | None = None  # a service review's task or action item
    corrective_action_id: int | None = None  # a step of a corrective action: the action
    kind: str
    title: str
    detail: str
    side: Side
    role: Role
    assignee: Person | None
    # Set when the caller holds this task as the delegate of its assignee.
    acting_for: Person | None
    state: str
    required: bool
    due_on: date
    overdue: bool
    outcomes: list[str]  # how it may be completed, while it is open
    outcome: str | None
    comment: str | None
    completed_by: Person | None
    on_behalf_of: Person | None
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True)
class TaskFilter:
    mine: bool = False  # the caller's tasks and those of whoever delegated to them today
    state: str | None = None
    kind: str | None = None
    agreement_id: int | None = None
    overdue: bool | None = None


# Overdue: open and past its due date (the due date itself is still on time).
def overdue_clause(today: date) -> ColumnElement[bool]:
    return and_(col(Task.state) == "open", col(Task.due_on) < today)


def is_overdue(task: Task, today: date) -> bool:
    return task.state == "open" and task.due_on < today


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
    org = actor.organization_id
    delegators = delegators_of(session, actor.user_id, today)
    stmt = (
        select(Task)
        .join(Agreement, col(Agreement.id) == col(Task.agreement_id))
        .where(or_(col(Agreement.customer_org_id) == org, col(Agreement.provider_org_id) == org))
    )
    if filters.mine:
        stmt = stmt.where(col(Task.assignee_id).in_([actor.user_id, *delegators]))
    if filters.state is not None:
        stmt = stmt.where(col(Task.state) == filters.state)
    if filters.kind is not None:
        stmt = stmt.where(col(Task.kind) == filters.kind)
    if filters.agreement_id is not None:
        stmt = stmt.where(col(Task.agreement_id) == filters.agreement_id)
    if filters.overdue is not None:
        late = overdue_clause(today)
        stmt = stmt.where(late if filters.overdue else not_(late))
    start = after_date_and_id(after)
    if start is not None:
        due, last_id = start
        stmt = stmt.where(
            or_(
                col(Task.due_on) > due,
                and_(col(Task.due_on) == due, col(Task.id) > last_id),
            )
        )
    stmt = stmt.order_by(col(Task.due_on), col(Task.id)).limit(limit + 1)
    rows = list(session.exec(stmt).all())
    rows, next_after = page_of(rows, limit, lambda t: [t.due_on.isoformat(), t.id])
    return Slice(views(session, rows, actor, today, delegators), next_after)


def task_detail(session: Session, actor: Actor, task_id: int, *, now: datetime) -> TaskView:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound("no such task")
    visible_agreement(session, actor, task.agreement_id)
    today = local_date(now)
    return views(session, [task], actor, today, delegators_of(session, actor.user_id, today))[0]


def views(
    session: Session, tasks: list[Task], actor: Actor, today: date, delegators: list[int]
) -> list[TaskView]:
    agreement_ids = {t.agreement_id for t in tasks}
    version_ids = {t.version_id for t in tasks if t.version_id is not None}
    period_ids = {t.period_id for t in tasks if t.period_id is not None}
    periods = (
        dict(
            session.exec(
                select(ReportingPeriod.id, ReportingPeriod.period).where(
                    col(ReportingPeriod.id).in_(period_ids)
                )
            ).all()
        )
        if period_ids
        else {}
    )
    agreements = {
        a.id: agreement_ref(a)
        for a in session.exec(select(Agreement).where(col(Agreement.id).in_(agreement_ids)))
    }
    numbers = dict(
        session.exec(
            select(AgreementVersion.id, AgreementVersion.number).where(
                col(AgreementVersion.id).in_(version_ids)
            )
        ).all()
    )
    users = people(
        session,
        [u for t in tasks for u in (t.assignee_id, t.completed_by_id, t.on_behalf_of_id)],
    )
    return [
        TaskView(
            id=t.id or 0,
            agreement=agreements[t.agreement_id],
            version_number=numbers.get(t.version_id),
            period=periods.get(t.period_id),
            proposal_id=t.proposal_id,
            extension_id=t.extension_id,
            service_review_id=t.service_review_id,
            corrective_action_id=t.corrective_action_id,
            kind=t.kind,
            title=t.title,
            detail=t.detail,
            side=Side(t.side),
            role=Role(t.role),
            assignee=users.get(t.assignee_id or 0),
            acting_for=users.get(t.assignee_id or 0)
            if t.assignee_id in delegators and t.assignee_id != actor.user_id
            else None,
            state=t.state,
            required=t.required,
            due_on=t.due_on,
            overdue=is_overdue(t, today),
            outcomes=[o.name for o in task_kind(t.kind).outcomes] if t.state == "open" else [],
            outcome=t.outcome,
            comment=t.comment,
            completed_by=users.get(t.completed_by_id or 0),
            on_behalf_of=users.get(t.on_behalf_of_id or 0),
            created_at=t.created_at,
            completed_at=t.completed_at,
        )
        for t in tasks
    ]
