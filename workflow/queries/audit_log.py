"""An agreement's audit trail, oldest first, as its parties may review it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from workflow.access import Actor
from workflow.models import AgreementVersion, AuditEvent
from workflow.queries.agreements import visible_agreement
from workflow.queries.common import Person, Slice, View, after_int, page_of, people


class AuditEntry(View):
    id: int
    seq: int
    action: str
    actor: Person | None  # None: Accord itself (automatic transitions, the scheduler)
    on_behalf_of: Person | None
    occurred_at: datetime
    version_number: int | None
    data: dict[str, Any]
    hash: str
    prev_hash: str


def agreement_audit(
    session: Session,
    actor: Actor,
    agreement_id: int,
    *,
    limit: int = 50,
    after: list[object] | None = None,
) -> Slice[AuditEntry]:
    visible_agreement(session, actor, agreement_id)
    # One chain per agreement, so its sequence number is the order of events.
    stmt = select(AuditEvent).where(AuditEvent.agreement_id == agreement_id)
    start = after_int(after)
    if start is not None:
        stmt = stmt.where(col(AuditEvent.seq) > start)
    rows = list(session.exec(stmt.order_by(col(AuditEvent.seq)).limit(limit + 1)).all())
    rows, next_after = page_of(rows, limit, lambda e: [e.seq])
    numbers = dict(
        session.exec(
            select(AgreementVersion.id, AgreementVersion.number).where(
                AgreementVersion.agreement_id == agreement_id
            )
        ).all()
    )
    users = people(session, [e.actor_id for e in rows] + [e.on_behalf_of_id for e in rows])
    entries = [
        AuditEntry(
            id=e.id or 0,
            seq=e.seq,
            action=e.action,
            actor=users.get(e.actor_id or 0),
            on_behalf_of=users.get(e.on_behalf_of_id or 0),
            occurred_at=e.occurred_at,
            version_number=numbers.get(e.version_id),
            data=json.loads(e.body).get("data", {}),
            hash=e.hash,
            prev_hash=e.prev_hash,
        )
        for e in rows
    ]
    return Slice(entries, next_after)
