"""Gaps of a version: list, add by hand, resolve."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status
from pydantic import Field

from api.deps import ActorDep, IdempotencyDep, NowDep, SessionDep
from api.idempotency import idempotent
from api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, page
from api.schemas import Strict
from api.types import Id
from workflow import commands
from workflow.content import Figure
from workflow.queries.gaps import GapView, gap_detail, gaps_of_version

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


@router.post("/gaps/{gap_id}/resolve", dependencies=[IdempotencyDep])
@idempotent
def resolve_gap(
    gap_id: Id, body: GapResolve, session: SessionDep, actor: ActorDep, now: NowDep
) -> GapView:
    """Resolve a gap; the metric's requirement, capability and target follow the resolution."""
    commands.resolve_gap(
        session,
        actor=actor,
        gap_id=gap_id,
        resolution=body.resolution,
        note=body.note,
        agreed_target=body.agreed_target,
        now=now,
    )
    return gap_detail(session, actor, gap_id)
