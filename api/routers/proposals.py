"""Proposals: acts of one side that take effect when the other side accepts them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlmodel import Session

from api.deps import ActorDep, IdempotencyDep, NowDep, SessionDep
from api.idempotency import idempotent
from api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, page
from api.schemas import Strict
from api.types import Id
from workflow import commands
from workflow.access import Actor
from workflow.models import Proposal
from workflow.queries.proposals import ProposalView, list_proposals, proposal_detail

router = APIRouter(tags=["proposals"])

ProposalStateQuery = Literal["open", "accepted", "rejected", "withdrawn"]


class Decision(Strict):
    comment: Annotated[str, Field(max_length=4000)] | None = None


class ProposalMade(Strict):
    """What `POST /slas/{id}/excusals` answers: the proposal the other side decides."""

    proposal_id: int
    state: str


def proposed(session: Session, actor: Actor, proposal: Proposal) -> JSONResponse:
    """202 with the proposal: nothing changed yet; the other side decides."""
    assert proposal.id is not None
    view = proposal_detail(session, actor, proposal.id)
    return JSONResponse(jsonable_encoder(view), status_code=status.HTTP_202_ACCEPTED)


@router.get("/proposals")
def get_proposals(
    session: SessionDep,
    actor: ActorDep,
    state: Annotated[ProposalStateQuery | None, Query()] = None,
    sla_id: Id | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[ProposalView]:
    """Proposals of agreements your organisation is party to, newest first."""
    return page(
        list_proposals(
            session,
            actor,
            state=state,
            agreement_id=sla_id,
            limit=limit,
            after=decode_cursor(cursor),
        )
    )


@router.get("/proposals/{proposal_id}")
def get_proposal(proposal_id: Id, session: SessionDep, actor: ActorDep) -> ProposalView:
    return proposal_detail(session, actor, proposal_id)


@router.post("/proposals/{proposal_id}/accept", dependencies=[IdempotencyDep])
@idempotent
def accept_proposal(
    proposal_id: Id,
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    body: Decision | None = None,
) -> ProposalView:
    """The other side accepts: what was proposed happens now. The same as completing the
    proposal's `proposal_review` task with `accepted`; the proposer cannot (403)."""
    commands.decide_proposal(
        session,
        actor=actor,
        proposal_id=proposal_id,
        outcome="accepted",
        comment=(body or Decision()).comment,
        now=now,
    )
    return proposal_detail(session, actor, proposal_id)


@router.post("/proposals/{proposal_id}/reject", dependencies=[IdempotencyDep])
@idempotent
def reject_proposal(
    proposal_id: Id, body: Decision, session: SessionDep, actor: ActorDep, now: NowDep
) -> ProposalView:
    """The other side refuses, saying why (`comment` required); nothing changes."""
    commands.decide_proposal(
        session,
        actor=actor,
        proposal_id=proposal_id,
        outcome="rejected",
        comment=body.comment,
        now=now,
    )
    return proposal_detail(session, actor, proposal_id)


@router.delete(
    "/excusals/{excusal_id}",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[IdempotencyDep],
    responses={202: {"description": "the withdrawal, proposed to the other side"}},
)
@idempotent
def delete_excusal(
    excusal_id: Id, session: SessionDep, actor: ActorDep, now: NowDep
) -> ProposalView:
    """Propose to withdraw an excusal in force; once the other side accepts, the miss counts
    again (the excusal stays on record, marked withdrawn) and its corrective action re-opens."""
    proposal = commands.propose_excusal_withdrawal(
        session, actor=actor, excusal_id=excusal_id, now=now
    )
    assert proposal.id is not None
    return proposal_detail(session, actor, proposal.id)
