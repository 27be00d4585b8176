"""Audit trails, oldest first: an agreement's, as its parties and auditors may review it, and
the system chain's (administration acts), for administrators and global auditors.

Scope: a party's people read their agreements' trails; an auditor of an organisation reads
the same and may verify those chains; administrators and global auditors read every trail.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, or_, select

from states import Role, Side
from workflow import audit
from workflow.access import Actor, require_party
from workflow.errors import Forbidden
from workflow.models import (
    Agreement,
    AgreementVersion,
    AuditEvent,
    Organization,
    StakeholderAssignment,
)
from workflow.queries.common import Person, Slice, View, after_int, page_of, people
from workflow.queries.versions import metric_names


class AuditEntry(View):
    id: int
    seq: int
    action: str
    actor: Person | None  # None: Accord itself (automatic transitions, the scheduler)
    on_behalf_of: Person | None
    occurred_at: datetime
    version_number: int | None
    data: dict[str, Any]
    hash: str
    prev_hash: str


def agreement_audit(
    session: Session,
    actor: Actor,
    agreement_id: int,
    *,
    limit: int = 50,
    after: list[object] | None = None,
) -> Slice[AuditEntry]:
    auditable_agreement(session, actor, agreement_id)
    # One chain per agreement, so its sequence number is the order of events.
    stmt = select(AuditEvent).where(AuditEvent.agreement_id == agreement_id)
    start = after_int(after)
    if start is not None:
        stmt = stmt.where(col(AuditEvent.seq) > start)
    rows = list(session.exec(stmt.order_by(col(AuditEvent.seq)).limit(limit + 1)).all())
    rows, next_after = page_of(rows, limit, lambda e: [e.seq])
    numbers = dict(
        session.exec(
            select(AgreementVersion.id, AgreementVersion.number).where(
                AgreementVersion.agreement_id == agreement_id
            )
        ).all()
    )
    return Slice(_entries(session, rows, numbers), next_after)


def _entries(
    session: Session, rows: list[AuditEvent], numbers: dict[int | None, int]
) -> list[AuditEntry]:
    users = people(session, [e.actor_id for e in rows] + [e.on_behalf_of_id for e in rows])
    return [
        AuditEntry(
            id=e.id or 0,
            seq=e.seq,
            action=e.action,
            actor=users.get(e.actor_id or 0),
            on_behalf_of=users.get(e.on_behalf_of_id or 0),
            occurred_at=e.occurred_at,
            version_number=numbers.get(e.version_id),
            data=json.loads(e.body).get("data", {}),
            hash=e.hash,
            prev_hash=e.prev_hash,
        )
        for e in rows
    ]


class AuditedAgreement(View):
    id: int
    key: str
    title: str


def auditable_agreement(session: Session, actor: Actor, agreement_id: int) -> Agreement:
    """The agreement if the actor may read its trail; NotFound otherwise."""
    agreement = session.get(Agreement, agreement_id)
    if agreement is not None and actor.audits_everything:
        return agreement
    return require_party(agreement, actor)


def auditable_agreements(session: Session, actor: Actor) -> list[AuditedAgreement]:
    """Every agreement whose trail the actor may read, by id."""
    stmt = select(Agreement.id, Agreement.key, Agreement.title).order_by(col(Agreement.id))
    if not actor.audits_everything:
        org = actor.organization_id
        stmt = stmt.where(
            or_(col(Agreement.customer_org_id) == org, col(Agreement.provider_org_id) == org)
        )
    return [AuditedAgreement(id=i, key=k, title=t) for i, k, t in session.exec(stmt).all()]


def system_audit(
    session: Session, actor: Actor, *, limit: int = 50, after: list[object] | None = None
) -> Slice[AuditEntry]:
    """The system chain: administration acts (users, roles, tokens, invitations, resets),
    sign-ins and checkpoints, oldest first."""
    if not actor.audits_everything:
        raise Forbidden("only administrators and global auditors read the administration trail")
    stmt = select(AuditEvent).where(AuditEvent.chain == audit.SYSTEM_CHAIN)
    start = after_int(after)
    if start is not None:
        stmt = stmt.where(col(AuditEvent.seq) > start)
    rows = list(session.exec(stmt.order_by(col(AuditEvent.seq)).limit(limit + 1)).all())
    rows, next_after = page_of(rows, limit, lambda e: [e.seq])
    return Slice(_entries(session, rows, {}), next_after)


class ScopedVerification(View):
    """The chain check of what the actor may audit: everything, or their organisation's."""

    ok: bool
    scope: str  # "everything" or "organisation"
    agreements_checked: int
    events_checked: int
    failures: list[dict[str, Any]]


