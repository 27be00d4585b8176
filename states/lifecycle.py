"""The SLA version lifecycle of domain.md, as data."""

from __future__ import annotations

from enum import StrEnum

from states.model import (
    Action,
    FiredBy,
    GovernanceCalendar,
    MachineSpec,
    Outcome,
    ReminderPolicy,
    Role,
    SideRef,
    State,
    TaskKind,
    TaskTemplate,
    Transition,
)


class VersionState(StrEnum):
    DRAFT = "draft"
    JOINT_REVIEW = "joint_review"
    GAP_ANALYSIS = "gap_analysis"
    APPROVAL = "approval"
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"
    TERMINATED = "terminated"
    WITHDRAWN = "withdrawn"


DRAFT = VersionState.DRAFT
JOINT_REVIEW = VersionState.JOINT_REVIEW
GAP_ANALYSIS = VersionState.GAP_ANALYSIS
APPROVAL = VersionState.APPROVAL
ACTIVE = VersionState.ACTIVE
SUPERSEDED = VersionState.SUPERSEDED
EXPIRED = VersionState.EXPIRED
TERMINATED = VersionState.TERMINATED
WITHDRAWN = VersionState.WITHDRAWN

PM = Role.PROGRAM_MANAGER
BO = Role.BUSINESS_OWNER
ES = Role.EXECUTIVE_SPONSOR

_REVIEW_DAYS = 5
_REWORK = TaskTemplate(
    "rework", SideRef.DRAFTING, PM, 5, title="Rework the draft as the reviewers asked"
)

