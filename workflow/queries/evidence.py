"""A version's evidence pack: what was approved, who approved it when on which content hash,
the version's audit events, and whether the agreement's chain verifies.

The events are the version's own and the agreement's from the version's first event to its
end (the event that superseded, withdrew, expired or terminated it; else up to now). The
approvals are read from those events (`task.completed` of approval tasks), so they carry the
hash of the event that recorded them and stand or fall with the chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, select

from states import Role
from workflow import audit
from workflow.access import Actor
from workflow.errors import NotFound
from workflow.export import export_version
from workflow.models import AgreementVersion, AuditChainHead
from workflow.queries.audit_log import (
    AuditedAgreement,
    AuditEntry,
    agreement_audit,
    auditable_agreement,
)
from workflow.queries.common import Person, View

_BATCH = 500
# Actions after which a version has ended: its evidence stops there.
ENDINGS = {"version.supersede", "version.withdraw", "version.expire", "version.terminate"}
APPROVAL_OUTCOMES = ("approved", "approved_with_conditions", "rejected")


class Approval(View):
    """One approver's decision, as the audit trail recorded it."""

    side: str
    role: str
    role_label: str
    outcome: str
    by: Person | None
    on_behalf_of: Person | None
    at: datetime
    content_hash: str | None  # the content the approver saw
    matches_version: bool  # that content is the version's
    comment: str | None
    seq: int
    event_hash: str


class ChainCheck(View):
    """The recomputation of the agreement's chain when the pack was made."""

    ok: bool
    chain: str
    events_checked: int
    head_hash: str | None
    failures: list[dict[str, Any]]
    checked_at: datetime


class EvidencePack(View):
    agreement: AuditedAgreement
    customer: str
    provider: str
    version: int
    modification_number: int
    state: str
    content_hash: str
    activated_at: datetime | None
    content: dict[str, Any]  # the export document: terms, metrics, stakeholders
    approvals: list[Approval]
    verification: ChainCheck
    chain: str
    events: list[AuditEntry]


def all_events(session: Session, actor: Actor, agreement_id: int) -> Iterator[AuditEntry]:
    after: list[object] | None = None
    while True:
        found = agreement_audit(session, actor, agreement_id, limit=_BATCH, after=after)
        yield from found.items
        if found.next_after is None:
            return
        after = found.next_after


def _approval(entry: AuditEntry, content_hash: str) -> Approval | None:
    task = entry.data.get("after")
    outcome = entry.data.get("outcome")
    if (
        entry.action != "task.completed"
        or not isinstance(task, dict)
        or task.get("kind") != "approval"
        or outcome not in APPROVAL_OUTCOMES
    ):
        return None
    role = str(task.get("role", ""))
    seen = entry.data.get("content_hash")
    return Approval(
        side=str(task.get("side", "")),
        role=role,
        role_label=Role(role).label if role in Role._value2member_map_ else role,
        outcome=str(outcome),
        by=entry.actor,
        on_behalf_of=entry.on_behalf_of,
        at=entry.occurred_at,
        content_hash=seen if isinstance(seen, str) else None,
        matches_version=seen == content_hash,
        comment=entry.data.get("comment"),
        seq=entry.seq,
        event_hash=entry.hash,
    )


def chain_check(session: Session, agreement_id: int, now: datetime) -> ChainCheck:
    """The agreement's chain as `audit.verify` finds it (only this chain's failures)."""
    chain = audit.agreement_chain(agreement_id)
    # This chain and the system chain, whose checkpoints vouch for its heads.
    result = audit.verify(session, [chain])
    failures = [f.as_dict() for f in result.failures if f.chain == chain]
    head = session.get(AuditChainHead, chain)
    session.rollback()
    return ChainCheck(
        ok=not failures,
        chain=chain,
        events_checked=head.seq if head is not None else 0,
        head_hash=head.hash if head is not None else None,
        failures=failures,
        checked_at=now,
    )


def evidence_pack(
    session: Session, actor: Actor, agreement_id: int, number: int, *, now: datetime
) -> EvidencePack:
    """NotFound unless the actor may audit the agreement and the version has events."""
    agreement = auditable_agreement(session, actor, agreement_id)
    version = session.exec(
        select(AgreementVersion).where(
            AgreementVersion.agreement_id == agreement_id, AgreementVersion.number == number
        )
    ).first()
    events = list(all_events(session, actor, agreement_id))
    own = [e for e in events if e.version_number == number]
    if version is None or not own:
        raise NotFound(f"{agreement.key} has no version {number}")
    first, last = own[0].seq, own[-1].seq
    ended = own[-1].action in ENDINGS
    chosen = [
        e
        for e in events
        if e.version_number == number
        or (e.version_number is None and e.seq >= first and (not ended or e.seq <= last))
    ]
    content = export_version(session, agreement, version)
    approvals = [a for e in own if (a := _approval(e, version.content_hash)) is not None]
    assert agreement.id is not None
    return EvidencePack(
        agreement=AuditedAgreement(id=agreement.id, key=agreement.key, title=agreement.title),
        customer=str(content["customer"]),
        provider=str(content["provider"]),
        version=number,
        modification_number=version.modification_number,
        state=version.state,
        content_hash=version.content_hash,
        activated_at=version.activated_at,
        content=content,
        approvals=approvals,
        verification=chain_check(session, agreement_id, now),
        chain=audit.agreement_chain(agreement_id),
        events=chosen,
    )


def _event_json(chain: str, entry: AuditEntry) -> dict[str, Any]:
    return {
        "chain": chain,
        "seq": entry.seq,
        "occurred_at": entry.occurred_at.isoformat(),
        "actor": entry.actor.model_dump(mode="json") if entry.actor else None,
        "on_behalf_of": entry.on_behalf_of.model_dump(mode="json") if entry.on_behalf_of else None,
        "action": entry.action,
        "version": entry.version_number,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
        "data": entry.data,
    }


def evidence_document(pack: EvidencePack) -> dict[str, Any]:
    """The pack as one JSON document (the page's download and the API answer the same)."""
    return {
        "agreement": pack.agreement.model_dump(mode="json"),
        "customer": pack.customer,
        "provider": pack.provider,
        "version": pack.version,
        "modification_number": pack.modification_number,
        "state": pack.state,
        "content_hash": pack.content_hash,
        "activated_at": pack.activated_at.isoformat() if pack.activated_at else None,
        "approved_content": _plain(pack.content),
        "approvals": [a.model_dump(mode="json") for a in pack.approvals],
        "verification": pack.verification.model_dump(mode="json"),
        "chain": pack.chain,
        "hash_tag": audit.HASH_TAG,
        "events": [_event_json(pack.chain, e) for e in pack.events],
    }


def _plain(value: Any) -> Any:
    """The export document with its dates as ISO text (JSON has no dates)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value
