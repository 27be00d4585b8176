"""A proposal as the engine's subject: the machine of `states.PROPOSAL`.

Its one task (`proposal_review`) is the other side's Program Manager's; that side's Functional
Lead may decide it too (not a waiver, which is for Program Managers), and the proposer never.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlmodel import select

from states import (
    PROPOSAL,
    MachineSpec,
    Outcome,
    ProposalKind,
    Role,
    Side,
    Transition,
)
from states.proposals import DECIDING_ROLES, PROPOSAL_REVIEW
from workflow.access import Actor, Grant
from workflow.command import Command
from workflow.errors import Forbidden, InvalidInput, NotAllowedNow, NotFound
from workflow.models import Agreement, Proposal, Task
from workflow.permissions import lock_agreement
from workflow.subjects.row import RowSubject
from workflow.transaction import flush

TOPIC_MADE = "proposal.made"
TOPIC_DECIDED = "proposal.decided"


def both_sides_leads() -> dict[str, Any]:
    """The Program Managers and Functional Leads of both sides: who hears of proposals."""
    return {
        "roles": [
            {"side": side.value, "role": role.value}
            for side in Side
            for role in (Role.PROGRAM_MANAGER, Role.FUNCTIONAL_LEAD)
        ],
        "reason": "role_holder",
    }


class ProposalSubject(RowSubject):
    """One proposal of one agreement, read under the agreement's lock."""

    spec: ClassVar[MachineSpec] = PROPOSAL
    task_link: ClassVar[str] = "proposal_id"
    check_event_first: ClassVar[bool] = True

    def __init__(self, tx: Command, agreement: Agreement, proposal: Proposal) -> None:
        super().__init__(tx, agreement, proposal)
        self.proposal = proposal

    @property
    def title(self) -> str:
        return f"proposal {self.proposal.id}"

    @property
    def counterpart(self) -> Side:
        return Side(self.proposal.counterpart_side)

    @property
    def deciding_roles(self) -> tuple[Role, ...]:
        """A waiver is agreed by the other side's Program Manager; anything else by its
        Program Manager or Functional Lead."""
        if self.proposal.effect.get("resolution") == "waived":
            return (Role.PROGRAM_MANAGER,)
        return DECIDING_ROLES

    # ---- what the engine asks of a subject ----------------------------------------------------

    def failed_guards(self, guards: tuple[str, ...]) -> list[str]:
        return [g for g in guards if not getattr(self, g)()]

    def refusal_details(self) -> list[str]:
        return []

    def entered(self, transition: Transition, now: datetime) -> None:
        self.session.add(self.proposal)

    def snapshot(self) -> dict[str, Any] | None:
        return None  # the proposal's whole content is in every event's data

    def event_data(self) -> dict[str, Any]:
        p = self.proposal
        return {
            "proposal_id": p.id,
            "kind": p.kind,
            "summary": p.summary,
            "proposed_by": {"user_id": p.proposed_by_id, "side": p.proposer_side},
            "counterpart_side": p.counterpart_side,
            "effect": p.effect,
            **self._decision(),
        }

    def _decision(self) -> dict[str, Any]:
        """Who decided (the other side), or withdrew (the proposer), once someone has."""
        p = self.proposal
        if p.decided_by_id is None:
            return {}
        side = p.proposer_side if p.decided_by_id == p.proposed_by_id else p.counterpart_side
        return {"decided_by": {"user_id": p.decided_by_id, "side": side}}

    def audit_target(self) -> dict[str, Any]:
        return {"version_id": self.proposal.effect.get("version_id")}

    def new_tasks(self, transition: Transition, grant: Grant | None, now: datetime) -> list[Task]:
        return []  # a decision opens nothing; its effects open what they need

    def announcement(self, transition: Transition, source: str) -> tuple[str, dict[str, Any]]:
        return f"{TOPIC_DECIDED}:{self.proposal.id}", self.payload()

    def task_for(self, actor: Actor, kind: str, day: date) -> tuple[Task, int | None]:
        """The review task and whom the actor decides for: its assignee, their delegate, or
        a holder (or delegate) of a deciding role on the other side. Never the proposer."""
        self.refuse_proposer(actor.user_id)
        tasks = self.open_tasks()
        if not tasks:
            raise self.refuse(actor, "decide", day)
        task = tasks[0]
        delegators = self.delegators(actor.user_id, day)
        if task.assignee_id == actor.user_id:
            return task, None
        if task.assignee_id is not None and task.assignee_id in delegators:
            return task, task.assignee_id
        for role in self.deciding_roles:
            holder = self.assignments.get((self.counterpart, role))
            if holder == actor.user_id:
                return task, None
            if holder is not None and holder in delegators:
                self.refuse_proposer(holder)
                return task, holder
        roles = " or ".join(r.label for r in self.deciding_roles)
        raise Forbidden(f"only the {self.counterpart} {roles} (or a delegate) may decide this")

    def refuse_proposer(self, user_id: int) -> None:
        if user_id == self.proposal.proposed_by_id:
            raise Forbidden("you made this proposal: the other side decides it")

    def refuse(self, actor: Actor, event: str, day: date) -> NotAllowedNow:
        return NotAllowedNow(
            f"{event} is not allowed while {self.title} is {self.proposal.state}",
            current_state=self.proposal.state,
            allowed_events=[],
        )

    def allowed_events(self, actor: Actor, day: date) -> list[str]:
        return []

    def prepare_completion(
        self,
        task: Task,
        outcome: Outcome,
        actor: Actor,
        on_behalf_of: int | None,
        comment: str | None,
    ) -> dict[str, Any]:
        self.refuse_proposer(actor.user_id)
        if on_behalf_of is not None:
            self.refuse_proposer(on_behalf_of)
        if outcome.comment_required and not (comment and comment.strip()):
            raise InvalidInput(
                f"{outcome.name} needs a comment", [{"field": "comment", "message": "required"}]
            )
        return {}

    def completion_data(self, task: Task, before: dict[str, Any]) -> dict[str, Any]:
        return {"proposal_id": self.proposal.id}

    def completed(self, task: Task, actor: Actor, now: datetime) -> None:
        p = self.proposal
        p.decided_by_id, p.decided_at, p.comment = actor.user_id, now, task.comment
        self.session.add(p)

    # ---- what the proposal's effects and commands read ----------------------------------------

    def payload(self) -> dict[str, Any]:
        """What every message about the proposal carries."""
        p, effect = self.proposal, self.proposal.effect
        return {
            "agreement": {
                "id": self.agreement.id,
                "key": self.agreement.key,
                "title": self.agreement.title,
            },
            "version": {
                "id": effect.get("version_id"),
                "number": effect.get("version_number"),
                "modification_number": None,
                "state": None,
            },
            "proposal": {
                "id": p.id,
                "kind": p.kind,
                "state": p.state,
                "summary": p.summary,
                "proposer_side": p.proposer_side,
                "counterpart_side": p.counterpart_side,
                "changes": effect.get("changes", []),
            },
        }

    def tell_both_sides(
        self, topic: str, *, actor: str, comment: str | None, now: datetime
    ) -> None:
        self.tx.enqueue(
            topic=topic,
            dedupe_key=f"{topic}:{self.proposal.id}",
            now=now,
            agreement_id=self.agreement.id,
            recipients=both_sides_leads(),
            payload={**self.payload(), "actor": actor, "comment": comment},
        )


