"""The next deadline of each agreement: the earliest due date among its open tasks."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func
from sqlmodel import Session, col, select

from states import TaskState
from workflow.access import Actor
from workflow.models import Agreement, Task


def next_deadlines(session: Session, actor: Actor, agreement_ids: list[int]) -> dict[int, date]:
    """Agreement id → earliest open task's due date, for those of `agreement_ids` the actor's
    organisation is party to and that have an open task."""
    if not agreement_ids:
        return {}
    org = actor.organization_id
    rows = session.exec(
        select(Task.agreement_id, func.min(Task.due_on))
        .join(Agreement, col(Agreement.id) == col(Task.agreement_id))
        .where(
            col(Task.agreement_id).in_(agreement_ids),
            col(Task.state) == TaskState.OPEN,
            (col(Agreement.customer_org_id) == org) | (col(Agreement.provider_org_id) == org),
        )
        .group_by(col(Task.agreement_id))
    ).all()
    return {agreement_id: due for agreement_id, due in rows if due is not None}
