"""The audit chain: append inside the command's transaction, verify from scratch."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from itertools import groupby
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, select

from workflow.canonical import sha256_hex
from workflow.db import is_postgres
from workflow.models import AuditChainHead, AuditEvent

if TYPE_CHECKING:
    from workflow.command import Command

GENESIS = "0" * 64
HASH_TAG = "accord.audit.v1"
SYSTEM_CHAIN = "system"
CHECKPOINT_ACTION = "audit.checkpoint"
APPEND_ONLY_MESSAGE = "audit events are append-only"


_EVENTS: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]


def agreement_chain(agreement_id: int) -> str:
    return f"agreement:{agreement_id}"


def event_hash(prev_hash: str, body: str) -> str:
    return sha256_hex(HASH_TAG, prev_hash, body)


def utc(moment: datetime) -> datetime:
    """Naive means UTC (as in canonical JSON); the column stores and returns aware UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return utc(moment).isoformat(timespec="microseconds")


class PendingColumns:
    """Attribute access to a pending row, so `hashed_columns` reads it as it reads a stored one."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.__dict__.update(row)


def hashed_columns(event: Any) -> dict[str, Any]:
    """Every column the body repeats (all but id, body and the hashes, which the hash covers)."""
    return {
        "chain": event.chain,
        "seq": event.seq,
        "action": event.action,
        "occurred_at": _iso(event.occurred_at),
        "agreement_id": event.agreement_id,
        "version_id": event.version_id,
        "actor_id": event.actor_id,
        "on_behalf_of_id": event.on_behalf_of_id,
    }


def checkpoint(tx: Command, *, now: datetime) -> AuditEvent:
    """Record every chain head in the system chain, so a truncated tail cannot hide."""
    session = tx.session
    tx.trail.write(session.connection())  # heads this command moved, as it leaves them
    heads = session.exec(
        select(AuditChainHead.chain, AuditChainHead.seq, AuditChainHead.hash).where(
            AuditChainHead.chain != SYSTEM_CHAIN
        )
    )
    recorded = {chain: {"seq": seq, "hash": digest} for chain, seq, digest in heads}
    row = tx.trail.append(
        session.connection(), action=CHECKPOINT_ACTION, now=now, data={"heads": recorded}
    )
    return AuditEvent.model_construct(**row)  # a snapshot for the caller, not in a session


@dataclass
class Failure:
    chain: str
    seq: int | None
    event_id: int | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "seq": self.seq,
            "event_id": self.event_id,
            "reason": self.reason,
        }


@dataclass
class Verification:
    ok: bool = True
    agreements_checked: int = 0
    events_checked: int = 0
    failures: list[Failure] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "agreements_checked": self.agreements_checked,
            "events_checked": self.events_checked,
            "failures": [f.as_dict() for f in self.failures],
        }


# What checkpoints recorded: chain -> seq -> hash -> seq of the (first) checkpoint saying so.
Claims = dict[str, dict[int, dict[str, int]]]


def verify(session: Session, chains: Collection[str] | None = None) -> Verification:
    """Recompute every chain (or only the agreement `chains` named, with the system chain
    whose checkpoints they are compared with); compare each with its head and with every
    checkpoint.

    Three queries in one snapshot, whatever the number of chains: the heads, then the system
    chain (collecting what its valid checkpoints recorded) and every agreement chain, both
    streamed. Ends the session's transaction; refuses a session with pending changes.
    """
    result = Verification()
    wanted = None if chains is None else {*chains, SYSTEM_CHAIN}
    with _snapshot(session):
        heads = {
            chain: (seq, digest)
            for chain, seq, digest in session.exec(
                select(AuditChainHead.chain, AuditChainHead.seq, AuditChainHead.hash)
            )
            if wanted is None or chain in wanted
        }
        claims: Claims = {}
        seen: set[str] = set()
        for system_only in (True, False):
            collect = partial(_collect_claims, claims=claims) if system_only else None
            rows = _rows(session, system_only, None if wanted is None else sorted(wanted))
            for chain, chain_rows in groupby(rows, key=attrgetter("chain")):
                seen.add(chain)
                _verify_chain(
                    chain, chain_rows, heads.get(chain), claims.get(chain, {}), result, collect
                )
        if wanted is not None:
            claims = {chain: found for chain, found in claims.items() if chain in wanted}
        for chain in sorted((set(heads) | set(claims)) - seen):
            _verify_chain(chain, (), heads.get(chain), claims.get(chain, {}), result, None)
    result.agreements_checked = len((seen | set(heads) | set(claims)) - {SYSTEM_CHAIN})
    result.ok = not result.failures
    return result


@contextmanager
def _snapshot(session: Session) -> Iterator[None]:
    """One consistent view of heads and events, even while commands keep appending."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("verify on a session with pending changes")
    session.rollback()
    # SQLite's read transaction is a snapshot already (WAL); PostgreSQL's READ COMMITTED is not.
    session.connection(
        execution_options={"isolation_level": "REPEATABLE READ"} if is_postgres(session) else {}
    )
    try:
        yield
    finally:
        session.rollback()


def _rows(
    session: Session, system_only: bool, chains: list[str] | None = None
) -> Iterator[sa.Row[Any]]:
    """Events as plain rows (never identity-mapped objects a session may hold stale)."""
    chain = _EVENTS.c.chain
    stmt = (
        sa.select(_EVENTS)
        .where(chain == SYSTEM_CHAIN if system_only else chain != SYSTEM_CHAIN)
        .order_by(chain, _EVENTS.c.seq)
        .execution_options(yield_per=1000)
    )
    if chains is not None and not system_only:
        stmt = stmt.where(chain.in_(chains))
    yield from session.connection().execute(stmt)


