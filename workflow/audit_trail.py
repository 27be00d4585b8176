"""Appending to the audit chains inside one command: the events wait in the command's trail
and are written by its commit (one INSERT for the events, one UPDATE for the heads moved)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from workflow.audit import (
    GENESIS,
    HASH_TAG,
    SYSTEM_CHAIN,
    PendingColumns,
    agreement_chain,
    hashed_columns,
    utc,
)
from workflow.canonical import canonical_json
from workflow.db import sqlite_text
from workflow.models import AuditChainHead, AuditEvent

_EVENTS: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]
_HEADS: sa.Table = AuditChainHead.__table__  # type: ignore[attr-defined]

# Core statements built once: appends are on every command's path, and the unit of work
# (object construction, flush bookkeeping, one INSERT per row) cost more than the SQL itself.
_SELECT_HEAD = (
    sa.select(_HEADS.c.seq, _HEADS.c.hash)
    .where(_HEADS.c.chain == sa.bindparam("chain"))
    .with_for_update()
)
# Several chains' heads in one read, locked in chain order (two batches never wait in a cycle).
_SELECT_HEADS = (
    sa.select(_HEADS.c.chain, _HEADS.c.seq, _HEADS.c.hash)
    .where(_HEADS.c.chain.in_(sa.bindparam("chains", expanding=True)))
    .order_by(_HEADS.c.chain)
    .with_for_update()
)
# Executed with one parameter set per chain the command appended to.
_UPDATE_HEAD = (
    sa.update(_HEADS)
    .where(_HEADS.c.chain == sa.bindparam("head_chain"))
    .values(seq=sa.bindparam("head_seq"), hash=sa.bindparam("head_hash"))
)
_CREATE_HEAD = {
    name: dialect.insert(_HEADS).on_conflict_do_nothing(index_elements=["chain"])
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}

# The events go to the driver as plain tuples, past SQLAlchemy's per-row parameter and type
# processing (a sweep writes tens of thousands): SQLite as an executemany of the table's own
# INSERT, PostgreSQL as one INSERT from arrays, whatever the number of events.
_COLUMNS = (
    "chain",
    "seq",
    "agreement_id",
    "version_id",
    "actor_id",
    "on_behalf_of_id",
    "action",
    "occurred_at",
    "body",
    "prev_hash",
    "hash",
)
_INSERT_SQLITE = str(sa.insert(_EVENTS).compile(dialect=sqlite.dialect(), column_keys=_COLUMNS))
# PostgreSQL: the rows as one JSON array, mapped onto the table's row type by the server: text
# arrays would be escaped element by element in Python by the driver (a body is full of quotes).
_INSERT_PG = sa.text(
    "INSERT INTO audit_event (chain, seq, agreement_id, version_id, actor_id, on_behalf_of_id, "
    "action, occurred_at, body, prev_hash, hash) "
    "SELECT e.chain, e.seq, e.agreement_id, e.version_id, e.actor_id, e.on_behalf_of_id, "
    "e.action, e.occurred_at, e.body, e.prev_hash, e.hash "
    "FROM json_populate_recordset(NULL::audit_event, CAST(:rows AS json)) WITH ORDINALITY "
    "AS e ORDER BY e.ordinality"
)

_TAGGED = hashlib.sha256(f"{HASH_TAG}\x00".encode())
# What canonical JSON writes unescaped and unchanged (see `event_body`).
_PLAIN = re.compile(r"[A-Za-z0-9_.:\-]*")


def event_hash(prev_hash: str, body: str) -> str:
    """`workflow.audit.event_hash`, with the tag's hash computed once."""
    digest = _TAGGED.copy()
    digest.update(f"{prev_hash}\x00{body}\x00".encode())
    return digest.hexdigest()


@lru_cache(maxsize=64)
def _iso(moment: datetime) -> str:
    # A batch's events share their moment: formatted once.
    return utc(moment).isoformat(timespec="microseconds")


