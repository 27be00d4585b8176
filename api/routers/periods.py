"""The reporting cycle of an agreement: its periods, their events and amendments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import Field

from api.deps import ActorDep, IdempotencyDep, NowDep, SessionDep
from api.idempotency import idempotent
from api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, page
from api.schemas import Strict
from api.types import Id
from workflow import commands
from workflow.queries.periods import (
    PeriodDetail,
    PeriodView,
    list_periods,
    period_detail,
)
from workflow.queries.proposals import ProposalView, proposal_detail

router = APIRouter(prefix="/slas/{sla_id}/periods", tags=["periods"])

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$"
PeriodLabel = Annotated[
    str, Path(pattern=PERIOD_PATTERN, description="a month (2027-01) or a quarter (2027-Q1)")
]


class DisputeIn(Strict):
    metric: Annotated[str, Field(min_length=1, max_length=80)]
    reason: Annotated[str, Field(min_length=1, max_length=4000)]


class PeriodEventIn(Strict):
    comment: Annotated[str, Field(max_length=4000)] | None = None
    disputes: Annotated[list[DisputeIn], Field(max_length=200)] = Field(
        default_factory=list, description="for `dispute`: the metrics disputed, each with why"
    )
    exceptions: Annotated[list[DisputeIn], Field(max_length=200)] = Field(
        default_factory=list,
        description="for `accept_with_exceptions`: the metrics still disputed, each with why",
    )


class AmendmentIn(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=4000)]


@router.get("")
def get_periods(
    sla_id: Id,
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[PeriodView]:
    """The agreement's reporting periods, newest first."""
    return page(list_periods(session, actor, sla_id, limit=limit, after=decode_cursor(cursor)))


@router.get("/{period}")
def get_period(
    sla_id: Id, period: PeriodLabel, session: SessionDep, actor: ActorDep
) -> PeriodDetail:
    """One period: state, the submitted results, disputes with answers, amendments, tasks."""
    return period_detail(session, actor, sla_id, period)


@router.post("/{period}/events/{event}", dependencies=[IdempotencyDep])
@idempotent
def fire_period_event(
    sla_id: Id,
    period: PeriodLabel,
    event: str,
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    body: PeriodEventIn | None = None,
) -> PeriodDetail:
    """`submit`, `accept`, `dispute` (`disputes: [{metric, reason}]`), `accept_with_exceptions`
    (`exceptions: [{metric, reason}]`: final, the exceptions go on the next service review's
    agenda) or `resubmit`, by the holder of the period's task (or their delegate). 409 names
    the state and what you may do; 403 when the task is someone else's. An escalated dispute
    is decided by both Executive Sponsors completing their `dispute_decision` tasks."""
    body = body or PeriodEventIn()
    commands.fire_period_event(
        session,
        actor=actor,
        agreement_id=sla_id,
        period=period,
        event=event,
        now=now,
        comment=body.comment,
        disputes=[d.model_dump() for d in body.disputes],
        exceptions=[e.model_dump() for e in body.exceptions],
    )
    return period_detail(session, actor, sla_id, period)


@router.post(
    "/{period}/amendments",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[IdempotencyDep],
    responses={202: {"description": "the amendment, proposed to the other side"}},
)
@idempotent
def post_amendment(
    sla_id: Id,
    period: PeriodLabel,
    body: AmendmentIn,
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
) -> ProposalView:
    """Propose to correct a final report. Once the other side accepts, the report is
    recomputed as a numbered amendment, audited and sent to both sides; the final report stays
    on record. Program Manager or Functional Lead."""
    proposal = commands.amend_period(
        session, actor=actor, agreement_id=sla_id, period=period, reason=body.reason, now=now
    )
    assert proposal.id is not None
    return proposal_detail(session, actor, proposal.id)
