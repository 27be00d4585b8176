"""Housekeeping commands the scheduler runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from workflow import audit
from workflow.command import command
from workflow.models import AuditChainHead, AuditEvent, IdempotencyRecord, JobRun


def checkpoint_audit(session: Session, *, now: datetime, force: bool = False) -> AuditEvent | None:
    """Record every chain head, unless nothing moved since the last checkpoint (or forced)."""
    with command(session) as tx:
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
            tx.rollback()
            return None
        return audit.checkpoint(tx, now=now)


def expire_idempotency_keys(session: Session, *, now: datetime, ttl: timedelta) -> int:
    """Forget Idempotency-Keys older than `ttl`; a later request may use the key afresh."""
    with command(session):
        result = session.execute(
            delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) <= now - ttl)
        )
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class JobOutcome:
    job: str
    started_at: datetime
    finished_at: datetime
    ok: bool
    summary: str


def record_job_run(session: Session, outcome: JobOutcome) -> None:
    """Note a scheduler job's run (one row per job, whichever process ran it)."""
    with command(session):
        table = JobRun.__table__  # type: ignore[attr-defined]
        connection = session.connection()
        took = (outcome.finished_at - outcome.started_at).total_seconds() * 1000
        values = {
            "job": outcome.job,
            "last_started_at": outcome.started_at,
            "last_finished_at": outcome.finished_at,
            "last_outcome": "ok" if outcome.ok else "failed",
            "last_duration_ms": round(took, 2),
            "last_summary": outcome.summary[:500],
        }
        success = outcome.finished_at if outcome.ok else table.c.last_success_at
        first = {
            **values,
            "runs": 1,
            "last_success_at": outcome.finished_at if outcome.ok else None,
        }
        again = {**values, "runs": table.c.runs + 1, "last_success_at": success}
        if connection.dialect.name == "postgresql":
            pg = postgresql.insert(table).values(**first)
            connection.execute(pg.on_conflict_do_update(index_elements=[table.c.job], set_=again))
        else:
            lite = sqlite.insert(table).values(**first)
            connection.execute(lite.on_conflict_do_update(index_elements=[table.c.job], set_=again))
