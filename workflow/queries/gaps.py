"""Gaps between the customer's requirements and the provider's capabilities, per version."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from workflow.access import Actor
from workflow.errors import NotFound
from workflow.models import AgreementVersion, Gap
from workflow.permissions import version_by_number
from workflow.queries.agreements import visible_agreement
from workflow.queries.common import Person, Slice, View, after_int, page_of, people


class GapView(View):
    id: int
    agreement_id: int
    version_number: int
    metric_key: str
    source: str
    requirement: float | None
    capability: float | None
    severity: str
    description: str
    resolution: str | None
    resolution_note: str | None
    agreed_target: float | None
    created_by: Person | None
    created_at: datetime
    resolved_by: Person | None
    resolved_at: datetime | None


def gaps_of_version(
    session: Session,
    actor: Actor,
    agreement_id: int,
    number: int,
    *,
    limit: int = 50,
    after: list[object] | None = None,
) -> Slice[GapView]:
    agreement = visible_agreement(session, actor, agreement_id)
    version = version_by_number(session, agreement, number)
    stmt = select(Gap).where(Gap.version_id == version.id)
    start = after_int(after)
    if start is not None:
        stmt = stmt.where(col(Gap.id) > start)
    rows = list(session.exec(stmt.order_by(col(Gap.id)).limit(limit + 1)).all())
    rows, next_after = page_of(rows, limit, lambda g: [g.id])
    return Slice(_views(session, rows, {version.id or 0: version.number}), next_after)


def gap_detail(session: Session, actor: Actor, gap_id: int) -> GapView:
    gap = session.get(Gap, gap_id)
    if gap is None:
        raise NotFound("no such gap")
    visible_agreement(session, actor, gap.agreement_id)
    version = session.get(AgreementVersion, gap.version_id)
    assert version is not None
    return _views(session, [gap], {gap.version_id: version.number})[0]


def _views(session: Session, gaps: list[Gap], numbers: dict[int, int]) -> list[GapView]:
    users = people(session, [g.created_by_id for g in gaps] + [g.resolved_by_id for g in gaps])
    return [
        GapView(
            id=g.id or 0,
            agreement_id=g.agreement_id,
            version_number=numbers[g.version_id],
            metric_key=g.metric_key,
            source=g.source,
            requirement=g.requirement,
            capability=g.capability,
            severity=g.severity,
            description=g.description,
            resolution=g.resolution,
            resolution_note=g.resolution_note,
            agreed_target=g.agreed_target,
            created_by=users.get(g.created_by_id or 0),
            created_at=g.created_at,
            resolved_by=users.get(g.resolved_by_id or 0),
            resolved_at=g.resolved_at,
        )
        for g in gaps
    ]
