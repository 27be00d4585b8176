"""Housekeeping commands the scheduler runs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from workflow import audit
from workflow.db import begin_write
from workflow.models import AuditChainHead, AuditEvent, IdempotencyRecord
from workflow.transaction import commit


def checkpoint_audit(session: Session, *, now: datetime, force: bool = False) -> AuditEvent | None:
    """Record every chain head, unless nothing moved since the last checkpoint (or forced)."""
    begin_write(session)
    heads = {
        h.chain: {"seq": h.seq, "hash": h.hash}
        for h in session.exec(
            select(AuditChainHead).where(AuditChainHead.chain != audit.SYSTEM_CHAIN)
        )
    }
    last = session.exec(
        select(AuditEvent.body)
        .where(
            AuditEvent.chain == audit.SYSTEM_CHAIN,
            AuditEvent.action == audit.CHECKPOINT_ACTION,
        )
        .order_by(col(AuditEvent.seq).desc())
        .limit(1)
    ).first()
    unchanged = not heads or (last is not None and json.loads(last)["data"]["heads"] == heads)
    if unchanged and not force:
        session.rollback()
        return None
    event = audit.checkpoint(session, now=now)
    commit(session)
    return event


def expire_idempotency_keys(session: Session, *, now: datetime, ttl: timedelta) -> int:
    """Forget Idempotency-Keys older than `ttl`; a later request may use the key afresh."""
    begin_write(session)
    result = session.execute(
        delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) <= now - ttl)
    )
    commit(session)
    return int(result.rowcount)  # type: ignore[attr-defined]
