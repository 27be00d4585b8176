"""The monthly (or quarterly) reporting cycle of domain.md, as data: one per agreement and period.

The provider submits the period's results by the reporting day; the customer's Functional Lead
accepts them or disputes named metrics; a dispute goes back to the provider, who resubmits;
acceptance makes the report final, frozen by its content hash. Every step is a task, so
reminders and escalations reach these people exactly as they reach approvers.
"""

from __future__ import annotations

from dataclasses import replace
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
    ESCALATED = "escalated"
    ACCEPTED = "accepted"
    FINAL = "final"


OPEN = PeriodState.OPEN
SUBMITTED = PeriodState.SUBMITTED
DISPUTED = PeriodState.DISPUTED
RESUBMITTED = PeriodState.RESUBMITTED
ESCALATED = PeriodState.ESCALATED
ACCEPTED = PeriodState.ACCEPTED
FINAL = PeriodState.FINAL

PM = Role.PROGRAM_MANAGER
FL = Role.FUNCTIONAL_LEAD
ES = Role.EXECUTIVE_SPONSOR

# The reporting day: results are due this many calendar days after the period ends (domain.md).
DEFAULT_REPORTING_DAY = 10
REVIEW_BUSINESS_DAYS = 5
# A dispute steps up to both Executive Sponsors after this many rounds, or this many business
# days (customer calendar) after its first round; both are per agreement (domain.md).
DEFAULT_DISPUTE_ROUNDS = 2
DEFAULT_DISPUTE_BUSINESS_DAYS = 15
DECISION_BUSINESS_DAYS = 5

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

_ADDRESS_DISPUTE = TaskTemplate(
    "address_dispute",
    SideRef.PROVIDER,
    PM,
    REVIEW_BUSINESS_DAYS,
    escalation_roles=(ES,),
    title="Answer the customer's dispute and resubmit the results",
)

# One per side: the Sponsors decide together, each by completing their own task.
_DECISIONS = tuple(
    TaskTemplate(
        "dispute_decision",
        side,
        ES,
        DECISION_BUSINESS_DAYS,
        escalation_roles=(),
        title="Decide the escalated dispute with the other side's Executive Sponsor",
    )
    for side in (SideRef.CUSTOMER, SideRef.PROVIDER)
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
        State(ESCALATED, description="the dispute went up to both Executive Sponsors"),
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
            opens=(replace(_ADDRESS_DISPUTE, condition="escalation_not_due"),),
            then="escalate",
            description="the customer disputes named metrics, each with a reason",
        ),
        Transition(
            "escalate",
            (DISPUTED, RESUBMITTED),
            ESCALATED,
            FiredBy.SYSTEM,
            guards=("escalation_due",),
            cancels_open_tasks=True,
            effects=("escalate_dispute",),
            opens=_DECISIONS,
            description=(
                "after the agreement's number of dispute rounds (on the dispute) or business "
                "days since the first one (the calendar job), both Executive Sponsors decide"
            ),
        ),
        Transition(
            "uphold",
            (ESCALATED,),
            ACCEPTED,
            FiredBy.SYSTEM,
            guards=("sponsors_uphold",),
            effects=("record_decision",),
            then="finalize",
            description="both Sponsors uphold the provider's results: the report becomes final",
        ),
        Transition(
            "sustain",
            (ESCALATED,),
            DISPUTED,
            FiredBy.SYSTEM,
            guards=("sponsors_sustain",),
            effects=("record_decision",),
            opens=(_ADDRESS_DISPUTE,),
            description=(
                "both Sponsors sustain the customer's dispute: back to the provider with their "
                "comments; the escalation counts start again"
            ),
        ),
        Transition(
            "reconsider",
            (ESCALATED,),
            ESCALATED,
            FiredBy.SYSTEM,
            guards=("sponsors_split",),
            effects=("record_decision",),
            opens=_DECISIONS,
            description=(
                "the Sponsors decided differently: nothing changes and both decide again, "
                "each seeing the other's decision and comment"
            ),
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
            "accept_with_exceptions",
            (SUBMITTED, RESUBMITTED),
            ACCEPTED,
            FiredBy.TASK_ASSIGNEE,
            task_kind="review_results",
            guards=("exceptions_named",),
            effects=("record_exceptions",),
            then="finalize",
            description=(
                "the customer accepts the results but for named metrics still disputed: the "
                "report becomes final, the exceptions wait for the next service review"
            ),
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
        "record_disputes": "record each disputed metric with its reason and count the round",
        "record_exceptions": "record each metric accepted with an exception, open until reviewed",
        "escalate_dispute": "both Executive Sponsors are told why the dispute reached them",
        "record_decision": (
            "record the Sponsors' decision (uphold, sustain or split) with both comments and "
            "mail it to every stakeholder; a sustained dispute starts the counts again"
        ),
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
        "exceptions_named": (
            "accepting with exceptions must name at least one metric of the report, with a reason"
        ),
        "escalation_due": (
            "the dispute has gone the agreement's number of rounds or business days"
        ),
        "sponsors_uphold": "both Executive Sponsors upheld the provider's results",
        "sponsors_sustain": "both Executive Sponsors sustained the customer's dispute",
        "sponsors_split": "the Executive Sponsors decided differently",
        "provider_data_complete": (
            "every window whose data the provider provides must have data or an excusal in force"
        ),
    },
    conditions={"escalation_not_due": "the dispute does not escalate yet"},
    task_kinds=(
        TaskKind("submit_results", (Outcome("done", fires="submit"),), "submit the results"),
        TaskKind(
            "review_results",
            (
                Outcome("accepted", fires="accept"),
                Outcome("disputed", fires="dispute", comment_required=True),
                Outcome("accepted_with_exceptions", fires="accept_with_exceptions"),
            ),
            "review the period's results",
        ),
        TaskKind("address_dispute", (Outcome("done", fires="resubmit"),), "answer a dispute"),
        TaskKind(
            "dispute_decision",
            (
                Outcome("upheld", fires="uphold"),
                Outcome("sustained", fires="sustain", comment_required=True),
            ),
            "decide an escalated dispute: uphold the provider's results or sustain the dispute",
        ),
    ),
    actions=(
        Action(
            "amend_report",
            (PM, FL),
            description="correct a final report: a new audited amendment, never an edit",
        ),
        Action(
            "correct_observation",
            (PM, FL, Role.TECHNICAL_LEAD, Role.PMO_LEAD, Role.PMO_TEAM),
            description=(
                "correct an observed value, keeping the old one: the provider, or the side "
                "providing the metric's data; a final report's correction is an amendment"
            ),
        ),
    ),
)
