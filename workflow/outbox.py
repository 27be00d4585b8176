"""Outbox rows: what people must be told, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from workflow.db import is_postgres
from workflow.models import OutboxMessage


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
    """Queue one message; a second row with the same dedupe key is silently dropped."""
    dialect_insert = postgresql.insert if is_postgres(session) else sqlite.insert
    session.execute(
        dialect_insert(OutboxMessage)
        .values(
            topic=topic,
            dedupe_key=dedupe_key,
            agreement_id=agreement_id,
            recipients=recipients,
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
