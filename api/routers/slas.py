"""Agreements: create, list, read, stakeholders, revisions and what they wait for."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import Field

from api.deps import ActorDep, IdempotencyDep, NowDep, SessionDep
from api.idempotency import idempotent
from api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, page
from api.preconditions import with_etag
from api.schemas import Strict
from api.types import Id
from states import DEFAULT_DISPUTE_BUSINESS_DAYS, DEFAULT_DISPUTE_ROUNDS, Role, Side
from workflow import commands
from workflow.content import Content
from workflow.queries.agreements import AgreementDetail, AgreementItem, agreement_detail
from workflow.queries.agreements import list_agreements as query_agreements
from workflow.queries.blockers import Blockers, blockers
from workflow.queries.versions import VersionDetail, version_detail

router = APIRouter(prefix="/slas", tags=["agreements"])


class StakeholderIn(Strict):
    side: Side
    role: Role
    user_id: Id


# Content plus the agreement's own fields, so that one validation pass names every bad field.
class SlaCreate(Content):
    title: Annotated[str, Field(min_length=1, max_length=300)]
    customer_org_id: Id
    provider_org_id: Id
    stakeholders: Annotated[list[StakeholderIn], Field(max_length=100)] = []
    remedy_policy: Literal["service_credits", "corrective_action"] = "corrective_action"
    allow_editor_approval: bool = False
    executive_approval_threshold_pct: Annotated[
        Decimal, Field(ge=0, le=1000, max_digits=6, decimal_places=2)
    ] = Decimal("10")
    reporting_period: Literal["month", "quarter"] = Field(
        "month", description="the reporting cycle's periods"
    )
    reporting_day: Annotated[
        int, Field(ge=1, le=60, description="results due this many days after a period ends")
    ] = 10
    annual_review_days_before_end: Annotated[
        int,
        Field(
            ge=0,
            le=300,
            description="the annual review is due this many days before the end of each 12 "
            "months of the period of performance",
        ),
    ] = 60
    dispute_escalation_rounds: Annotated[
        int,
        Field(
            ge=1,
            le=10,
            description="a dispute goes to both Executive Sponsors after this many rounds",
        ),
    ] = DEFAULT_DISPUTE_ROUNDS
    dispute_escalation_business_days: Annotated[
        int,
        Field(
            ge=1,
            le=120,
            description="... or this many business days after its first round",
        ),
    ] = DEFAULT_DISPUTE_BUSINESS_DAYS


class StakeholdersPut(Strict):
    stakeholders: Annotated[list[StakeholderIn], Field(max_length=100)]


def _stakeholders(rows: list[StakeholderIn]) -> list[commands.StakeholderInput]:
    return [commands.StakeholderInput(s.side, s.role, s.user_id) for s in rows]


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[IdempotencyDep])
@idempotent
def create_sla(
    body: SlaCreate, session: SessionDep, actor: ActorDep, now: NowDep
) -> AgreementDetail:
    """Create an agreement with version 1 in draft; your organisation must be a party."""
    agreement = commands.create_agreement(
        session,
        actor=actor,
        title=body.title,
        customer_org_id=body.customer_org_id,
        provider_org_id=body.provider_org_id,
        content=body,
        stakeholders=_stakeholders(body.stakeholders),
        remedy_policy=body.remedy_policy,
        allow_editor_approval=body.allow_editor_approval,
        executive_approval_threshold_pct=body.executive_approval_threshold_pct,
        reporting_period=body.reporting_period,
        reporting_day=body.reporting_day,
        annual_review_days_before_end=body.annual_review_days_before_end,
        dispute_escalation_rounds=body.dispute_escalation_rounds,
        dispute_escalation_business_days=body.dispute_escalation_business_days,
        now=now,
    )
    assert agreement.id is not None
    return agreement_detail(session, actor, agreement.id)


@router.get("")
def list_slas(
    session: SessionDep,
    actor: ActorDep,
    state: Annotated[
        str | None, Query(max_length=20, description="state of the working or active version")
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="in title or key")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[AgreementItem]:
    """Agreements your organisation is party to, oldest first."""
    return page(
        query_agreements(session, actor, state=state, q=q, limit=limit, after=decode_cursor(cursor))
    )


@router.get("/{sla_id}")
def get_sla(sla_id: Id, session: SessionDep, actor: ActorDep) -> AgreementDetail:
    return agreement_detail(session, actor, sla_id)


@router.put("/{sla_id}/stakeholders")
def put_stakeholders(
    sla_id: Id, body: StakeholdersPut, session: SessionDep, actor: ActorDep, now: NowDep
) -> AgreementDetail:
    """Replace every role assignment (Program Manager or Business Owner); open tasks follow
    their role to its new holder."""
    commands.set_stakeholders(
        session,
        actor=actor,
        agreement_id=sla_id,
        stakeholders=_stakeholders(body.stakeholders),
        now=now,
    )
    return agreement_detail(session, actor, sla_id)


@router.post(
    "/{sla_id}/revisions", status_code=status.HTTP_201_CREATED, dependencies=[IdempotencyDep]
)
@idempotent
def start_revision(
    sla_id: Id, session: SessionDep, actor: ActorDep, now: NowDep, response: Response
) -> VersionDetail:
    """Open a new draft version cloned from the active one, which stays in force meanwhile."""
    version = commands.start_revision(session, actor=actor, agreement_id=sla_id, now=now)
    return with_etag(version_detail(session, actor, sla_id, version.number, now=now), response)


@router.get("/{sla_id}/blockers")
def get_blockers(sla_id: Id, session: SessionDep, actor: ActorDep, now: NowDep) -> Blockers:
    """Open tasks, who holds them since when, and when they are next reminded and escalated."""
    return blockers(session, actor, sla_id, now=now)
