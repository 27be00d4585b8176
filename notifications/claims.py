"""Claims on outbox rows: taking due rows under a lease, marking each once (fenced by the
claim's attempt count), and releasing the ones not tried. See `notifications.dispatch`."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from notifications.deliveries import record_deliveries
from notifications.retry import RetryPolicy
from workflow.db import begin_write, db_now
from workflow.models import OutboxMessage, OutboxStatus

# Every step logs as the dispatcher, whichever module holds it.
log = logging.getLogger("notifications.dispatch")

MAX_ERROR_CHARS = 2000  # the width of outbox_message.last_error


@dataclass(frozen=True)
class Outgoing:
    """An outbox row as this dispatcher claimed it."""

    id: int
    topic: str
    dedupe_key: str
    agreement_id: int | None
    recipients: dict[str, Any]
    payload: dict[str, Any]
    created_at: datetime
    attempt: int  # `attempts` after the claim: the fencing token of every later update
    due_at: datetime  # `next_attempt_at` before the claim, restored if the claim is released


_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]

_FENCE = sa.and_(
    _OUTBOX.c.id == sa.bindparam("row_id"),
    _OUTBOX.c.status == OutboxStatus.PENDING,
    _OUTBOX.c.attempts == sa.bindparam("token"),
)


def claim_due(engine: Engine, *, now: datetime, limit: int, lease: timedelta) -> list[Outgoing]:
    with Session(engine, expire_on_commit=False) as session:
        begin_write(session)
        clock = db_now(session)
        rows = session.exec(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.next_attempt_at <= now,
                or_(
                    col(OutboxMessage.leased_until).is_(None),
                    col(OutboxMessage.leased_until) <= clock,
                ),
            )
            .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        claims = [
            Outgoing(
                id=row.id,  # type: ignore[arg-type]
                topic=row.topic,
                dedupe_key=row.dedupe_key,
                agreement_id=row.agreement_id,
                recipients=dict(row.recipients),
                payload=dict(row.payload),
                created_at=row.created_at,
                attempt=row.attempts + 1,
                due_at=row.next_attempt_at,
            )
            for row in rows
        ]
        if claims:
            session.connection().execute(
                sa.update(_OUTBOX)
                .where(_OUTBOX.c.id.in_([c.id for c in claims]))
                .values(attempts=_OUTBOX.c.attempts + 1, leased_until=clock + lease)
            )
        session.commit()
    return claims


@dataclass(frozen=True)
class Outcome:
    status: str  # "sent", "retry", "dead" or "release"
    error: str | None = None


def mark(
    engine: Engine,
    claim: Outgoing,
    outcome: Outcome,
    deliveries: list[dict[str, Any]],
    *,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> str:
    """The row's one state change after sending (fenced by the claim), with the deliveries
    not yet recorded. Returns the status it ended in, or "lost"."""
    status = outcome.status
    error = outcome.error[:MAX_ERROR_CHARS] if outcome.error else None
    values: dict[str, Any] = {"leased_until": None}
    if status == "sent":
        values |= {"status": OutboxStatus.SENT.value, "sent_at": now, "last_error": error}
    elif status == "release":
        values |= {"attempts": claim.attempt - 1, "next_attempt_at": claim.due_at}
    elif status == "retry" and not policy.gives_up(claim.attempt):
        values |= {"next_attempt_at": now + policy.delay(claim.attempt, rng), "last_error": error}
    else:
        if status == "retry":
            error = f"gave up after {claim.attempt} attempts: {error}"[:MAX_ERROR_CHARS]
        status = "dead"
        values |= {"status": OutboxStatus.DEAD.value, "last_error": error}
    with Session(engine) as session:
        begin_write(session)
        # Who received an email is a fact, recorded even when the row is no longer ours.
        record_deliveries(session, deliveries)
        changed = session.connection().execute(
            sa.update(_OUTBOX).where(_FENCE).values(**values),
            {"row_id": claim.id, "token": claim.attempt},
        )
        session.commit()
    if changed.rowcount != 1:
        log.warning("outbox %s: lease lost before it could be marked %s", claim.id, status)
        return "lost"
    return status


def release(engine: Engine, claims: Sequence[Outgoing]) -> int:
    """Undo claims that were not tried: the rows are due again as they were."""
    if not claims:
        return 0
    released = 0
    statement = (
        sa.update(_OUTBOX)
        .where(_FENCE)
        .values(
            attempts=sa.bindparam("previous"),
            next_attempt_at=sa.bindparam("due"),
            leased_until=None,
        )
    )
    with Session(engine) as session:
        begin_write(session)
        connection = session.connection()
        for c in claims:  # one statement each: executemany's rowcount is not portable
            released += connection.execute(
                statement,
                {"row_id": c.id, "token": c.attempt, "previous": c.attempt - 1, "due": c.due_at},
            ).rowcount
        session.commit()
    return released
