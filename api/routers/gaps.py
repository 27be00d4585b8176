"""Gaps of a version: list, add by hand, resolve."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from pydantic import Field

from api.deps import ActorDep, IdempotencyDep, NowDep, SessionDep
from api.idempotency import idempotent
from api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, page
from api.routers.proposals import proposed
from api.schemas import Strict
from api.types import Id
from workflow import commands
from workflow.content import Figure
from workflow.models import Proposal
from workflow.queries.gaps import GapView, gap_detail, gaps_of_version
from workflow.queries.proposals import ProposalView

router = APIRouter(tags=["gaps"])


class GapCreate(Strict):
    # Emptiness is left to the command, which checks these three together.
    metric_key: Annotated[str, Field(max_length=80)]
    description: Annotated[str, Field(max_length=2000)]
    severity: Annotated[str, Field(max_length=10, description="low, medium or high")]


class GapResolve(Strict):
    resolution: Annotated[
        str,
        Field(
            max_length=20,
            description="provider_commits, customer_accepts, target_adjusted or waived",
        ),
    ]
    note: Annotated[str, Field(max_length=4000)] | None = None
    agreed_target: Figure | None = Field(default=None, description="for target_adjusted")


@router.get("/slas/{sla_id}/versions/{number}/gaps")
def list_gaps(
    sla_id: Id,
    number: Id,
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[GapView]:
    return page(
        gaps_of_version(session, actor, sla_id, number, limit=limit, after=decode_cursor(cursor))
    )


@router.post(
    "/slas/{sla_id}/versions/{number}/gaps",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyDep],
)
@idempotent
def add_gap(
    sla_id: Id, number: Id, body: GapCreate, session: SessionDep, actor: ActorDep, now: NowDep
) -> GapView:
    """Add a gap by hand during gap analysis."""
    gap = commands.add_gap(
        session,
        actor=actor,
        agreement_id=sla_id,
        number=number,
        metric_key=body.metric_key,
        description=body.description,
        severity=body.severity,
        now=now,
    )
    assert gap.id is not None
    return gap_detail(session, actor, gap.id)


@router.post(
    "/gaps/{gap_id}/resolve",
    dependencies=[IdempotencyDep],
    response_model=GapView,
    responses={202: {"description": "proposed to the other side", "model": ProposalView}},
)
@idempotent
def resolve_gap(
    gap_id: Id, body: GapResolve, session: SessionDep, actor: ActorDep, now: NowDep
) -> GapView | JSONResponse:
    """Resolve a gap; the metric's requirement, capability and target follow the resolution.
    200 when it moves only your side's figure (`provider_commits` by the provider,
    `customer_accepts` by the customer); 202 with a proposal the other side decides when it
    moves theirs (and any `target_adjusted`); `waived` is a Program Manager's proposal that the
    other side's Program Manager accepts."""
    done = commands.resolve_gap(
        session,
        actor=actor,
        gap_id=gap_id,
        resolution=body.resolution,
        note=body.note,
        agreed_target=body.agreed_target,
        now=now,
    )
    if isinstance(done, Proposal):
        return proposed(session, actor, done)
    return gap_detail(session, actor, gap_id)