def _verify_chain(
    chain: str,
    rows: Iterable[sa.Row[Any]],
    head: tuple[int, str] | None,
    claims: dict[int, dict[str, int]],
    result: Verification,
    on_valid: Callable[[sa.Row[Any]], None] | None,
) -> None:
    """Walk one chain in seq order and record its first failure, if any."""
    seq, digest = 0, GENESIS
    for row in rows:
        result.events_checked += 1
        reason = _link_problem(row, seq + 1, digest) or _claim_problem(row, claims)
        if reason is not None:
            result.failures.append(Failure(chain, row.seq, row.id, reason))
            return
        if on_valid is not None:
            on_valid(row)
        seq, digest = row.seq, row.hash
    problem = _tail_problem(seq, digest, head, claims)
    if problem is not None:
        result.failures.append(Failure(chain, problem[0], None, problem[1]))


def _link_problem(row: sa.Row[Any], expected_seq: int, prev_hash: str) -> str | None:
    if row.seq != expected_seq:
        return f"expected seq {expected_seq}, found {row.seq} (event missing or moved)"
    if row.prev_hash != prev_hash:
        return "prev_hash does not match the previous event (reordered or removed)"
    if event_hash(row.prev_hash, row.body) != row.hash:
        return "hash does not match the event's content (edited)"
    if _columns_frame_body(row):
        return None
    try:
        body = json.loads(row.body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return "body is not a JSON object"
    for name, value in hashed_columns(row).items():
        if body.get(name) != value:
            return f"column {name} does not match the hashed body (edited)"
    return None


# Canonical JSON sorts keys, so an appended body is exactly
#   {"action":…,"actor_id":…,"agreement_id":…,"chain":…,"data":{…},
#    "occurred_at":…,"on_behalf_of_id":…,"seq":…,"version_id":…}
# and the columns can be compared as the text around "data", without parsing the body (parsing
# was most of verify's time). The hash check has already bound the body to the chain; whatever
# does not frame exactly (an edit, a body written another way) goes through the parser.
_PLAIN = re.compile(r"[A-Za-z0-9_.:\-]*")


def _columns_frame_body(row: sa.Row[Any]) -> bool:
    action, chain = row.action, row.chain
    if not (_PLAIN.fullmatch(action) and _PLAIN.fullmatch(chain)):
        return False
    body: str = row.body
    prefix = (
        f'{{"action":"{action}","actor_id":{_int(row.actor_id)},'
        f'"agreement_id":{_int(row.agreement_id)},"chain":"{chain}","data":'
    )
    suffix = (
        f',"occurred_at":"{_iso(row.occurred_at)}","on_behalf_of_id":'
        f'{_int(row.on_behalf_of_id)},"seq":{row.seq},"version_id":{_int(row.version_id)}}}'
    )
    return body.startswith(prefix) and body.endswith(suffix)


def _int(value: int | None) -> str:
    return "null" if value is None else str(value)


def _claim_problem(row: sa.Row[Any], claims: dict[int, dict[str, int]]) -> str | None:
    for recorded, cp_seq in claims.get(row.seq, {}).items():
        if recorded != row.hash:
            return f"hash differs from the one checkpoint {cp_seq} recorded (chain rewritten)"
    return None


def _tail_problem(
    seq: int, digest: str, head: tuple[int, str] | None, claims: dict[int, dict[str, int]]
) -> tuple[int | None, str] | None:
    """After a chain's last event: (the first missing seq, if known, and why) or None."""
    if head is None and seq > 0:
        return None, f"the chain ends at seq {seq} but has no head row"
    if head is not None and head != (seq, digest):
        removed = " (events after it were removed)" if head[0] > seq else ""
        return seq + 1, f"the chain ends at seq {seq} but its head records seq {head[0]}{removed}"
    beyond = [(s, min(by.values())) for s, by in claims.items() if s > seq]
    if beyond:
        claimed, cp_seq = max(beyond)
        return seq + 1, (
            f"checkpoint {cp_seq} recorded seq {claimed} but the chain ends at seq {seq} "
            "(tail truncated)"
        )
    return None


def _collect_claims(row: sa.Row[Any], claims: Claims) -> None:
    """Remember what a (verified) checkpoint of the system chain recorded."""
    if row.action != CHECKPOINT_ACTION:
        return
    heads: dict[str, dict[str, Any]] = json.loads(row.body)["data"]["heads"]
    for chain, head in heads.items():
        if head["seq"] > 0:
            claims.setdefault(chain, {}).setdefault(head["seq"], {}).setdefault(
                head["hash"], row.seq
            )


def install_append_only_guards(connection: sa.Connection) -> None:
    """Make the database itself refuse UPDATE and DELETE (and TRUNCATE) of audit events.

    Idempotent, so that it also restores guards dropped by `drop_append_only_guards`.
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            "CREATE OR REPLACE FUNCTION accord_audit_append_only() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; END $$"
        )
        for name, timing in (
            ("audit_event_append_only", "BEFORE UPDATE OR DELETE ON audit_event FOR EACH ROW"),
            ("audit_event_no_truncate", "BEFORE TRUNCATE ON audit_event FOR EACH STATEMENT"),
        ):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON audit_event")
            connection.exec_driver_sql(
                f"CREATE TRIGGER {name} {timing} EXECUTE FUNCTION accord_audit_append_only()"
            )
        connection.exec_driver_sql("REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM PUBLIC")
        return
    for verb in ("UPDATE", "DELETE"):
        name = f"audit_event_no_{verb.lower()}"
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        connection.exec_driver_sql(
            f"CREATE TRIGGER {name} BEFORE {verb} ON audit_event "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
        )


def drop_append_only_guards(connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS accord_audit_append_only()")
        return
    for verb in ("update", "delete"):
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS audit_event_no_{verb}")
