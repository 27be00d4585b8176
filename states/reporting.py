"""The monthly (or quarterly) reporting cycle of domain.md, as data: one per agreement and period.

The provider submits the period's results by the reporting day; the customer's Functional Lead
accepts them or disputes named metrics; a dispute goes back to the provider, who resubmits;
acceptance makes the report final, frozen by its content hash. Every step is a task, so
reminders and escalations reach these people exactly as they reach approvers.
"""

from __future__ import annotations

from enum import StrEnum

from states.model import (
    Action,
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


class PeriodState(StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"
    DISPUTED = "disputed"
    RESUBMITTED = "resubmitted"
    ACCEPTED = "accepted"
    FINAL = "final"


OPEN = PeriodState.OPEN
SUBMITTED = PeriodState.SUBMITTED
DISPUTED = PeriodState.DISPUTED
RESUBMITTED = PeriodState.RESUBMITTED
ACCEPTED = PeriodState.ACCEPTED
FINAL = PeriodState.FINAL

PM = Role.PROGRAM_MANAGER
FL = Role.FUNCTIONAL_LEAD
ES = Role.EXECUTIVE_SPONSOR

# The reporting day: results are due this many calendar days after the period ends (domain.md).
DEFAULT_REPORTING_DAY = 10
REVIEW_BUSINESS_DAYS = 5

_REVIEW = TaskTemplate(
    "review_results",
    SideRef.CUSTOMER,
    FL,
    REVIEW_BUSINESS_DAYS,
    title="Review the period's results: accept them or dispute named metrics",
)

# Opened with the period; its due date is the reporting day, not a count of business days.
SUBMIT_RESULTS = TaskTemplate(
    "submit_results",
    SideRef.PROVIDER,
    PM,
    0,
    escalation_roles=(ES,),
    title="Submit the period's results",
)

REPORTING = MachineSpec(
    name="reporting_period",
    subject="period",
    initial=OPEN,
    states=(
        State(OPEN, description="the period has ended; the provider prepares its results"),
        State(SUBMITTED, description="the provider submitted; the customer reviews"),
        State(DISPUTED, description="the customer disputed named metrics; the provider answers"),
        State(RESUBMITTED, description="the provider resubmitted; the customer reviews again"),
        State(ACCEPTED, description="the customer accepted the results"),
        State(FINAL, final=True, description="frozen; corrections are audited amendments"),
    ),
    transitions=(
        Transition(
            "submit",
            (OPEN,),
            SUBMITTED,
            FiredBy.TASK_ASSIGNEE,
            task_kind="submit_results",
            guards=("provider_data_complete",),
            effects=("record_results",),
            opens=(_REVIEW,),
            description="the provider submits the period's results",
        ),
        Transition(
            "dispute",
            (SUBMITTED, RESUBMITTED),
            DISPUTED,
            FiredBy.TASK_ASSIGNEE,
            task_kind="review_results",
            guards=("disputes_named",),
            effects=("record_disputes",),
            opens=(
                TaskTemplate(
                    "address_dispute",
                    SideRef.PROVIDER,
                    PM,
                    REVIEW_BUSINESS_DAYS,
                    escalation_roles=(ES,),
                    title="Answer the customer's dispute and resubmit the results",
                ),
            ),
            description="the customer disputes named metrics, each with a reason",
        ),
        Transition(
            "resubmit",
            (DISPUTED,),
            RESUBMITTED,
            FiredBy.TASK_ASSIGNEE,
            task_kind="address_dispute",
            guards=("provider_data_complete",),
            effects=("record_results",),
            opens=(_REVIEW,),
            description="the provider resubmits corrected results",
        ),
        Transition(
            "accept",
            (SUBMITTED, RESUBMITTED),
            ACCEPTED,
            FiredBy.TASK_ASSIGNEE,
            task_kind="review_results",
            then="finalize",
            description="the customer accepts the results",
        ),
        Transition(
            "finalize",
            (ACCEPTED,),
            FINAL,
            FiredBy.SYSTEM,
            effects=(
                "freeze_report",
                "open_corrective_actions",
                "detect_chronic_misses",
                "send_final_report",
            ),
            description="the accepted report is frozen and sent to both sides",
        ),
    ),
    effects={
        "record_results": (
            "compute the period's results from the measurements, count the round and answer "
            "the previous round's disputes"
        ),
        "record_disputes": "record each disputed metric with its reason",
        "freeze_report": "freeze the accepted results by their content hash",
        "open_corrective_actions": (
            "a corrective action (states.CORRECTIVE_ACTIONS) per unexcused miss and side charged"
        ),
        "detect_chronic_misses": (
            "a run of consecutive misses of one metric is a chronic miss: both Executive "
            "Sponsors are told, the next service review lists it"
        ),
        "send_final_report": "mail the final report to every stakeholder",
    },
    guards={
        "disputes_named": "a dispute must name at least one metric of the report, with a reason",
        "provider_data_complete": (
            "every window whose data the provider provides must have data or an excusal in force"
        ),
    },
    task_kinds=(
        TaskKind("submit_results", (Outcome("done", fires="submit"),), "submit the results"),
        TaskKind(
            "review_results",
            (
                Outcome("accepted", fires="accept"),
                Outcome("disputed", fires="dispute", comment_required=True),
            ),
            "review the period's results",
        ),
        TaskKind("address_dispute", (Outcome("done", fires="resubmit"),), "answer a dispute"),
    ),
    actions=(
        Action(
            "amend_report",
            (PM, FL),
            description="correct a final report: a new audited amendment, never an edit",
        ),
    ),
)