def make_proposal(
    tx: Command,
    agreement: Agreement,
    *,
    kind: ProposalKind,
    actor: Actor,
    on_behalf_of_id: int | None,
    summary: str,
    effect: dict[str, Any],
    now: datetime,
) -> Proposal:
    """Record a proposal of the actor's side, open the other side's review task, audit it and
    tell both sides; nothing it proposes happens yet."""
    side = agreement.side_of_org(actor.organization_id)
    if side is None:
        raise NotFound("no such agreement")
    proposal = Proposal(
        agreement_id=agreement.id or 0,
        kind=kind.value,
        proposed_by_id=actor.user_id,
        proposer_side=side.value,
        counterpart_side=side.other.value,
        summary=summary[:1000],
        effect=effect,
        created_at=now,
    )
    tx.session.add(proposal)
    flush(tx.session)
    subject = ProposalSubject(tx, agreement, proposal)
    task = subject.new_task(
        PROPOSAL_REVIEW,
        side.other,
        title=f"Proposal of the {side}: {summary}"[:300],
        detail=(
            f"{actor.name} ({side}) proposes: {summary}. Nothing changes unless you accept it; "
            "a rejection needs a comment."
        )[:4000],
        now=now,
        proposal_id=proposal.id,
    )
    tx.session.add(task)
    flush(tx.session)
    subject.announce_tasks([task], now)
    tx.audit(
        action="proposal.made",
        now=now,
        agreement_id=agreement.id,
        actor_id=actor.user_id,
        on_behalf_of_id=on_behalf_of_id,
        data={**subject.event_data(), "state": proposal.state, "opened_tasks": [task.id]},
        **subject.audit_target(),
    )
    subject.tell_both_sides(TOPIC_MADE, actor=actor.name, comment=None, now=now)
    return proposal


def lock_proposal(tx: Command, proposal_id: int, actor: Actor | None) -> ProposalSubject:
    """Lock the proposal's agreement, then read the proposal under that lock."""
    session = tx.session
    agreement_id = session.exec(
        select(Proposal.agreement_id).where(Proposal.id == proposal_id)
    ).first()
    if agreement_id is None:
        raise NotFound("no such proposal")
    agreement = lock_agreement(session, agreement_id, actor)
    proposal = session.exec(
        select(Proposal).where(Proposal.id == proposal_id).execution_options(populate_existing=True)
    ).one()
    return ProposalSubject(tx, agreement, proposal)
