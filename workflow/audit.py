"""The audit chain: append inside the command's transaction, verify from scratch."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, select

from workflow.audit_guards import APPEND_ONLY_MESSAGE as APPEND_ONLY_MESSAGE
from workflow.audit_guards import drop_append_only_guards as drop_append_only_guards
from workflow.audit_guards import install_append_only_guards as install_append_only_guards
from workflow.canonical import sha256_hex
from workflow.db import is_postgres
from workflow.models import AuditChainHead, AuditEvent

if TYPE_CHECKING:
    from workflow.command import Command

GENESIS = "0" * 64
HASH_TAG = "accord.audit.v1"
SYSTEM_CHAIN = "system"
CHECKPOINT_ACTION = "audit.checkpoint"


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
            names = None if wanted is None or system_only else sorted(wanted)
            with _event_rows(session, system_only, names) as rows:
                walk = _Walk(session, heads, claims, result, collect=system_only)
                walk.run(rows)
                seen |= walk.seen
        if wanted is not None:
            claims = {chain: found for chain, found in claims.items() if chain in wanted}
        for chain in sorted((set(heads) | set(claims)) - seen):
            _end_of_chain(chain, 0, GENESIS, heads.get(chain), claims.get(chain, {}), result)
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


# The events of one pass in key order (the unique index on chain, seq), in the driver's own
# parameter style: (dialect, system chain only, named chains only) -> SQL.
_SELECT_EVENTS = (
    "SELECT id, chain, seq, agreement_id, version_id, actor_id, on_behalf_of_id, action, "
    "occurred_at, body, prev_hash, hash FROM audit_event WHERE chain {op} {mark}{only} "
    "ORDER BY chain, seq"
)
_EVENT_QUERIES = {
    (dialect, system_only, named): _SELECT_EVENTS.format(
        op="=" if system_only else "<>", mark=mark, only=only if named else ""
    )
    for dialect, mark, only in (
        ("postgresql", "%s", " AND chain = ANY(%s)"),
        ("sqlite", "?", " AND chain IN (SELECT value FROM json_each(?))"),
    )
    for system_only in (True, False)
    for named in (True, False)
}
RawEvent = tuple[Any, ...]  # the columns of _SELECT_EVENTS, in its order


@contextmanager
def _event_rows(
    session: Session, system_only: bool, chains: list[str] | None
) -> Iterator[Iterator[RawEvent]]:
    """One pass's events as the driver's own tuples, in the session's transaction: a million
    rows through SQLAlchemy's result and type layers cost more than verifying them.
    PostgreSQL streams them through a server-side cursor and SQLite steps its cursor, so
    memory stays flat whatever the number of events."""
    connection = session.connection()
    driver: Any = connection.connection.driver_connection
    dialect = connection.dialect.name
    params: list[Any] = [SYSTEM_CHAIN]
    if chains is not None:
        params.append(chains if dialect == "postgresql" else json.dumps(chains))
    if dialect == "postgresql":
        cursor = driver.cursor(name="accord_audit_verify")
        cursor.itersize = 2000
    else:
        cursor = driver.cursor()
    try:
        cursor.execute(_EVENT_QUERIES[(dialect, system_only, chains is not None)], params)
        yield iter(cursor)
    finally:
        cursor.close()


# SQLAlchemy's text form of a UTC time on SQLite ("2026-01-05 14:01:00.000000"); one of this
# exact shape turns into the body's ISO form by its separators alone.
_SQLITE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}")
_CACHED_ACTIONS = 1000  # at most this many distinct plain action names remembered


class _Walk:
    """One pass of verify: the streamed events chain by chain, each checked for its link
    (seq, prev_hash, hash), its columns against its body, and the checkpoints' claims. The
    per-event cost is the whole of verify's time at a million events, so the checks run in
    one loop over plain tuples; the rare event whose columns do not frame its body is read
    again through SQLAlchemy to name the column that differs."""

    def __init__(
        self,
        session: Session,
        heads: dict[str, tuple[int, str]],
        claims: Claims,
        result: Verification,
        *,
        collect: bool,
    ) -> None:
        self.session, self.heads, self.claims, self.result = session, heads, claims, result
        self.collect = collect  # the system chain: remember what its checkpoints recorded
        self.seen: set[str] = set()
        self._plain_actions: set[str] = set()

    def run(self, rows: Iterator[RawEvent]) -> None:
        failures, claims = self.result.failures, self.claims
        tagged = hashlib.sha256(f"{HASH_TAG}\x00".encode()).copy
        chain: str | None = None
        seq = checked = 0
        digest = GENESIS
        chain_claims: dict[int, dict[str, int]] = {}
        broken = plain_chain = False
        for row in rows:
            event_id, row_chain, row_seq = row[:3]
            body, prev_hash, row_hash = row[9:]
            if row_chain != chain:
                if chain is not None and not broken:
                    self._end(chain, seq, digest, chain_claims)
                chain, seq, digest, broken = row_chain, 0, GENESIS, False
                self.seen.add(row_chain)
                chain_claims = claims.get(row_chain, {})
                plain_chain = _PLAIN.fullmatch(row_chain) is not None
            if broken:
                continue  # only a chain's first failure is named
            checked += 1
            reason = None
            if row_seq != seq + 1:
                reason = f"expected seq {seq + 1}, found {row_seq} (event missing or moved)"
            elif prev_hash != digest:
                reason = "prev_hash does not match the previous event (reordered or removed)"
            else:
                hasher = tagged()  # event_hash(prev_hash, body), the tag hashed once
                hasher.update(f"{prev_hash}\x00{body}\x00".encode())
                if hasher.hexdigest() != row_hash:
                    reason = "hash does not match the event's content (edited)"
                elif not (plain_chain and self._frames(row)):
                    reason = self._columns_problem(event_id)
            if reason is None and chain_claims:
                reason = _claim_problem(row_seq, row_hash, chain_claims)
            if reason is not None:
                failures.append(Failure(row_chain, row_seq, event_id, reason))
                broken = True
                continue
            if self.collect and row[7] == CHECKPOINT_ACTION:
                _collect_claims(row_seq, body, claims)
            seq, digest = row_seq, row_hash
        if chain is not None and not broken:
            self._end(chain, seq, digest, chain_claims)
        self.result.events_checked += checked

    def _frames(self, row: RawEvent) -> bool:
        """`_columns_frame_body` for a driver row whose chain is known to be plain."""
        _, chain, seq, agreement, version, actor, behalf, action, occurred, body = row[:10]
        if action not in self._plain_actions:
            if _PLAIN.fullmatch(action) is None:
                return False
            if len(self._plain_actions) < _CACHED_ACTIONS:
                self._plain_actions.add(action)
        iso = _iso_text(occurred)
        if iso is None:
            return False
        actor_text = "null" if actor is None else actor
        agreement_text = "null" if agreement is None else agreement
        behalf_text = "null" if behalf is None else behalf
        version_text = "null" if version is None else version
        return bool(
            body.startswith(
                f'{{"action":"{action}","actor_id":{actor_text},'
                f'"agreement_id":{agreement_text},"chain":"{chain}","data":'
            )
            and body.endswith(
                f',"occurred_at":"{iso}","on_behalf_of_id":{behalf_text},'
                f'"seq":{seq},"version_id":{version_text}}}'
            )
        )

    def _end(self, chain: str, seq: int, digest: str, claims: dict[int, dict[str, int]]) -> None:
        _end_of_chain(chain, seq, digest, self.heads.get(chain), claims, self.result)

    def _columns_problem(self, event_id: int) -> str | None:
        """Read an event that does not frame exactly through SQLAlchemy's types, to compare
        its columns with its parsed body and name the one that differs (or find none)."""
        row = self.session.connection().execute(_ONE_EVENT, {"id": event_id}).one()
        return _columns_problem(row)


_ONE_EVENT = sa.select(_EVENTS).where(_EVENTS.c.id == sa.bindparam("id"))


def _iso_text(occurred: Any) -> str | None:
    """The body's form of an event time read by the driver (None: one SQLAlchemy must read)."""
    if isinstance(occurred, datetime):  # PostgreSQL's timestamptz
        return _iso(occurred)
    if isinstance(occurred, str) and _SQLITE_TIME.fullmatch(occurred) is not None:
        return f"{occurred[:10]}T{occurred[11:]}+00:00"
    return None


def _end_of_chain(
    chain: str,
    seq: int,
    digest: str,
    head: tuple[int, str] | None,
    claims: dict[int, dict[str, int]],
    result: Verification,
) -> None:
    problem = _tail_problem(seq, digest, head, claims)
    if problem is not None:
        result.failures.append(Failure(chain, problem[0], None, problem[1]))


def _columns_problem(row: sa.Row[Any]) -> str | None:
    """An event read through SQLAlchemy: does every hashed column match its body?"""
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


def _claim_problem(seq: int, digest: str, claims: dict[int, dict[str, int]]) -> str | None:
    for recorded, cp_seq in claims.get(seq, {}).items():
        if recorded != digest:
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


def _collect_claims(cp_seq: int, body: str, claims: Claims) -> None:
    """Remember what a (verified) checkpoint of the system chain recorded."""
    heads: dict[str, dict[str, Any]] = json.loads(body)["data"]["heads"]
    for chain, head in heads.items():
        if head["seq"] > 0:
            claims.setdefault(chain, {}).setdefault(head["seq"], {}).setdefault(
                head["hash"], cp_seq
            )
