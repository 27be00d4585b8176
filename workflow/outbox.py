"""Outbox rows: what people must be told, written in the same transaction as the change.

Messages queue on the session and are inserted in one statement just before it commits, so
a command pays one round trip for all its messages, and a rolled-back command leaves none.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from workflow.models import OutboxMessage

PENDING_KEY = "accord.outbox"


def enqueue(
    session: Session,
    *,
    topic: str,
    dedupe_key: str,
    now: datetime,
    recipients: dict[str, Any],
    payload: dict[str, Any],
    agreement_id: int | None = None,
) -> None:
    """Queue one message; a row with the same dedupe key already stored wins silently."""
    pending: dict[str, dict[str, Any]] = session.info.setdefault(PENDING_KEY, {})
    pending.setdefault(
        dedupe_key,
        {
            "topic": topic,
            "dedupe_key": dedupe_key,
            "agreement_id": agreement_id,
            "recipients": recipients,
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )


# One statement per dialect, built once: executed with a list of rows it stays in the
# compiled cache, where a multi-VALUES statement would compile anew for every row count.
# On the table, not the entity, and run on the connection: the ORM's bulk-insert layer
# (and the autoflush before it) cost more than the insert itself.
_TABLE: sa.Table = OutboxMessage.__table__  # type: ignore[attr-defined]
_INSERTS = {
    name: dialect.insert(_TABLE).on_conflict_do_nothing(index_elements=["dedupe_key"])
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


@event.listens_for(OrmSession, "before_commit")
def _insert_pending(session: OrmSession) -> None:
    pending: dict[str, dict[str, Any]] = session.info.pop(PENDING_KEY, {})
    if pending:
        connection = session.connection()
        connection.execute(_INSERTS[connection.dialect.name], list(pending.values()))


@event.listens_for(OrmSession, "after_rollback")
def _drop_pending(session: OrmSession) -> None:
    session.info.pop(PENDING_KEY, None)
