"""Outbox rows: what people must be told, written in the same transaction as the change.

Messages queue on the command (`workflow.command`) and its commit inserts them in one
statement, so a command pays one round trip for all its messages, and a rolled-back command
leaves none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from workflow.models import OutboxMessage, OutboxStatus
from workflow.payloads import checked

# One statement per dialect, built once: executed with a list of rows it stays in the
# compiled cache, where a multi-VALUES statement would compile anew for every row count.
# On the table, not the entity, and run on the connection: the ORM's bulk-insert layer
# (and the autoflush before it) cost more than the insert itself.
_TABLE: sa.Table = OutboxMessage.__table__  # type: ignore[attr-defined]
_INSERTS = {
    name: dialect.insert(_TABLE).on_conflict_do_nothing(index_elements=["dedupe_key"])
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def message_row(
    *,
    topic: str,
    dedupe_key: str,
    now: datetime,
    recipients: dict[str, Any],
    payload: dict[str, Any],
    agreement_id: int | None = None,
) -> dict[str, Any]:
    """A new outbox row, pending delivery from `now`; the payload is checked against the
    topic's type (`workflow.payloads`), so a malformed message fails its command."""
    return {
        "topic": topic,
        "dedupe_key": dedupe_key,
        "agreement_id": agreement_id,
        "recipients": recipients,
        "payload": checked(topic, payload),
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


@dataclass
class Outbox:
    """The messages one command queues, by dedupe key (the first queued wins)."""

    pending: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, **message: Any) -> None:
        row = message_row(**message)
        self.pending.setdefault(row["dedupe_key"], row)

    def write(self, connection: sa.Connection) -> None:
        """Insert the pending messages in one statement; a key already stored wins silently."""
        if self.pending:
            connection.execute(_INSERTS[connection.dialect.name], list(self.pending.values()))
            self.pending = {}
