"""Task views in one statement: the task, its agreement, version, period and people joined.

A list of tasks is read often (the approval queue is the busiest request there is), and its
cost was Python, not the database: five ORM statements built on every call and a `Task`
model constructed per row. Here each shape of filter is built once, with bound parameters,
and the rows are plain tuples; a view is made from one row.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from states import Role, Side, task_kind
from workflow.models import Agreement, AgreementVersion, ReportingPeriod, Task, User
from workflow.queries.common import AgreementRef, Person, View


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


_task = Task.__table__  # type: ignore[attr-defined]
_agreement = Agreement.__table__  # type: ignore[attr-defined]
_version = AgreementVersion.__table__  # type: ignore[attr-defined]
_period = ReportingPeriod.__table__  # type: ignore[attr-defined]
_user = User.__table__  # type: ignore[attr-defined]
_assignee = _user.alias("assignee")
_completed_by = _user.alias("completed_by")
_on_behalf_of = _user.alias("on_behalf_of")

_COLUMNS = (
    _task.c.id,
    _task.c.agreement_id,
    _agreement.c.key.label("agreement_key"),
    _agreement.c.title.label("agreement_title"),
    _version.c.number.label("version_number"),
    _period.c.period,
    _task.c.proposal_id,
    _task.c.extension_id,
    _task.c.service_review_id,
    _task.c.corrective_action_id,
    _task.c.kind,
    _task.c.title,
    _task.c.detail,
    _task.c.side,
    _task.c.role,
    _task.c.assignee_id,
    _assignee.c.name.label("assignee_name"),
    _assignee.c.email.label("assignee_email"),
    _task.c.state,
    _task.c.required,
    _task.c.due_on,
    _task.c.outcome,
    _task.c.comment,
    _task.c.completed_by_id,
    _completed_by.c.name.label("completed_by_name"),
    _completed_by.c.email.label("completed_by_email"),
    _task.c.on_behalf_of_id,
    _on_behalf_of.c.name.label("on_behalf_of_name"),
    _on_behalf_of.c.email.label("on_behalf_of_email"),
    _task.c.created_at,
    _task.c.completed_at,
)

# Outer joins on primary keys: they add no rows and leave the task index to drive the plan.
_FROM = (
    _task.join(_agreement, _agreement.c.id == _task.c.agreement_id)
    .outerjoin(_version, _version.c.id == _task.c.version_id)
    .outerjoin(_period, _period.c.id == _task.c.period_id)
    .outerjoin(_assignee, _assignee.c.id == _task.c.assignee_id)
    .outerjoin(_completed_by, _completed_by.c.id == _task.c.completed_by_id)
    .outerjoin(_on_behalf_of, _on_behalf_of.c.id == _task.c.on_behalf_of_id)
)

ONE_TASK = sa.select(*_COLUMNS).select_from(_FROM).where(_task.c.id == sa.bindparam("task_id"))


@cache
def page_statement(
    *,
    mine: bool,
    state: bool,
    kind: bool,
    agreement: bool,
    overdue: bool | None,
    after: bool,
) -> sa.Select[Any]:
    """The page query for one shape of filter (which filters are set, not their values).

    Parameters: `org`, `limit`, and as the shape asks `assignees` (a list), `state`, `kind`,
    `agreement_id`, `today` (for `overdue`), `after_due` and `after_id` (the keyset)."""
    org: sa.BindParameter[int] = sa.bindparam("org")
    stmt = (
        sa.select(*_COLUMNS)
        .select_from(_FROM)
        .where(sa.or_(_agreement.c.customer_org_id == org, _agreement.c.provider_org_id == org))
    )
    if mine:
        stmt = stmt.where(_task.c.assignee_id.in_(sa.bindparam("assignees", expanding=True)))
    if state:
        stmt = stmt.where(_task.c.state == sa.bindparam("state"))
    if kind:
        stmt = stmt.where(_task.c.kind == sa.bindparam("kind"))
    if agreement:
        stmt = stmt.where(_task.c.agreement_id == sa.bindparam("agreement_id"))
    if overdue is not None:
        # Overdue: open and past its due date (the due date itself is still on time).
        late = sa.and_(_task.c.state == "open", _task.c.due_on < sa.bindparam("today"))
        stmt = stmt.where(late if overdue else sa.not_(late))
    if after:
        due: sa.BindParameter[date] = sa.bindparam("after_due")
        stmt = stmt.where(
            sa.or_(
                _task.c.due_on > due,
                sa.and_(_task.c.due_on == due, _task.c.id > sa.bindparam("after_id")),
            )
        )
    return stmt.order_by(_task.c.due_on, _task.c.id).limit(sa.bindparam("limit"))


# How each kind of task may be completed, computed once per kind rather than once per row.
_OUTCOMES: dict[str, list[str]] = {}


def _outcomes(kind: str) -> list[str]:
    names = _OUTCOMES.get(kind)
    if names is None:
        names = _OUTCOMES[kind] = [o.name for o in task_kind(kind).outcomes]
    return list(names)


def _person(person_id: int | None, name: str | None, email: str | None) -> Person | None:
    if person_id is None or name is None or email is None:
        return None
    return Person(id=person_id, name=name, email=email)


def view_of(
    row: Row[Any, *tuple[Any, ...]], actor_id: int, delegators: list[int], today: date
) -> TaskView:
    """One task's view from its row of `page_statement` or `ONE_TASK`."""
    assignee = _person(row.assignee_id, row.assignee_name, row.assignee_email)
    is_open = row.state == "open"
    return TaskView(
        id=row.id,
        agreement=AgreementRef(
            id=row.agreement_id, key=row.agreement_key, title=row.agreement_title
        ),
        version_number=row.version_number,
        period=row.period,
        proposal_id=row.proposal_id,
        extension_id=row.extension_id,
        service_review_id=row.service_review_id,
        corrective_action_id=row.corrective_action_id,
        kind=row.kind,
        title=row.title,
        detail=row.detail,
        side=Side(row.side),
        role=Role(row.role),
        assignee=assignee,
        acting_for=assignee
        if row.assignee_id in delegators and row.assignee_id != actor_id
        else None,
        state=row.state,
        required=row.required,
        due_on=row.due_on,
        overdue=is_open and row.due_on < today,
        outcomes=_outcomes(row.kind) if is_open else [],
        outcome=row.outcome,
        comment=row.comment,
        completed_by=_person(row.completed_by_id, row.completed_by_name, row.completed_by_email),
        on_behalf_of=_person(row.on_behalf_of_id, row.on_behalf_of_name, row.on_behalf_of_email),
        created_at=row.created_at,
        completed_at=row.completed_at,
    )
