"""Outbox rows: what people must be told, written in the same transaction as the change.

Messages queue on the command (`workflow.command`) and its commit inserts them in one
statement, so a command pays one round trip for all its messages, and a rolled-back command
leaves none.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from workflow.db import sqlite_text
from workflow.models import OutboxMessage, OutboxStatus
from workflow.payloads import ShapeChecks, checked

# One statement per dialect, built once: executed with a list of rows it stays in the
# compiled cache, where a multi-VALUES statement would compile anew for every row count.
# On the table, not the entity, and run on the connection: the ORM's bulk-insert layer
# (and the autoflush before it) cost more than the insert itself.
_TABLE: sa.Table = OutboxMessage.__table__  # type: ignore[attr-defined]
_INSERTS = {
    name: dialect.insert(_TABLE).on_conflict_do_nothing(index_elements=["dedupe_key"])
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


_PENDING = OutboxStatus.PENDING.value


def message_row(
    *,
    topic: str,
    dedupe_key: str,
    now: datetime,
    recipients: dict[str, Any],
    payload: dict[str, Any],
    agreement_id: int | None = None,
    shapes: ShapeChecks | None = None,
    shape: Hashable = None,
) -> dict[str, Any]:
    """A new outbox row, pending delivery from `now`; the payload is checked against the
    topic's type (`workflow.payloads`), so a malformed message fails its command (once per
    `shape` with `shapes`: see `ShapeChecks`)."""
    return {
        "topic": topic,
        "dedupe_key": dedupe_key,
        "agreement_id": agreement_id,
        "recipients": recipients,
        "payload": checked(topic, payload)
        if shapes is None
        else shapes.checked(topic, shape, payload),
        "status": _PENDING,
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


# ---- inserting now, and learning which messages this transaction wrote ------------------

# SQLite: multi-row VALUES with RETURNING, straight to the driver with the values already in
# the form SQLAlchemy would bind (JSON text, UTC time text): its per-row parameter and type
# processing cost more than the insert. At most _ROWS_PER_INSERT rows a statement (SQLite
# allows 32,766 parameters).
_INSERT_INTO = (
    "INSERT INTO outbox_message (topic, dedupe_key, agreement_id, recipients, payload, status, "
    "attempts, next_attempt_at, created_at) VALUES "
)
_ONE_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
_ROWS_PER_INSERT = 500


def _insert_once_sqlite(rows: int) -> str:
    # Constant names and placeholders only: every value is a parameter.
    values = ", ".join([_ONE_ROW] * rows)
    return f"{_INSERT_INTO}{values} ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key"


# PostgreSQL: one statement with one JSON array parameter, whatever the number of rows. A
# multi-row VALUES with RETURNING (what SQLAlchemy sends for the SQLite form) has nine
# placeholders per row, which psycopg parses anew for every statement, and arrays of JSON text
# cost more to escape than the server takes to insert them.
_INSERT_ONCE_PG = sa.text(
    "INSERT INTO outbox_message (topic, dedupe_key, agreement_id, recipients, payload, "
    "status, attempts, next_attempt_at, created_at) "
    "SELECT r->>'topic', r->>'dedupe_key', CAST(r->>'agreement_id' AS integer), "
    "r->'recipients', r->'payload', r->>'status', CAST(r->>'attempts' AS integer), "
    "CAST(r->>'next_attempt_at' AS timestamptz), CAST(r->>'created_at' AS timestamptz) "
    "FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS r "
    "ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key"
)


def insert_once(session: Session, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert outbox rows now; the dedupe keys of those this transaction inserted.

    Unlike `Outbox.write` (which batches at commit and drops duplicates silently), this tells
    the caller which messages are its own, so that it writes their audit events and no others.
    Rows go in dedupe-key order, so that two transactions inserting overlapping keys wait for
    each other in the same order and never deadlock.
    """
    if not rows:
        return set()
    connection = session.connection()
    ordered = sorted(rows, key=lambda r: str(r["dedupe_key"]))
    if connection.dialect.name != "postgresql":
        inserted: set[str] = set()
        for start in range(0, len(ordered), _ROWS_PER_INSERT):
            chunk = ordered[start : start + _ROWS_PER_INSERT]
            values: list[Any] = []
            times: dict[datetime, str] = {}  # a batch's rows share one or two moments
            for r in chunk:
                queued, created = r["next_attempt_at"], r["created_at"]
                if queued not in times:
                    times[queued] = sqlite_text(queued)
                if created not in times:
                    times[created] = sqlite_text(created)
                values.extend(
                    (
                        r["topic"],
                        r["dedupe_key"],
                        r["agreement_id"],
                        json.dumps(r["recipients"]),
                        json.dumps(r["payload"]),
                        r["status"],
                        r["attempts"],
                        times[queued],
                        times[created],
                    )
                )
            found = connection.exec_driver_sql(_insert_once_sqlite(len(chunk)), tuple(values))
            inserted.update(key for (key,) in found.fetchall())
        return inserted
    document = json.dumps(
        [
            {
                **r,
                "next_attempt_at": _utc_iso(r["next_attempt_at"]),
                "created_at": _utc_iso(r["created_at"]),
            }
            for r in ordered
        ]
    )
    return {key for (key,) in connection.execute(_INSERT_ONCE_PG, {"rows": document})}


def _utc_iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("outbox times must be timezone-aware")
    return moment.astimezone(UTC).isoformat()


_EXISTING_KEYS = sa.select(_TABLE.c.dedupe_key).where(
    _TABLE.c.dedupe_key.in_(sa.bindparam("keys", expanding=True))
)
# One array parameter instead of thousands of placeholders (see _INSERT_ONCE_PG).
_EXISTING_KEYS_PG = sa.text(
    "SELECT dedupe_key FROM outbox_message WHERE dedupe_key = ANY(CAST(:keys AS text[]))"
)


def existing_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of `keys` the outbox already holds (one indexed query)."""
    wanted = list(keys)
    if not wanted:
        return set()
    connection = session.connection()
    statement = _EXISTING_KEYS_PG if connection.dialect.name == "postgresql" else _EXISTING_KEYS
    return {k for (k,) in connection.execute(statement, {"keys": wanted})}
