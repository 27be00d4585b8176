"""One version of an agreement: its content, what the caller may fire, and what changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from states import LIFECYCLE, Side, VersionState
from workflow.access import Actor
from workflow.calendar import local_date
from workflow.content import describe_changes
from workflow.guards import VersionContext
from workflow.models import AgreementVersion
from workflow.permissions import actor_grants, allowed_events, version_by_number
from workflow.queries.agreements import visible_agreement
from workflow.queries.common import Person, View, people


class VersionDetail(View):
    agreement_id: int
    agreement_key: str
    number: int
    modification_number: int
    state: str
    terms: dict[str, Any]
    metrics: list[dict[str, Any]]
    lock_version: int
    content_hash: str
    drafting_side: Side
    created_at: datetime
    created_by: Person | None
    last_edited_by: Person | None
    state_changed_at: datetime
    activated_at: datetime | None
    allowed_events: list[str]
    # For each allowed event whose guards do not hold yet: what is missing, in the spec's
    # words (the comment a form asks for is not counted). The same guards the command checks.
    not_ready: dict[str, list[str]] = {}


class VersionDiff(View):
    number: int
    against: int | None  # None: compared with nothing, so everything was added
    terms: dict[str, Any]
    metrics_added: list[str]
    metrics_removed: list[str]
    metrics_changed: dict[str, Any]


def version_detail(
    session: Session, actor: Actor, agreement_id: int, number: int, *, now: datetime
) -> VersionDetail:
    agreement = visible_agreement(session, actor, agreement_id)
    version = version_by_number(session, agreement, number)
    day = local_date(now)
    ctx = VersionContext(session, agreement, version, now=now)
    allowed = allowed_events(ctx, actor, actor_grants(session, agreement, actor, day), day)
    users = people(session, [version.created_by_id, version.last_edited_by_id])
    return VersionDetail(
        agreement_id=agreement_id,
        agreement_key=agreement.key,
        number=version.number,
        modification_number=version.modification_number,
        state=version.state,
        terms=version.terms,
        metrics=version.metrics,
        lock_version=version.lock_version,
        content_hash=version.content_hash,
        drafting_side=Side(version.drafting_side),
        created_at=version.created_at,
        created_by=users.get(version.created_by_id),
        last_edited_by=users.get(version.last_edited_by_id or 0),
        state_changed_at=version.state_changed_at,
        activated_at=version.activated_at,
        allowed_events=allowed,
        not_ready=not_ready(ctx, allowed),
    )


def not_ready(ctx: VersionContext, events: list[str]) -> dict[str, list[str]]:
    missing = {}
    for event in events:
        guards = tuple(g for g in LIFECYCLE.transition(event).guards if g != "has_comment")
        failed = ctx.failed_guards(guards)
        if failed:
            missing[event] = [LIFECYCLE.guards[g] for g in failed]
    return missing


def version_diff(
    session: Session, actor: Actor, agreement_id: int, number: int, against: int | None = None
) -> VersionDiff:
    """What `number` changed against `against`: by default the active version (when it is
    another one), else the version before it, else nothing."""
    agreement = visible_agreement(session, actor, agreement_id)
    version = version_by_number(session, agreement, number)
    base: AgreementVersion | None
    if against is not None:
        base = version_by_number(session, agreement, against)
    else:
        base = (
            session.exec(
                select(AgreementVersion).where(
                    AgreementVersion.agreement_id == agreement_id,
                    AgreementVersion.state == VersionState.ACTIVE,
                    AgreementVersion.number != number,
                )
            ).first()
            or session.exec(
                select(AgreementVersion)
                .where(
                    AgreementVersion.agreement_id == agreement_id,
                    col(AgreementVersion.number) < number,
                )
                .order_by(col(AgreementVersion.number).desc())
            ).first()
        )
    changes = describe_changes(
        base.terms if base else {}, base.metrics if base else [], version.terms, version.metrics
    )
    return VersionDiff(number=number, against=base.number if base else None, **changes)


def known_metrics(session: Session, agreement_id: int) -> dict[str, dict[str, Any]]:
    """Each metric key the agreement's versions have used → its content in the newest version
    that has it (a removed metric keeps what it last was), for writing its name and figures.
    The caller has checked the reader may see the agreement."""
    rows = session.exec(
        select(AgreementVersion.metrics)
        .where(AgreementVersion.agreement_id == agreement_id)
        .order_by(col(AgreementVersion.number))
    ).all()
    known: dict[str, dict[str, Any]] = {}
    for metrics in rows:
        for metric in metrics or []:
            if isinstance(metric.get("key"), str):
                known[metric["key"]] = metric
    return known


def metric_names(session: Session, agreement_id: int) -> dict[str, str]:
    """Each metric key the agreement's versions have used → its name (see `known_metrics`)."""
    return {
        key: str(metric["name"])
        for key, metric in known_metrics(session, agreement_id).items()
        if str(metric.get("name") or "").strip()
    }
