"""Housekeeping commands the scheduler runs."""

from __future__ import annotations

import json
from datetime import datetime

from sqlmodel import Session, col, select

from workflow import audit
from workflow.db import begin_write
from workflow.models import AuditChainHead, AuditEvent
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
