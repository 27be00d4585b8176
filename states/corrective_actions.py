"""A corrective action plan (domain.md, "Joint accountability"), as data: one per miss and side.

The side a miss is charged to owns the action: its Program Manager submits a plan (root cause,
actions with owners and due dates, a target date) and later reports it carried out; the other
side's Program Manager (or Functional Lead) accepts the plan or asks for rework, and confirms
closure. An action whose miss is excused is cancelled, and opens again when the excusal is
withdrawn. Every step is a task, so reminders and escalations reach these people as any other.
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


class CorrectiveActionState(StrEnum):
    OPEN = "open"
    PLAN_SUBMITTED = "plan_submitted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN = CorrectiveActionState.OPEN
PLAN_SUBMITTED = CorrectiveActionState.PLAN_SUBMITTED
IN_PROGRESS = CorrectiveActionState.IN_PROGRESS
COMPLETED = CorrectiveActionState.COMPLETED
CLOSED = CorrectiveActionState.CLOSED
CANCELLED = CorrectiveActionState.CANCELLED

PM = Role.PROGRAM_MANAGER
ES = Role.EXECUTIVE_SPONSOR

# The roles of the other side that may accept a plan or confirm closure (domain.md).
COUNTERPART_ROLES = (Role.PROGRAM_MANAGER, Role.FUNCTIONAL_LEAD)
# How many consecutive missed windows of one metric make a chronic miss, unless the agreement
# says otherwise.
DEFAULT_CHRONIC_MISS_WINDOWS = 3

# The owner's first task; reopened after rework and after a withdrawn excusal.
CORRECTIVE_ACTION = TaskTemplate(
    "corrective_action",
    SideRef.OWNER,
    PM,
    10,
    escalation_roles=(ES,),
    title="Corrective action",
)
_REVIEW = TaskTemplate(
    "corrective_plan_review",
    SideRef.COUNTERPART,
    PM,
    5,
    escalation_roles=(ES,),
    title="Review the corrective action plan",
)
_COMPLETION = TaskTemplate(
    "corrective_action_completion",
    SideRef.OWNER,
    PM,
    20,  # the plan's own target date replaces this when the plan has one
    escalation_roles=(ES,),
    title="Carry out the corrective action plan",
)
_CLOSURE = TaskTemplate(
    "corrective_action_closure",
    SideRef.COUNTERPART,
    PM,
    5,
    escalation_roles=(ES,),
    title="Confirm the corrective action closed",
)

_TELL = ("record_step", "tell_program_managers")

CORRECTIVE_ACTIONS = MachineSpec(
    name="corrective_action",
    subject="corrective_action",
    initial=OPEN,
    states=(
        State(OPEN, description="the owner side finds the cause and plans the correction"),
        State(PLAN_SUBMITTED, description="the other side reviews the plan"),
        State(IN_PROGRESS, description="plan accepted; the owner side carries it out"),
        State(COMPLETED, description="the owner reported completion; the other side checks"),
        State(CLOSED, final=True, description="the other side confirmed the correction"),
        State(CANCELLED, description="its miss was excused; it opens again if that is withdrawn"),
    ),
    transitions=(
        Transition(
            "submit_plan",
            (OPEN,),
            PLAN_SUBMITTED,
            FiredBy.TASK_ASSIGNEE,
            task_kind="corrective_action",
            effects=("record_plan", *_TELL),
            opens=(_REVIEW,),
            description="the owner side submits root cause, actions and target date",
        ),
        Transition(
            "accept_plan",
            (PLAN_SUBMITTED,),
            IN_PROGRESS,
            FiredBy.TASK_ASSIGNEE,
            task_kind="corrective_plan_review",
            effects=_TELL,
            opens=(_COMPLETION,),
            description="the other side accepts the plan",
        ),
        Transition(
            "request_rework",
            (PLAN_SUBMITTED,),
            OPEN,
            FiredBy.TASK_ASSIGNEE,
            task_kind="corrective_plan_review",
            effects=_TELL,
            opens=(CORRECTIVE_ACTION,),
            description="the other side sends the plan back, saying why",
        ),
        Transition(
            "report_completion",
            (IN_PROGRESS,),
            COMPLETED,
            FiredBy.TASK_ASSIGNEE,
            task_kind="corrective_action_completion",
            effects=_TELL,
            opens=(_CLOSURE,),
            description="the owner side reports the plan carried out",
        ),
        Transition(
            "confirm_closure",
            (COMPLETED,),
            CLOSED,
            FiredBy.TASK_ASSIGNEE,
            task_kind="corrective_action_closure",
            effects=_TELL,
            description="the other side confirms the correction and closes the action",
        ),
        Transition(
            "cancel",
            (OPEN, PLAN_SUBMITTED, IN_PROGRESS, COMPLETED),
            CANCELLED,
            FiredBy.SYSTEM,
            cancels_open_tasks=True,
            effects=("record_step",),
            description="its miss was excused: nothing is owed any more",
        ),
        Transition(
            "reopen",
            (CANCELLED,),
            OPEN,
            FiredBy.SYSTEM,
            effects=("record_step",),
            opens=(CORRECTIVE_ACTION,),
            description="the excusal was withdrawn: the miss counts again",
        ),
    ),
    guards={},
    effects={
        "record_plan": "store the submitted plan (validated: 422 naming each field)",
        "record_step": "add the step, who took it and their comment to the action's history",
        "tell_program_managers": "mail both sides' Program Managers what happened",
    },
    task_kinds=(
        TaskKind(
            "corrective_action",
            (Outcome("plan_submitted", fires="submit_plan"),),
            "plan the correction of a missed service level",
        ),
        TaskKind(
            "corrective_plan_review",
            (
                Outcome("accepted", fires="accept_plan"),
                Outcome("rework", fires="request_rework", comment_required=True),
            ),
            "accept a corrective action plan or ask for rework",
        ),
        TaskKind(
            "corrective_action_completion",
            (Outcome("completed", fires="report_completion", comment_required=True),),
            "report a corrective action carried out",
        ),
        TaskKind(
            "corrective_action_closure",
            (Outcome("closed", fires="confirm_closure"),),
            "confirm a corrective action and close it",
        ),
    ),
)
