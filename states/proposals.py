"""Proposals (domain.md, "Joint accountability"), as data: one machine for every act that
changes what the *other* side owns.

One side proposes (an excusal, its withdrawal, a gap resolution that moves the other side's
figure, an amendment of a final report); the other side's Program Manager (or Functional Lead)
accepts or rejects it with a comment. Only an accepted proposal takes effect; the proposer may
withdraw it while it is open.
"""

from __future__ import annotations

from enum import StrEnum

from states.model import (
    FiredBy,
    MachineSpec,
    Outcome,
    Role,
    SideRef,
    State,
    TaskKind,
    TaskTemplate,
    Transition,
)


class ProposalState(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class ProposalKind(StrEnum):
    EXCUSAL = "excusal"
    EXCUSAL_WITHDRAWAL = "excusal_withdrawal"
    GAP_RESOLUTION = "gap_resolution"
    AMENDMENT = "amendment"


OPEN = ProposalState.OPEN
ACCEPTED = ProposalState.ACCEPTED
REJECTED = ProposalState.REJECTED
WITHDRAWN = ProposalState.WITHDRAWN

PM = Role.PROGRAM_MANAGER
FL = Role.FUNCTIONAL_LEAD

# Who on the other side may decide a proposal; a waiver needs that side's Program Manager.
DECIDING_ROLES = (PM, FL)
REVIEW_BUSINESS_DAYS = 5

# Opened with the proposal, for the other side's Program Manager.
PROPOSAL_REVIEW = TaskTemplate(
    "proposal_review",
    SideRef.COUNTERPART,
    PM,
    REVIEW_BUSINESS_DAYS,
    escalation_roles=(Role.EXECUTIVE_SPONSOR,),
    title="Accept or reject the other side's proposal",
)

PROPOSAL = MachineSpec(
    name="proposal",
    subject="proposal",
    initial=OPEN,
    states=(
        State(OPEN, description="proposed; the other side decides"),
        State(ACCEPTED, final=True, description="the other side accepted: it took effect"),
        State(REJECTED, final=True, description="the other side refused it, saying why"),
        State(
            WITHDRAWN,
            final=True,
            description="the proposer took it back, or what it would change is gone",
        ),
    ),
    transitions=(
        Transition(
            "accept",
            (OPEN,),
            ACCEPTED,
            FiredBy.TASK_ASSIGNEE,
            task_kind="proposal_review",
            effects=("apply_proposal", "tell_both_sides"),
            description="the other side accepts: what was proposed happens now",
        ),
        Transition(
            "reject",
            (OPEN,),
            REJECTED,
            FiredBy.TASK_ASSIGNEE,
            task_kind="proposal_review",
            effects=("tell_both_sides",),
            description="the other side refuses, with a comment; nothing changes",
        ),
        Transition(
            "withdraw",
            (OPEN,),
            WITHDRAWN,
            FiredBy.ROLES,
            roles=tuple(Role),
            cancels_open_tasks=True,
            effects=("tell_both_sides",),
            description="the proposer takes the proposal back; nothing changes",
        ),
        Transition(
            "lapse",
            (OPEN,),
            WITHDRAWN,
            FiredBy.SYSTEM,
            cancels_open_tasks=True,
            effects=("tell_both_sides",),
            description=(
                "what it would change is gone (its version left gap analysis): nothing changes"
            ),
        ),
    ),
    guards={},
    effects={
        "apply_proposal": (
            "do what the proposal proposes: the excusal counts (its corrective action is "
            "cancelled) or stops counting (it re-opens), the gap is resolved, the report amended"
        ),
        "tell_both_sides": "mail the decision to both sides' Program Managers and Functional Leads",
    },
    task_kinds=(
        TaskKind(
            "proposal_review",
            (
                Outcome("accepted", fires="accept"),
                Outcome("rejected", fires="reject", comment_required=True),
            ),
            "accept or reject a proposal of the other side",
        ),
    ),
)
