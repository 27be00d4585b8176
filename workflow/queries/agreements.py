"""Agreements as their parties see them: lists, details and version summaries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, exists, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from states import LIFECYCLE, Role, Side, VersionState
from workflow.access import Actor, require_party
from workflow.models import Agreement, AgreementVersion, Organization, StakeholderAssignment
from workflow.queries.common import Person, Slice, View, after_int, one_of, page_of, people

# A version in one of these states is the agreement's active or working version.
LIVE_STATES = (*LIFECYCLE.in_progress_states, VersionState.ACTIVE)


class PartyView(View):
    id: int
    name: str
    holiday_calendar: str


class StakeholderView(View):
    side: Side
    role: Role
    role_label: str
    user: Person


class VersionSummary(View):
    number: int
    modification_number: int
    state: str
    lock_version: int
    content_hash: str
    created_at: datetime
    state_changed_at: datetime
    activated_at: datetime | None


class AgreementItem(View):
    id: int
    key: str
    title: str
    customer: PartyView
    provider: PartyView
    your_side: Side
    # The working version's state, else the active one's, else the latest version's.
    current_state: str
    active_version: VersionSummary | None
    working_version: VersionSummary | None


class AgreementDetail(AgreementItem):
    remedy_policy: str
    allow_editor_approval: bool
    executive_approval_threshold_pct: Decimal
    reporting_period: str
    reporting_day: int
    annual_review_days_before_end: int
    dispute_escalation_rounds: int
    dispute_escalation_business_days: int
    created_at: datetime
    created_by: Person | None
    stakeholders: list[StakeholderView]
    versions: list[VersionSummary]


def visible_agreement(session: Session, actor: Actor, agreement_id: int) -> Agreement:
    """The agreement if the actor's organisation is party to it; NotFound otherwise."""
    return require_party(session.get(Agreement, agreement_id), actor)


def list_agreements(
    session: Session,
    actor: Actor,
    *,
    state: str | None = None,
    q: str | None = None,
    limit: int = 50,
    after: list[object] | None = None,
) -> Slice[AgreementItem]:
    """Agreements the actor's organisation is party to, oldest first."""
    org = actor.organization_id
    stmt = select(Agreement).where(
        or_(col(Agreement.customer_org_id) == org, col(Agreement.provider_org_id) == org)
    )
    state = one_of("state", state, LIFECYCLE.state_names)
    if state is not None:
        stmt = stmt.where(_in_state(state))
    if q and q.strip():
        needle = q.strip().lower()
        stmt = stmt.where(
            or_(
                func.lower(Agreement.title).contains(needle, autoescape=True),
                func.lower(Agreement.key).contains(needle, autoescape=True),
            )
        )
    start = after_int(after)
    if start is not None:
        stmt = stmt.where(col(Agreement.id) > start)
    rows = list(session.exec(stmt.order_by(col(Agreement.id)).limit(limit + 1)).all())
    rows, next_after = page_of(rows, limit, lambda a: [a.id])
    versions = _versions_of(session, [a.id for a in rows if a.id is not None])
    parties = _parties(session, rows)
    return Slice([_item(a, actor, parties, versions.get(a.id or 0, [])) for a in rows], next_after)


def _in_state(state: str) -> ColumnElement[bool]:
    """An agreement is in a state when its working or active version is (or, with neither,
    its latest version is: an agreement whose only version was withdrawn is `withdrawn`)."""
    version = aliased(AgreementVersion)
    same_agreement = col(version.agreement_id) == col(Agreement.id)
    if state in LIVE_STATES:
        return exists().where(same_agreement, col(version.state) == state)
    live = aliased(AgreementVersion)
    later = aliased(AgreementVersion)
    return and_(
        ~exists().where(
            col(live.agreement_id) == col(Agreement.id), col(live.state).in_(LIVE_STATES)
        ),
        exists().where(
            same_agreement,
            col(version.state) == state,
            ~exists().where(
                col(later.agreement_id) == col(version.agreement_id),
                col(later.number) > col(version.number),
            ),
        ),
    )


def agreement_detail(session: Session, actor: Actor, agreement_id: int) -> AgreementDetail:
    agreement = visible_agreement(session, actor, agreement_id)
    versions = _versions_of(session, [agreement_id]).get(agreement_id, [])
    item = _item(agreement, actor, _parties(session, [agreement]), versions)
    rows = session.exec(
        select(StakeholderAssignment).where(StakeholderAssignment.agreement_id == agreement_id)
    ).all()
    users = people(session, [r.user_id for r in rows] + [agreement.created_by_id])
    sides, roles = list(Side), list(Role)
    stakeholders = sorted(
        (
            StakeholderView(
                side=Side(r.side),
                role=Role(r.role),
                role_label=Role(r.role).label,
                user=users[r.user_id],
            )
            for r in rows
        ),
        key=lambda s: (sides.index(s.side), roles.index(s.role)),
    )
    return AgreementDetail(
        **item.model_dump(),
        remedy_policy=agreement.remedy_policy,
        allow_editor_approval=agreement.allow_editor_approval,
        # Quantised so both databases answer "10.00", whatever scale they hand back.
        executive_approval_threshold_pct=Decimal(
            agreement.executive_approval_threshold_pct
        ).quantize(Decimal("0.01")),
        reporting_period=agreement.reporting_period,
        reporting_day=agreement.reporting_day,
        annual_review_days_before_end=agreement.annual_review_days_before_end,
        dispute_escalation_rounds=agreement.dispute_escalation_rounds,
        dispute_escalation_business_days=agreement.dispute_escalation_business_days,
        created_at=agreement.created_at,
        created_by=users.get(agreement.created_by_id),
        stakeholders=stakeholders,
        versions=[summary(v) for v in versions],
    )


def summary(version: AgreementVersion) -> VersionSummary:
    return VersionSummary.model_validate(version, from_attributes=True)


def _versions_of(session: Session, ids: list[int]) -> dict[int, list[AgreementVersion]]:
    grouped: dict[int, list[AgreementVersion]] = defaultdict(list)
    if not ids:
        return grouped
    rows = session.exec(
        select(AgreementVersion)
        .where(col(AgreementVersion.agreement_id).in_(ids))
        .order_by(col(AgreementVersion.agreement_id), col(AgreementVersion.number))
    ).all()
    for version in rows:
        grouped[version.agreement_id].append(version)
    return grouped


def _parties(session: Session, agreements: Sequence[Agreement]) -> dict[int, PartyView]:
    ids = {a.customer_org_id for a in agreements} | {a.provider_org_id for a in agreements}
    if not ids:
        return {}
    rows = session.exec(select(Organization).where(col(Organization.id).in_(ids))).all()
    return {o.id: PartyView.model_validate(o, from_attributes=True) for o in rows if o.id}


def _item(
    agreement: Agreement,
    actor: Actor,
    parties: dict[int, PartyView],
    versions: list[AgreementVersion],
) -> AgreementItem:
    assert agreement.id is not None
    side = agreement.side_of_org(actor.organization_id)
    assert side is not None
    active = next((v for v in versions if v.state == VersionState.ACTIVE), None)
    working = next((v for v in versions if v.state in LIFECYCLE.in_progress_states), None)
    shown = working or active or (versions[-1] if versions else None)
    return AgreementItem(
        id=agreement.id,
        key=agreement.key,
        title=agreement.title,
        customer=parties[agreement.customer_org_id],
        provider=parties[agreement.provider_org_id],
        your_side=side,
        current_state=shown.state if shown else LIFECYCLE.initial,
        active_version=summary(active) if active else None,
        working_version=summary(working) if working else None,
    )
