"""The audit chain: append inside the command's transaction, verify from scratch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from workflow.canonical import canonical_json, sha256_hex
from workflow.db import is_postgres
from workflow.models import AuditChainHead, AuditEvent

GENESIS = "0" * 64
HASH_TAG = "accord.audit.v1"
SYSTEM_CHAIN = "system"
CHECKPOINT_ACTION = "audit.checkpoint"


def agreement_chain(agreement_id: int) -> str:
    return f"agreement:{agreement_id}"


def event_hash(prev_hash: str, body: str) -> str:
    return sha256_hex(HASH_TAG, prev_hash, body)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _lock_head(session: Session, chain: str) -> AuditChainHead:
    dialect_insert = postgresql.insert if is_postgres(session) else sqlite.insert
    session.execute(
        dialect_insert(AuditChainHead)
        .values(chain=chain, seq=0, hash=GENESIS)
        .on_conflict_do_nothing(index_elements=["chain"])
    )
    return session.exec(
        select(AuditChainHead).where(AuditChainHead.chain == chain).with_for_update()
    ).one()


def append(
    session: Session,
    *,
    action: str,
    now: datetime,
    agreement_id: int | None = None,
    version_id: int | None = None,
    actor_id: int | None = None,
    on_behalf_of_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the agreement's chain (or the system chain); no commit here."""
    chain = agreement_chain(agreement_id) if agreement_id is not None else SYSTEM_CHAIN
    head = _lock_head(session, chain)
    seq = head.seq + 1
    body = canonical_json(
        {
            "chain": chain,
            "seq": seq,
            "action": action,
            "occurred_at": _iso(now),
            "agreement_id": agreement_id,
            "version_id": version_id,
            "actor_id": actor_id,
            "on_behalf_of_id": on_behalf_of_id,
            "data": data or {},
        }
    )
    digest = event_hash(head.hash, body)
    event = AuditEvent(
        chain=chain,
        seq=seq,
        agreement_id=agreement_id,
        version_id=version_id,
        actor_id=actor_id,
        on_behalf_of_id=on_behalf_of_id,
        action=action,
        occurred_at=now,
        body=body,
        prev_hash=head.hash,
        hash=digest,
    )
    session.add(event)
    head.seq = seq
    head.hash = digest
    session.add(head)
    return event


def checkpoint(session: Session, *, now: datetime) -> AuditEvent:
    """Record every chain head in the system chain, so a truncated tail cannot hide."""
    heads = session.exec(select(AuditChainHead).where(AuditChainHead.chain != SYSTEM_CHAIN)).all()
    recorded = {h.chain: {"seq": h.seq, "hash": h.hash} for h in heads}
    return append(session, action=CHECKPOINT_ACTION, now=now, data={"heads": recorded})


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


def _columns_match(event: AuditEvent, body: dict[str, Any]) -> str | None:
    expected = {
        "chain": event.chain,
        "seq": event.seq,
        "action": event.action,
        "occurred_at": _iso(event.occurred_at),
        "agreement_id": event.agreement_id,
        "version_id": event.version_id,
        "actor_id": event.actor_id,
        "on_behalf_of_id": event.on_behalf_of_id,
    }
    for name, value in expected.items():
        if body.get(name) != value:
            return f"column {name} does not match the hashed body"
    return None


def _events(session: Session, chain: str) -> Iterator[AuditEvent]:
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.chain == chain)
        .order_by(col(AuditEvent.seq), col(AuditEvent.id))
        .execution_options(yield_per=1000)
    )
    yield from session.exec(stmt)


def _verify_chain(session: Session, chain: str, result: Verification) -> tuple[int, str]:
    """Walk one chain; return its last (seq, hash) and record the first failure, if any."""

    prev_hash, expected_seq = GENESIS, 1
    for event in _events(session, chain):
        result.events_checked += 1
        reason: str | None = None
        if event.seq != expected_seq:
            reason = f"expected seq {expected_seq}, found {event.seq} (event missing or moved)"
        elif event.prev_hash != prev_hash:
            reason = "prev_hash does not match the previous event (reordered or removed)"
        elif event_hash(event.prev_hash, event.body) != event.hash:
            reason = "hash does not match the event's content (edited)"
        else:
            reason = _columns_match(event, json.loads(event.body))
        if reason is not None:
            result.failures.append(Failure(chain, event.seq, event.id, reason))
            return expected_seq - 1, prev_hash
        prev_hash, expected_seq = event.hash, expected_seq + 1
    return expected_seq - 1, prev_hash


def verify(session: Session) -> Verification:
    """Recompute every chain and compare it with the chain heads and the checkpoints."""
    result = Verification()
    heads = {h.chain: h for h in session.exec(select(AuditChainHead)).all()}
    chains = set(heads) | set(session.exec(select(AuditEvent.chain).distinct()).all())
    tails: dict[str, tuple[int, str]] = {}
    for chain in sorted(chains):
        failures_before = len(result.failures)
        tails[chain] = _verify_chain(session, chain, result)
        if chain != SYSTEM_CHAIN:
            result.agreements_checked += 1
        if len(result.failures) > failures_before:
            continue
        head = heads.get(chain)
        if head is not None and (head.seq, head.hash) != tails[chain]:
            result.failures.append(
                Failure(
                    chain,
                    tails[chain][0] + 1,
                    None,
                    f"chain ends at seq {tails[chain][0]} but its head says {head.seq} "
                    "(events after it were removed)",
                )
            )
    _check_checkpoints(session, tails, result)
    result.ok = not result.failures
    return result


def _check_checkpoints(
    session: Session, tails: dict[str, tuple[int, str]], result: Verification
) -> None:

    failed = {f.chain for f in result.failures}
    stmt = select(AuditEvent).where(
        AuditEvent.chain == SYSTEM_CHAIN, AuditEvent.action == CHECKPOINT_ACTION
    )
    for cp in session.exec(stmt):
        heads: dict[str, dict[str, Any]] = json.loads(cp.body)["data"]["heads"]
        for chain, head in heads.items():
            if chain in failed:
                continue
            last_seq, _ = tails.get(chain, (0, GENESIS))
            if head["seq"] > last_seq:
                failed.add(chain)
                result.failures.append(
                    Failure(
                        chain,
                        last_seq + 1,
                        None,
                        f"checkpoint {cp.seq} saw seq {head['seq']} but the chain ends at "
                        f"{last_seq} (tail truncated)",
                    )
                )
                continue
            recorded = session.exec(
                select(AuditEvent.hash).where(
                    AuditEvent.chain == chain, AuditEvent.seq == head["seq"]
                )
            ).first()
            if head["seq"] > 0 and recorded != head["hash"]:
                failed.add(chain)
                result.failures.append(
                    Failure(chain, head["seq"], None, f"differs from checkpoint {cp.seq}")
                )


APPEND_ONLY_MESSAGE = "audit events are append-only"


def install_append_only_guards(connection: sa.Connection) -> None:
    """Make the database itself refuse UPDATE and DELETE of audit events."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            "CREATE OR REPLACE FUNCTION accord_audit_append_only() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; END $$"
        )
        connection.exec_driver_sql(
            "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION accord_audit_append_only()"
        )
        connection.exec_driver_sql(
            "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
            "FOR EACH STATEMENT EXECUTE FUNCTION accord_audit_append_only()"
        )
        connection.exec_driver_sql("REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM PUBLIC")
        return
    for verb in ("UPDATE", "DELETE"):
        connection.exec_driver_sql(
            f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event "
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
