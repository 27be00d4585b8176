"""Appending to the audit chains inside one command: the events wait in the command's trail
and are written by its commit (one INSERT for the events, one UPDATE for the heads moved)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from workflow.audit import (
    GENESIS,
    SYSTEM_CHAIN,
    PendingColumns,
    agreement_chain,
    event_hash,
    hashed_columns,
    utc,
)
from workflow.canonical import canonical_json
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
_INSERT_EVENT = sa.insert(_EVENTS)
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
        head = self._head(connection, chain)
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
        row["body"] = canonical_json({**hashed_columns(PendingColumns(row)), "data": data or {}})
        row["hash"] = event_hash(row["prev_hash"], row["body"])
        self.pending.append(row)
        head.seq, head.hash, head.moved = row["seq"], row["hash"], True
        # The row itself, not a model: a sweep appends tens of thousands per run, and nobody
        # but the checkpoint reads what was appended.
        return row

    def write(self, connection: sa.Connection) -> None:
        """The pending events in one INSERT, then the moved heads in one UPDATE."""
        if not self.pending:
            return
        connection.execute(_INSERT_EVENT, self.pending)
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
        if chain in self.heads:
            return self.heads[chain]
        # A Core read: always the committed row (under the lock), never an identity-mapped copy.
        row = connection.execute(_SELECT_HEAD, {"chain": chain}).first()
        if row is None:
            connection.execute(
                _CREATE_HEAD[connection.dialect.name], {"chain": chain, "seq": 0, "hash": GENESIS}
            )
            row = connection.execute(_SELECT_HEAD, {"chain": chain}).one()
        head = self.heads[chain] = _Head(seq=row.seq, hash=row.hash)
        return head