def event_body(row: dict[str, Any], data: dict[str, Any]) -> str:
    """The canonical JSON of an event's hashed columns and data, byte for byte.

    Canonical JSON sorts keys, so the body is the columns before "data", the data, then the
    columns after it: written around `canonical_json(data)` when every column is plain (an int
    or null, a name canonical JSON leaves as it is), which is every event Accord appends;
    anything else goes through `canonical_json` whole.
    """
    actor, agreement = row["actor_id"], row["agreement_id"]
    behalf, version = row["on_behalf_of_id"], row["version_id"]
    action, chain, seq = row["action"], row["chain"], row["seq"]
    if not (
        type(seq) is int
        and (actor is None or type(actor) is int)
        and (agreement is None or type(agreement) is int)
        and (behalf is None or type(behalf) is int)
        and (version is None or type(version) is int)
        and _PLAIN.fullmatch(action)
        and _PLAIN.fullmatch(chain)
    ):
        return canonical_json({**hashed_columns(PendingColumns(row)), "data": data})
    occurred = _iso(row["occurred_at"])
    return _plain_body(
        action, actor, agreement, chain, canonical_json(data), occurred, behalf, seq, version
    )


def _plain_body(
    action: str,
    actor: int | None,
    agreement: int | None,
    chain: str,
    data_json: str,
    occurred: str,
    behalf: int | None,
    seq: int,
    version: int | None,
) -> str:
    """The canonical body of plain columns (see `event_body`), keys in sorted order."""
    actor_text = "null" if actor is None else actor
    agreement_text = "null" if agreement is None else agreement
    behalf_text = "null" if behalf is None else behalf
    version_text = "null" if version is None else version
    return (
        f'{{"action":"{action}","actor_id":{actor_text},"agreement_id":{agreement_text},'
        f'"chain":"{chain}","data":{data_json},"occurred_at":"{occurred}",'
        f'"on_behalf_of_id":{behalf_text},"seq":{seq},"version_id":{version_text}}}'
    )


@dataclass
class _Head:
    """A chain's head as this command will leave it; the row stays locked until the end."""

    seq: int
    hash: str
    moved: bool = False