LIFECYCLE = MachineSpec(
    name="sla_version",
    subject="version",
    initial=DRAFT,
    states=(
        State(DRAFT, in_progress=True, description="being written; the only editable state"),
        State(JOINT_REVIEW, in_progress=True, description="both sides review the draft"),
        State(GAP_ANALYSIS, in_progress=True, description="requirement vs capability gaps"),
        State(APPROVAL, in_progress=True, description="Business Owners (and Sponsors) approve"),
        State(ACTIVE, description="in force"),
        State(SUPERSEDED, final=True, description="replaced by a later version"),
        State(EXPIRED, final=True, description="period of performance ended"),
        State(TERMINATED, final=True, description="ended early by a Business Owner"),
        State(WITHDRAWN, final=True, description="abandoned before approval"),
    ),
    transitions=(
        Transition(
            "submit_for_review",
            (DRAFT,),
            JOINT_REVIEW,
            FiredBy.ROLES,
            roles=(PM, Role.TECHNICAL_LEAD),
            guards=("has_metrics", "has_period_of_performance", "has_required_stakeholders"),
            opens=(
                TaskTemplate(
                    "review",
                    SideRef.CUSTOMER,
                    Role.FUNCTIONAL_LEAD,
                    _REVIEW_DAYS,
                    title="Review the draft (customer)",
                ),
                TaskTemplate(
                    "review",
                    SideRef.PROVIDER,
                    Role.TECHNICAL_LEAD,
                    _REVIEW_DAYS,
                    title="Review the draft (provider)",
                ),
            ),
            # Resubmitting is the rework: the draft's open rework task ends with it.
            cancels_open_tasks=True,
            topic="review.requested",
            description="send the draft to both sides for review",
        ),
        Transition(
            "request_changes",
            (JOINT_REVIEW,),
            DRAFT,
            FiredBy.TASK_ASSIGNEE,
            task_kind="review",
            guards=("has_comment",),
            opens=(_REWORK,),
            cancels_open_tasks=True,
            topic="changes.requested",
            description="a reviewer sends the draft back",
        ),
        Transition(
            "complete_review",
            (JOINT_REVIEW,),
            GAP_ANALYSIS,
            FiredBy.SYSTEM,
            guards=("all_reviews_accepted",),
            effects=("compute_gaps",),
            opens=(
                TaskTemplate(
                    "confirm_requirements",
                    SideRef.CUSTOMER,
                    Role.FUNCTIONAL_LEAD,
                    5,
                    title="Confirm the customer's requirements",
                ),
                TaskTemplate(
                    "confirm_capabilities",
                    SideRef.PROVIDER,
                    Role.TECHNICAL_LEAD,
                    5,
                    title="Confirm the provider's capabilities",
                ),
                TaskTemplate(
                    "lcce_review",
                    SideRef.CUSTOMER,
                    Role.PMO_LEAD,
                    5,
                    condition="lcce_review_needed",
                    title="Review the LCCE and financial terms",
                ),
                TaskTemplate(
                    "lcce_review",
                    SideRef.PROVIDER,
                    Role.PMO_LEAD,
                    5,
                    condition="lcce_review_needed",
                    title="Review the LCCE and financial terms",
                ),
            ),
            topic="gap_analysis.opened",
            description="every review accepted: gaps are computed",
        ),
        Transition(
            "request_rework",
            (GAP_ANALYSIS,),
            DRAFT,
            FiredBy.ROLES,
            roles=(PM,),
            guards=("has_comment",),
            effects=("lapse_gap_proposals",),
            opens=(_REWORK,),
            cancels_open_tasks=True,
            topic="rework.requested",
            description="back to the draft from gap analysis",
        ),
        Transition(
            "submit_for_approval",
            (GAP_ANALYSIS,),
            APPROVAL,
            FiredBy.ROLES,
            roles=(PM,),
            guards=("all_gaps_resolved", "all_gap_analysis_tasks_done"),
            opens=(
                TaskTemplate("approval", SideRef.CUSTOMER, BO, 5, title="Approve the version"),
                TaskTemplate("approval", SideRef.PROVIDER, BO, 5, title="Approve the version"),
                TaskTemplate(
                    "approval",
                    SideRef.CUSTOMER,
                    ES,
                    5,
                    condition="executive_approval_needed",
                    title="Approve the version (Sponsor)",
                ),
                TaskTemplate(
                    "approval",
                    SideRef.PROVIDER,
                    ES,
                    5,
                    condition="executive_approval_needed",
                    title="Approve the version (Sponsor)",
                ),
            ),
            topic="approval.requested",
            description="gaps resolved: ask for approval",
        ),
        Transition(
            "reject",
            (APPROVAL,),
            DRAFT,
            FiredBy.TASK_ASSIGNEE,
            task_kind="approval",
            guards=("has_comment",),
            opens=(_REWORK,),
            cancels_open_tasks=True,
            topic="version.rejected",
            description="an approver does not accept the version",
        ),
        Transition(
            "activate",
            (APPROVAL,),
            ACTIVE,
            FiredBy.SYSTEM,
            guards=("all_approvals_approved",),
            effects=("take_effect", "open_follow_ups"),
            topic="version.activated",
            description="every approval given: the version is in force",
        ),
        Transition(
            "supersede",
            (ACTIVE,),
            SUPERSEDED,
            FiredBy.SYSTEM,
            cancels_open_tasks=True,  # its follow-ups and reviews are moot once replaced
            topic="version.superseded",
            description="a later version was activated",
        ),
        Transition(
            "withdraw",
            (DRAFT, JOINT_REVIEW, GAP_ANALYSIS, APPROVAL),
            WITHDRAWN,
            FiredBy.ROLES,
            roles=(PM,),
            guards=("has_comment",),
            effects=("lapse_gap_proposals",),
            cancels_open_tasks=True,
            topic="version.withdrawn",
            description="abandon the version",
        ),
        Transition(
            "expire",
            (ACTIVE,),
            EXPIRED,
            FiredBy.SYSTEM,
            guards=("period_ended",),
            cancels_open_tasks=True,
            topic="version.expired",
            description="the period of performance ended",
        ),
        Transition(
            "terminate",
            (ACTIVE,),
            TERMINATED,
            FiredBy.ROLES,
            roles=(BO,),
            guards=("has_comment",),
            cancels_open_tasks=True,
            topic="agreement.terminated",
            description="end the agreement early",
        ),
    ),
    guards={
        "has_metrics": "the version has no metrics; add at least one",
        "has_period_of_performance": (
            "the period of performance is not set (terms.period_start and terms.period_end)"
        ),
        "has_required_stakeholders": (
            "both Business Owners and both Program Managers must be assigned"
        ),
        "has_comment": "a comment is required",
        "all_reviews_accepted": "review tasks are still open",
        "all_gaps_resolved": "every gap must be resolved before approval",
        "all_gap_analysis_tasks_done": "gap-analysis tasks are still open",
        "all_approvals_approved": "approvals are still outstanding",
        "period_ended": "the period of performance has not ended",
        "has_active_version": "the agreement has no active version to revise",
        "no_version_in_progress": "another version of this agreement is already in progress",
    },
    effects={
        "compute_gaps": (
            "replace the version's gaps with those its requirements, capabilities and the last "
            "six measured windows imply"
        ),
        "take_effect": "the version comes into force; the one in force until now is superseded",
        "open_follow_ups": "each condition of approval becomes a follow-up task for its approver",
        "lapse_gap_proposals": (
            "an open proposal to resolve one of the version's gaps lapses: the gaps it would "
            "resolve are recomputed when the version comes back"
        ),
    },
    conditions={
        "lcce_review_needed": "version 1, or annual cost, currency or payment terms changed",
        "executive_approval_needed": (
            "version 1, or annual cost changed by more than the agreement's threshold"
        ),
    },
    task_kinds=(
        TaskKind(
            "review",
            (
                Outcome("accepted", fires="complete_review"),
                Outcome("changes_requested", fires="request_changes", comment_required=True),
            ),
            "review the draft",
        ),
        TaskKind("confirm_requirements", (Outcome("done"),), "confirm the requirements"),
        TaskKind("confirm_capabilities", (Outcome("done"),), "confirm the capabilities"),
        TaskKind("lcce_review", (Outcome("done"),), "review the LCCE and financial terms"),
        TaskKind(
            "approval",
            (
                Outcome("approved", fires="activate"),
                Outcome("approved_with_conditions", fires="activate", comment_required=True),
                Outcome("rejected", fires="reject", comment_required=True),
            ),
            "approve the version (M3: accepted / accepted pending changes / not accepted)",
        ),
        TaskKind("rework", (Outcome("done"),), "rework the draft"),
        TaskKind("follow_up", (Outcome("done"),), "meet a condition of approval"),
        TaskKind(
            "annual_review",
            (Outcome("done"),),
            "the customer's annual review of the Provider Agreement and SLA (M3: yearly)",
        ),
        TaskKind(
            "service_review",
            (Outcome("done"),),
            "hold the quarterly service review with the other side (done by recording minutes)",
        ),
        TaskKind(
            "renewal_decision",
            (Outcome("renew_by_revision"), Outcome("extend"), Outcome("let_expire")),
            "decide how the agreement continues before its period of performance ends",
        ),
        TaskKind("action_item", (Outcome("done"),), "an action item of a service review"),
    ),
    actions=(
        Action(
            "start_revision",
            (PM, BO),
            guards=("has_active_version", "no_version_in_progress"),
            description="open a new draft version cloned from the active one",
        ),
        Action("edit_draft", tuple(Role), description="change terms and metrics of a draft"),
        Action("set_stakeholders", (PM, BO), description="replace the role assignments"),
        Action(
            "manage_gaps",
            (PM, Role.FUNCTIONAL_LEAD, Role.TECHNICAL_LEAD, BO),
            description="add and resolve gaps during gap analysis",
        ),
        Action(
            "upload_measurements",
            (Role.PMO_TEAM, Role.PMO_LEAD, PM, Role.TECHNICAL_LEAD),
            description="record measured values of the agreement's metrics (JSON or CSV)",
        ),
        Action(
            "excuse_miss",
            (PM, BO),
            description="excuse a missed metric-window, attributing it to a party with a reason",
        ),
    ),
    reminders=ReminderPolicy(),
    governance=GovernanceCalendar(
        renewal_days_before=(90, 60),
        annual_review_days_before_end=60,
        annual_review_opens_days_before_due=30,
        renewal_decision_days_before=120,
        renewal_decision_due_days_before=30,
        renewal_decisions=tuple(
            TaskTemplate(
                "renewal_decision",
                side,
                PM,
                0,  # due a fixed number of days before the end, not business days after opening
                escalation_roles=(ES,),
                title="Decide the renewal: renew by revision, extend, or let expire",
            )
            for side in (SideRef.CUSTOMER, SideRef.PROVIDER)
        ),
        agreement_task_kinds=(
            "annual_review",
            "service_review",
            "renewal_decision",
            "action_item",
        ),
        annual_review=TaskTemplate(
            "annual_review",
            SideRef.CUSTOMER,
            BO,
            20,
            title="Review the Provider Agreement and SLA (annual review)",
        ),
        service_reviews=(
            # A Program Manager's task escalates to the Sponsor only: never to themselves.
            TaskTemplate(
                "service_review",
                SideRef.CUSTOMER,
                PM,
                10,
                escalation_roles=(ES,),
                title="Hold the quarterly service review",
            ),
            TaskTemplate(
                "service_review",
                SideRef.PROVIDER,
                PM,
                10,
                escalation_roles=(ES,),
                title="Hold the quarterly service review",
            ),
        ),
    ),
)

FOLLOW_UP = TaskTemplate(
    "follow_up", SideRef.ACTOR, PM, 10, title="Meet the conditions of approval"
)
