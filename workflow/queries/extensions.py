"""Extensions of the period of performance as people see them."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, select

from workflow.access import Actor
from workflow.errors import NotFound
from workflow.models import AgreementVersion, Extension, Task
from workflow.queries.agreements import visible_agreement
from workflow.queries.common import Person, View, people


class ExtensionDecision(View):
    task_id: int
    side: str
    assignee: Person | None
    state: str
    outcome: str | None
    comment: str | None
    decided_by: Person | None
    decided_at: datetime | None
    due_on: date


class ExtensionView(View):
    id: int
    sla_id: int
    state: str  # proposed | requested | approved | rejected
    current_end: date
    new_end_date: date
    reason: str
    requested_by: Person | None
    requested_side: str
    created_at: datetime
    decisions: list[ExtensionDecision]  # one per Business Owner
    new_version_number: int | None  # the version it brought into force, once approved


def list_extensions(session: Session, actor: Actor, agreement_id: int) -> list[ExtensionView]:
    """The agreement's extensions, newest first."""
    visible_agreement(session, actor, agreement_id)
    rows = session.exec(
        select(Extension)
        .where(Extension.agreement_id == agreement_id)
        .order_by(col(Extension.id).desc())
    ).all()
    return _views(session, list(rows))


def extension_detail(
    session: Session, actor: Actor, agreement_id: int, extension_id: int
) -> ExtensionView:
    visible_agreement(session, actor, agreement_id)
    row = session.get(Extension, extension_id)
    if row is None or row.agreement_id != agreement_id:
        raise NotFound("no such extension")
    return _views(session, [row])[0]


def _views(session: Session, rows: list[Extension]) -> list[ExtensionView]:
    tasks = session.exec(
        select(Task).where(col(Task.extension_id).in_([r.id for r in rows])).order_by(col(Task.id))
    ).all()
    numbers = dict(
        session.exec(
            select(AgreementVersion.id, AgreementVersion.number).where(
                col(AgreementVersion.id).in_([r.new_version_id for r in rows if r.new_version_id])
            )
        ).all()
    )
    who = people(
        session,
        [r.requested_by_id for r in rows]
        + [u for t in tasks for u in (t.assignee_id, t.completed_by_id)],
    )
    return [
        ExtensionView(
            id=r.id or 0,
            sla_id=r.agreement_id,
            state=r.state,
            current_end=r.current_end,
            new_end_date=r.new_end_date,
            reason=r.reason,
            requested_by=who.get(r.requested_by_id),
            requested_side=r.requested_side,
            created_at=r.created_at,
            decisions=[
                ExtensionDecision(
                    task_id=t.id or 0,
                    side=t.side,
                    assignee=who.get(t.assignee_id or 0),
                    state=t.state,
                    outcome=t.outcome,
                    comment=t.comment,
                    decided_by=who.get(t.completed_by_id or 0),
                    decided_at=t.completed_at if t.outcome else None,
                    due_on=t.due_on,
                )
                for t in tasks
                if t.extension_id == r.id
            ],
            new_version_number=numbers.get(r.new_version_id),
        )
        for r in rows
    ]
