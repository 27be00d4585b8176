"""Proposals visible to a person: those of agreements their organisation is party to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from states import ProposalState
from workflow.access import Actor
from workflow.errors import InvalidInput, NotFound
from workflow.models import Agreement, Proposal, Task, User
from workflow.queries.agreements import visible_agreement
from workflow.queries.common import Slice, View, after_int, page_of

STATES = tuple(s.value for s in ProposalState)


class Party(View):
    user_id: int
    side: str | None


class ProposalView(View):
    id: int
    sla_id: int
    kind: str
    state: str
    proposed_by: Party
    counterpart_side: str
    summary: str
    effect: dict[str, Any]
    task_id: int | None
    decided_by: Party | None = None
    decided_at: datetime | None = None
    comment: str | None = None
    created_at: datetime


def list_proposals(
    session: Session,
    actor: Actor,
    *,
    state: str | None = None,
    agreement_id: int | None = None,
    limit: int = 50,
    after: list[object] | None = None,
) -> Slice[ProposalView]:
    """Newest first; `state` and `agreement_id` narrow the list."""
    if state is not None and state not in STATES:
        raise InvalidInput("unknown state", [{"field": "state", "message": f"one of {STATES}"}])
    org = actor.organization_id
    stmt = (
        select(Proposal)
        .join(Agreement, col(Agreement.id) == col(Proposal.agreement_id))
        .where(or_(col(Agreement.customer_org_id) == org, col(Agreement.provider_org_id) == org))
    )
    if state is not None:
        stmt = stmt.where(Proposal.state == state)
    if agreement_id is not None:
        stmt = stmt.where(Proposal.agreement_id == agreement_id)
    start = after_int(after)
    if start is not None:
        stmt = stmt.where(col(Proposal.id) < start)
    rows = list(session.exec(stmt.order_by(col(Proposal.id).desc()).limit(limit + 1)).all())
    rows, next_after = page_of(rows, limit, lambda p: [p.id])
    return Slice(_views(session, rows), next_after)


def proposal_detail(session: Session, actor: Actor, proposal_id: int) -> ProposalView:
    proposal = session.get(Proposal, proposal_id, populate_existing=True)
    if proposal is None:
        raise NotFound("no such proposal")
    try:
        visible_agreement(session, actor, proposal.agreement_id)
    except NotFound:
        raise NotFound("no such proposal") from None
    return _views(session, [proposal])[0]


def _views(session: Session, proposals: list[Proposal]) -> list[ProposalView]:
    if not proposals:
        return []
    ids = [p.id for p in proposals]
    rows = session.exec(
        select(Task.id, Task.proposal_id)
        .where(col(Task.proposal_id).in_(ids))
        .order_by(col(Task.id))
    ).all()
    tasks = {proposal_id: task_id for task_id, proposal_id in rows}
    deciders = {p.decided_by_id for p in proposals if p.decided_by_id is not None}
    orgs: dict[int, int] = {}
    if deciders:
        rows = session.exec(
            select(User.id, User.organization_id).where(col(User.id).in_(deciders))
        ).all()
        orgs = {user_id: org for user_id, org in rows if user_id is not None}
    agreements = {
        a.id: a
        for a in session.exec(
            select(Agreement).where(col(Agreement.id).in_({p.agreement_id for p in proposals}))
        )
    }
    views = []
    for p in proposals:
        decided_by = None
        if p.decided_by_id is not None:
            side = agreements[p.agreement_id].side_of_org(orgs.get(p.decided_by_id, -1))
            decided_by = Party(user_id=p.decided_by_id, side=side.value if side else None)
        views.append(
            ProposalView(
                id=p.id or 0,
                sla_id=p.agreement_id,
                kind=p.kind,
                state=p.state,
                proposed_by=Party(user_id=p.proposed_by_id, side=p.proposer_side),
                counterpart_side=p.counterpart_side,
                summary=p.summary,
                effect=p.effect,
                task_id=tasks.get(p.id),
                decided_by=decided_by,
                decided_at=p.decided_at,
                comment=p.comment,
                created_at=p.created_at,
            )
        )
    return views