@dataclass
class AuditTrail:
    """The events one command appends, and the chain heads it holds locked meanwhile."""

    pending: list[dict[str, Any]] = field(default_factory=list)
    heads: dict[str, _Head] = field(default_factory=dict)

    def append(
        self,
        connection: sa.Connection,
        *,
        action: str,
        now: datetime,
        agreement_id: int | None = None,
        version_id: int | None = None,
        actor_id: int | None = None,
        on_behalf_of_id: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append one event to the agreement's chain (or the system chain); returns its row.

        The row is written by `write`, with the command's other events (so it has no `id`);
        a rollback discards it with everything else.
        """
        chain = agreement_chain(agreement_id) if agreement_id is not None else SYSTEM_CHAIN
        head = self.heads.get(chain) or self._head(connection, chain)
        row: dict[str, Any] = {
            "chain": chain,
            "seq": head.seq + 1,
            "agreement_id": agreement_id,
            "version_id": version_id,
            "actor_id": actor_id,
            "on_behalf_of_id": on_behalf_of_id,
            "action": action,
            "occurred_at": utc(now),
            "prev_hash": head.hash,
        }
        row["body"] = event_body(row, data or {})
        row["hash"] = event_hash(row["prev_hash"], row["body"])
        self.pending.append(row)
        head.seq, head.hash, head.moved = row["seq"], row["hash"], True
        # The row itself, not a model: a sweep appends tens of thousands per run, and nobody
        # but the checkpoint reads what was appended.
        return row

    def append_many(
        self,
        connection: sa.Connection,
        *,
        now: datetime,
        events: Iterable[tuple[str, int, int | None, dict[str, Any]]],
    ) -> None:
        """Append events without an actor, (action, agreement_id, version_id, data) each, to
        their agreements' chains in the order given: each written exactly as `append` would
        write it (same seq, body and hash; tests/workflow/test_bulk_writes.py compares), with
        what a batch shares worked out once (the moment, a chain's name and head, whether an
        action is plain)."""
        occurred = utc(now)
        iso = _iso(occurred)
        plain: set[str] = set()
        agreement: int | None = None
        chain, head = "", _Head(0, GENESIS)
        for action, agreement_id, version_id, data in events:
            if agreement_id != agreement or not chain:
                agreement, chain = agreement_id, agreement_chain(agreement_id)
                head = self.heads.get(chain) or self._head(connection, chain)
            seq = head.seq + 1
            row: dict[str, Any] = {
                "chain": chain,
                "seq": seq,
                "agreement_id": agreement_id,
                "version_id": version_id,
                "actor_id": None,
                "on_behalf_of_id": None,
                "action": action,
                "occurred_at": occurred,
                "prev_hash": head.hash,
            }
            if action not in plain and _PLAIN.fullmatch(action):
                plain.add(action)
            if (
                action in plain
                and type(agreement_id) is int
                and (version_id is None or type(version_id) is int)
            ):
                body = _plain_body(
                    action,
                    None,
                    agreement_id,
                    chain,
                    canonical_json(data),
                    iso,
                    None,
                    seq,
                    version_id,
                )
            else:
                body = event_body(row, data)
            row["body"] = body
            row["hash"] = head.hash = event_hash(row["prev_hash"], body)
            head.seq, head.moved = seq, True
            self.pending.append(row)

    def lock_heads(self, connection: sa.Connection, chains: Iterable[str]) -> None:
        """Read (and on PostgreSQL lock) these chains' heads in one query, in chain order:
        a batch appending to many chains pays one round trip, not one per chain, and two
        batches lock in the same order. A chain without a head row gets one on first append."""
        wanted = sorted({chain for chain in chains if chain not in self.heads})
        if wanted:
            for chain, seq, digest in connection.execute(_SELECT_HEADS, {"chains": wanted}):
                self.heads[chain] = _Head(seq=seq, hash=digest)

    def write(self, connection: sa.Connection) -> None:
        """The pending events in one statement, then the moved heads in one UPDATE."""
        if not self.pending:
            return
        if connection.dialect.name == "postgresql":
            rows = [{**row, "occurred_at": row["occurred_at"].isoformat()} for row in self.pending]
            connection.execute(_INSERT_PG, {"rows": json.dumps(rows)})
        else:
            connection.exec_driver_sql(
                _INSERT_SQLITE,
                [
                    (
                        row["chain"],
                        row["seq"],
                        row["agreement_id"],
                        row["version_id"],
                        row["actor_id"],
                        row["on_behalf_of_id"],
                        row["action"],
                        sqlite_text(row["occurred_at"]),
                        row["body"],
                        row["prev_hash"],
                        row["hash"],
                    )
                    for row in self.pending
                ],
            )
        moved = [
            {"head_chain": chain, "head_seq": head.seq, "head_hash": head.hash}
            for chain, head in self.heads.items()
            if head.moved
        ]
        connection.execute(_UPDATE_HEAD, moved)
        self.pending = []
        for head in self.heads.values():
            head.moved = False

    def _head(self, connection: sa.Connection, chain: str) -> _Head:
        # A Core read: always the committed row (under the lock), never an identity-mapped copy.
        row = connection.execute(_SELECT_HEAD, {"chain": chain}).first()
        if row is None:
            connection.execute(
                _CREATE_HEAD[connection.dialect.name], {"chain": chain, "seq": 0, "hash": GENESIS}
            )
            row = connection.execute(_SELECT_HEAD, {"chain": chain}).one()
        head = self.heads[chain] = _Head(seq=row.seq, hash=row.hash)
        return head
