"""One proposal: what it changes, side by side, and the other side's decision (with a
confirmation step, as approvals have); the proposer may withdraw it while it is open."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import NowDep, SessionDep
from api.pages.render import Flash, redirect, render
from api.pages.session import PageUserDep
from api.types import Id
from workflow import commands
from workflow.access import Actor
from workflow.errors import Forbidden, InvalidInput, NotAllowedNow
from workflow.models import Agreement
from workflow.queries.common import people
from workflow.queries.proposals import ProposalView, proposal_detail

router = APIRouter()

OutcomeField = Annotated[str, Form(max_length=40)]
CommentField = Annotated[str, Form(max_length=4000)]
LABELS = {"accepted": "Accept", "rejected": "Reject"}
DONE_WORDS = {"accepted": "accepted", "rejected": "rejected"}
KIND_LABELS = {
    "excusal": "Excuse a miss",
    "excusal_withdrawal": "Withdraw an excusal",
    "gap_resolution": "Resolve a gap",
    "amendment": "Amend a final report",
}


def _side_of(session: Session, actor: Actor, proposal: ProposalView) -> str | None:
    agreement = session.get(Agreement, proposal.sla_id)
    side = agreement.side_of_org(actor.organization_id) if agreement else None
    return side.value if side else None


def _page(
    request: Request,
    session: Session,
    actor: Actor,
    proposal: ProposalView,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    is_open = proposal.state == "open"
    mine = proposal.proposed_by.user_id == actor.user_id
    other_side = _side_of(session, actor, proposal) == proposal.counterpart_side
    ids = [
        proposal.proposed_by.user_id,
        proposal.decided_by.user_id if proposal.decided_by else None,
    ]
    agreement = session.get(Agreement, proposal.sla_id)
    return render(
        request,
        "proposals/detail.html",
        {
            "section": "tasks",
            "proposal": proposal,
            "agreement": agreement,
            "names": {i: p.name for i, p in people(session, ids).items()},
            "kind_label": KIND_LABELS.get(proposal.kind, proposal.kind),
            # The command decides who may (role, delegation); the page offers the form to the
            # other side and never to the proposer.
            "may_decide": is_open and other_side and not mine,
            "may_withdraw": is_open and mine,
            "labels": LABELS,
            "errors": errors or {},
            "form": form or {"outcome": "", "comment": ""},
        },
        status_code=status_code,
    )


@router.get("/proposals/{proposal_id}")
def proposal_page(
    request: Request, proposal_id: Id, user: PageUserDep, session: SessionDep
) -> Response:
    return _page(request, session, user.actor, proposal_detail(session, user.actor, proposal_id))


def _form_errors(outcome: str, comment: str) -> dict[str, str]:
    if outcome not in LABELS:
        return {"outcome": "Choose accept or reject."}
    if outcome == "rejected" and not comment.strip():
        return {"comment": "Write why you reject this proposal."}
    return {}


def _already_decided(proposal: ProposalView) -> Response:
    return redirect(
        f"/proposals/{proposal.id}",
        flash=Flash("info", f"Nothing more to do: this proposal is {proposal.state}."),
    )


@router.post("/proposals/{proposal_id}/confirm")
def confirm(
    request: Request,
    proposal_id: Id,
    user: PageUserDep,
    session: SessionDep,
    outcome: OutcomeField = "",
    comment: CommentField = "",
) -> Response:
    """The confirmation step: shows the decision and asks once more (works without JS)."""
    proposal = proposal_detail(session, user.actor, proposal_id)
    if proposal.state != "open":
        return _already_decided(proposal)
    form = {"outcome": outcome, "comment": comment}
    errors = _form_errors(outcome, comment)
    if errors:
        return _page(
            request, session, user.actor, proposal, errors=errors, form=form, status_code=422
        )
    return render(
        request,
        "proposals/confirm.html",
        {"section": "tasks", "proposal": proposal, "form": form, "label": LABELS[outcome]},
    )


@router.post("/proposals/{proposal_id}")
def decide(
    request: Request,
    proposal_id: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    outcome: OutcomeField = "",
    comment: CommentField = "",
) -> Response:
    """Record the decision with the command of `POST /api/v1/proposals/{id}/accept|reject`."""
    proposal = proposal_detail(session, user.actor, proposal_id)
    if proposal.state != "open":
        return _already_decided(proposal)
    form = {"outcome": outcome, "comment": comment}
    errors = _form_errors(outcome, comment)
    if not errors:
        try:
            commands.decide_proposal(
                session,
                actor=user.actor,
                proposal_id=proposal_id,
                outcome=outcome,
                comment=comment.strip() or None,
                now=now,
            )
        except NotAllowedNow:
            return _already_decided(proposal_detail(session, user.actor, proposal_id))
        except Forbidden as exc:
            return _page(
                request,
                session,
                user.actor,
                proposal,
                errors={"outcome": exc.message},
                form=form,
                status_code=403,
            )
        except InvalidInput as exc:
            errors = {e.get("field", "outcome"): e.get("message", exc.message) for e in exc.errors}
            errors = errors or {"outcome": exc.message}
    if errors:
        return _page(
            request, session, user.actor, proposal, errors=errors, form=form, status_code=422
        )
    return redirect(
        f"/proposals/{proposal_id}",
        flash=Flash("success", f"You {DONE_WORDS[outcome]} the proposal: {proposal.summary}."),
    )


@router.post("/proposals/{proposal_id}/withdraw")
def withdraw(proposal_id: Id, user: PageUserDep, session: SessionDep, now: NowDep) -> Response:
    """The proposer takes an open proposal back."""
    proposal = proposal_detail(session, user.actor, proposal_id)
    if proposal.state != "open":
        return _already_decided(proposal)
    try:
        commands.withdraw_proposal(session, actor=user.actor, proposal_id=proposal_id, now=now)
    except NotAllowedNow:
        return _already_decided(proposal_detail(session, user.actor, proposal_id))
    except Forbidden as exc:
        return redirect(f"/proposals/{proposal_id}", flash=Flash("error", exc.message))
    return redirect(
        f"/proposals/{proposal_id}", flash=Flash("success", "You withdrew your proposal.")
    )