def verify_scope(session: Session, actor: Actor) -> ScopedVerification:
    """Recompute the chains; an organisation's auditor hears only of their agreements'."""
    if not actor.may_audit:
        raise Forbidden("only administrators and auditors verify the audit trail")
    if actor.audits_everything:
        result = audit.verify(session)
        return ScopedVerification(
            ok=result.ok,
            scope="everything",
            agreements_checked=result.agreements_checked,
            events_checked=result.events_checked,
            failures=[f.as_dict() for f in result.failures],
        )
    chains = {audit.agreement_chain(a.id) for a in auditable_agreements(session, actor)}
    events = 0
    if chains:
        events = int(
            session.exec(
                select(func.count())
                .select_from(AuditEvent)
                .where(col(AuditEvent.chain).in_(chains))
            ).one()
        )
    result = audit.verify(session, chains)
    failures = [f.as_dict() for f in result.failures if f.chain in chains]
    return ScopedVerification(
        ok=not failures,
        scope="organisation",
        agreements_checked=len(chains),
        events_checked=events,
        failures=failures,
    )


def seats(session: Session, agreement_id: int) -> dict[int, str]:
    """Who each stakeholder of the agreement is there, for sentences: 'customer Business
    Owner' (a person holding several roles: the first of them in the domain's order)."""
    rows = session.exec(
        select(
            StakeholderAssignment.user_id, StakeholderAssignment.side, StakeholderAssignment.role
        ).where(StakeholderAssignment.agreement_id == agreement_id)
    ).all()
    order = {role: i for i, role in enumerate(Role)}
    found: dict[int, tuple[int, str]] = {}
    for user_id, side, role in rows:
        rank = order[Role(role)]
        if user_id not in found or rank < found[user_id][0]:
            found[user_id] = (rank, f"{Side(side).value} {Role(role).label}")
    return {user_id: seat for user_id, (_rank, seat) in found.items()}


class DetailNames(View):
    """What an event's data refers to by id or key, by the names people know."""

    people: dict[int, Person]
    organizations: dict[int, str]
    versions: dict[int, int]  # version id → its number in the agreement
    metrics: dict[str, str]  # metric key → name, as the agreement's versions last had it


def detail_names(
    session: Session,
    agreement_id: int | None,
    user_ids: set[int],
    organization_ids: set[int],
) -> DetailNames:
    """Names for events the caller may already read (of `agreement_id`, or of the system
    chain when None)."""
    versions: dict[int, int] = {}
    metrics: dict[str, str] = {}
    if agreement_id is not None:
        versions = {
            version_id: number
            for version_id, number in session.exec(
                select(AgreementVersion.id, AgreementVersion.number).where(
                    AgreementVersion.agreement_id == agreement_id
                )
            ).all()
            if version_id is not None
        }
        metrics = metric_names(session, agreement_id)
    organizations = {
        org_id: name
        for org_id, name in (
            session.exec(
                select(Organization.id, Organization.name).where(
                    col(Organization.id).in_(organization_ids)
                )
            ).all()
            if organization_ids
            else []
        )
        if org_id is not None
    }
    return DetailNames(
        people=people(session, user_ids),
        organizations=organizations,
        versions=versions,
        metrics=metrics,
    )
