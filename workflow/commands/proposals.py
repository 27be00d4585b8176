"""Deciding proposals: the other side accepts or rejects; the proposer may withdraw.

Each command is one transaction under the agreement's lock; accepting runs what the proposal
proposes in that same transaction, so a refusal (the excusal already withdrawn, the version no
longer in gap analysis) leaves the proposal open and nothing changed.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from states import LIFECYCLE, PROPOSAL, ProposalKind, ProposalState
from workflow.access import Actor, require_role
from workflow.calendar import local_date
from workflow.command import command
from workflow.engine import complete, fire, transition_named
from workflow.errors import Conflict, Forbidden, NotAllowedNow, NotFound
from workflow.models import Excusal, Proposal, Task
from workflow.permissions import actor_grants, lock_agreement
from workflow.queries.versions import metric_names
from workflow.subjects.proposal import ProposalSubject, lock_proposal, make_proposal

_EVENTS = {"accepted": "accept", "rejected": "reject"}


def decide_proposal(
    session: Session,
    *,
    actor: Actor,
    proposal_id: int,
    outcome: str,
    now: datetime,
    comment: str | None = None,
) -> Proposal:
    """Accept or reject (`outcome`) as the other side: the same as completing its task."""
    with command(session) as tx:
        subject = lock_proposal(tx, proposal_id, actor)
        event = _EVENTS.get(outcome)
        if event is None:
            raise NotFound(f"a proposal is accepted or rejected, not {outcome!r}")
        fire(subject, transition_named(PROPOSAL, event), actor, now=now, comment=comment)
    return subject.proposal


def complete_review(
    subject: ProposalSubject,
    task: Task,
    outcome: str,
    actor: Actor,
    *,
    comment: str | None,
    now: datetime,
) -> None:
    """Complete the proposal's review task (`POST /tasks/{id}/complete`) as `decide_proposal`."""
    if task.state != "open":
        raise NotAllowedNow(
            f"task {task.id} is already {task.state}", current_state=task.state, allowed_events=[]
        )
    held, on_behalf_of = subject.task_for(actor, task.kind, local_date(now))
    complete(subject, held, outcome, actor, on_behalf_of, comment=comment, now=now)


def withdraw_proposal(
    session: Session, *, actor: Actor, proposal_id: int, now: datetime
) -> Proposal:
    """The proposer takes an open proposal back; nothing it proposed happens."""
    with command(session) as tx:
        subject = lock_proposal(tx, proposal_id, actor)
        if subject.proposal.proposed_by_id != actor.user_id:
            raise Forbidden("only whoever made a proposal may withdraw it")
        if subject.proposal.state == ProposalState.OPEN:
            subject.proposal.decided_by_id, subject.proposal.decided_at = actor.user_id, now
        fire(subject, transition_named(PROPOSAL, "withdraw"), actor, now=now, comment=None)
    return subject.proposal


def propose_excusal_withdrawal(
    session: Session, *, actor: Actor, excusal_id: int, now: datetime
) -> Proposal:
    """Propose that an excusal in force stop counting; the other side accepts or not."""
    with command(session) as tx:
        agreement_id = session.exec(
            select(Excusal.agreement_id).where(Excusal.id == excusal_id)
        ).first()
        if agreement_id is None:
            raise NotFound("no such excusal")
        agreement = lock_agreement(session, agreement_id, actor)
        grant = require_role(
            actor_grants(session, agreement, actor, local_date(now)),
            LIFECYCLE.action("excuse_miss").roles,
            "withdrawing an excusal",
        )
        excusal = session.get(Excusal, excusal_id, populate_existing=True)
        assert excusal is not None
        if excusal.withdrawn_at is not None:
            raise NotAllowedNow(
                f"excusal {excusal_id} was withdrawn already",
                current_state="withdrawn",
                allowed_events=[],
            )
        for open_one in open_proposals(session, agreement_id, ProposalKind.EXCUSAL_WITHDRAWAL):
            if open_one.effect.get("excusal_id") == excusal_id:
                raise Conflict(f"its withdrawal is proposed already (proposal {open_one.id})")
        name = metric_names(session, agreement_id).get(excusal.metric_key, excusal.metric_key)
        what = f"{name} in {excusal.window}"
        return make_proposal(
            tx,
            agreement,
            kind=ProposalKind.EXCUSAL_WITHDRAWAL,
            actor=actor,
            on_behalf_of_id=grant.on_behalf_of_id,
            summary=f"withdraw the excusal of {what} (charged to the {excusal.party})",
            effect={
                "excusal_id": excusal.id,
                "metric": excusal.metric_key,
                "window": excusal.window,
                "party": excusal.party,
                "reason": excusal.reason,
                "changes": [
                    {
                        "what": what,
                        "before": f"excused, charged to the {excusal.party}: {excusal.reason}",
                        "after": "counts again; its corrective action re-opens",
                    }
                ],
            },
            now=now,
        )


def open_proposals(session: Session, agreement_id: int, kind: ProposalKind) -> list[Proposal]:
    """The agreement's open proposals of one kind (few: read them all, match in Python)."""
    return list(
        session.exec(
            select(Proposal)
            .where(
                Proposal.agreement_id == agreement_id,
                Proposal.kind == kind.value,
                Proposal.state == ProposalState.OPEN.value,
            )
            .order_by(col(Proposal.id))
        ).all()
    )
