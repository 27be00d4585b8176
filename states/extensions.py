"""Extending the period of performance (domain.md, Joint accountability: `extend`), as data.

Either Program Manager asks for a new end date with a reason; both Business Owners approve it.
When the second approval arrives the agreement's period of performance ends on the new date
(an expired agreement is in force again); one rejection, with a comment, ends the request.
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


class ExtensionState(StrEnum):
    PROPOSED = "proposed"
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"


PROPOSED = ExtensionState.PROPOSED
REQUESTED = ExtensionState.REQUESTED
APPROVED = ExtensionState.APPROVED
REJECTED = ExtensionState.REJECTED

BO = Role.BUSINESS_OWNER
ES = Role.EXECUTIVE_SPONSOR
APPROVAL_DAYS = 5

EXTENSION = MachineSpec(
    name="extension",
    subject="extension",
    initial=PROPOSED,
    states=(
        State(PROPOSED, description="written by a Program Manager, not yet sent"),
        State(REQUESTED, description="both Business Owners decide"),
        State(APPROVED, final=True, description="the period of performance ends on the new date"),
        State(REJECTED, final=True, description="a Business Owner rejected it; nothing changed"),
    ),
    transitions=(
        Transition(
            "request",
            (PROPOSED,),
            REQUESTED,
            FiredBy.ROLES,
            roles=(Role.PROGRAM_MANAGER,),
            guards=("extends_the_end", "no_version_in_progress"),
            opens=tuple(
                TaskTemplate(
                    "extension_approval",
                    side,
                    BO,
                    APPROVAL_DAYS,
                    escalation_roles=(ES,),
                    title="Approve the extension of the period of performance",
                )
                for side in (SideRef.CUSTOMER, SideRef.PROVIDER)
            ),
            topic="extension.requested",
            description="a Program Manager asks both Business Owners for a new end date",
        ),
        Transition(
            "approve",
            (REQUESTED,),
            APPROVED,
            FiredBy.SYSTEM,
            guards=("both_approved", "no_version_in_progress"),
            effects=("extend_period",),
            description="both Business Owners approved: the period of performance is extended",
        ),
        Transition(
            "reject",
            (REQUESTED,),
            REJECTED,
            FiredBy.TASK_ASSIGNEE,
            task_kind="extension_approval",
            guards=("has_comment",),
            cancels_open_tasks=True,
            topic="extension.rejected",
            description="a Business Owner rejects the extension, saying why",
        ),
    ),
    guards={
        "extends_the_end": "the new end date must be after the current end of the period",
        "no_version_in_progress": (
            "a revision of this agreement is in progress: put the new period of performance "
            "in it, or withdraw it first"
        ),
        "both_approved": "both Business Owners must approve",
        "has_comment": "a comment is required",
    },
    effects={
        "extend_period": (
            "a new version, the same content with the new end date and the next modification "
            "number, comes into force; the one it replaces is superseded (or stays expired)"
        ),
    },
    task_kinds=(
        TaskKind(
            "extension_approval",
            (
                Outcome("approved", fires="approve"),
                Outcome("rejected", fires="reject", comment_required=True),
            ),
            "approve or reject a new end of the period of performance",
        ),
    ),
)
