"""The messages a sweep sends: a reminder to a task's assignee, an escalation to a role.

Rows come from the sweep's one joined read of the task with its agreement and version, so
the payload needs no further query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from states import Role, Side
from workflow.announcements import task_ref
from workflow.models import StakeholderAssignment, User
from workflow.outbox import message_row
from workflow.payloads import ShapeChecks

REMINDER_TOPIC = "task.reminder"
_PROGRAM_MANAGER = Role.PROGRAM_MANAGER.value
ESCALATION_TOPIC = "task.escalated"

_S: sa.Table = StakeholderAssignment.__table__  # type: ignore[attr-defined]
_U: sa.Table = User.__table__  # type: ignore[attr-defined]

_HOLDERS = (
    sa.select(_S.c.agreement_id, _S.c.side, _S.c.role, _U.c.id, _U.c.name, _U.c.email)
    .select_from(_S.join(_U, _U.c.id == _S.c.user_id))
    .where(_S.c.agreement_id.in_(sa.bindparam("agreements", expanding=True)))
)


@dataclass(frozen=True)
class Holder:
    user_id: int
    name: str
    email: str


def role_holders(
    session: Session, agreement_ids: Iterable[int]
) -> dict[tuple[int, Side, Role], Holder]:
    """Who holds each (agreement, side, role) of these agreements."""
    ids = sorted(set(agreement_ids))
    if not ids:
        return {}
    rows = session.connection().execute(_HOLDERS, {"agreements": ids})
    return {
        (agreement_id, Side(side), Role(role)): Holder(user_id, name, email)
        for agreement_id, side, role, user_id, name, email in rows
    }


def agreement_payload(row: Any) -> dict[str, Any]:
    """The `agreement` and `version` of an outbox payload, from a row with their columns."""
    return {
        "agreement": {
            "id": row.agreement_id,
            "key": row.agreement_key,
            "title": row.agreement_title,
        },
        "version": {
            "id": row.version_id,
            "number": row.version_number,
            "modification_number": row.modification_number,
            "state": row.version_state,
        },
    }


def reminder_row(
    task: Any,
    key: str,
    step: str,
    days_overdue: int,
    *,
    now: datetime,
    shapes: ShapeChecks | None = None,
) -> dict[str, Any]:
    """A reminder for the task's assignee (its side's Program Manager when it has none).

    With `shapes`, `task` is a row: the types of its values (and of `step` and
    `days_overdue`) are the payload's shape, checked once (`workflow.payloads.ShapeChecks`)."""
    side = Side(task.side)
    recipients: dict[str, Any] = (
        {"user_ids": [task.assignee_id]}
        if task.assignee_id is not None
        else {"roles": [{"side": side.value, "role": _PROGRAM_MANAGER}]}
    )
    return message_row(
        topic=REMINDER_TOPIC,
        dedupe_key=key,
        now=now,
        agreement_id=task.agreement_id,
        recipients=recipients,
        shapes=shapes,
        shape=None if shapes is None else (*map(type, task), type(step), type(days_overdue)),
        payload={
            **agreement_payload(task),
            "task": task_ref(task),
            "step": step,
            "due_on": task.due_on.isoformat(),
            "business_days_overdue": days_overdue,
        },
    )


def escalation_row(
    task: Any,
    key: str,
    role: Role,
    holder: Holder | None,
    days_overdue: int,
    *,
    now: datetime,
    shapes: ShapeChecks | None = None,
) -> dict[str, Any]:
    """An escalation of the task to `role` on its side, naming who holds that role (with
    `shapes`, as for `reminder_row`: the holder's value types are part of the shape)."""
    side, to_role = Side(task.side).value, role.value
    held = None if holder is None else (type(holder.name), type(holder.email))
    return message_row(
        shapes=shapes,
        shape=None if shapes is None else (*map(type, task), held, type(days_overdue)),
        topic=ESCALATION_TOPIC,
        dedupe_key=key,
        now=now,
        agreement_id=task.agreement_id,
        recipients={"roles": [{"side": side, "role": to_role}]},
        payload={
            **agreement_payload(task),
            "task": task_ref(task),
            "escalated_to_role": to_role,
            "side": side,
            "business_days_overdue": days_overdue,
            "holder": {"name": holder.name, "email": holder.email} if holder else None,
        },
    )
