"""What each outbox topic carries, as types: checked when a message is queued.

The templates under `notifications/templates/` read these fields; a producer that forgets one,
misspells one or adds one nobody reads is refused at enqueue time, inside its command, rather
than when the dispatcher renders the message later. Payloads are stored as JSON, so dates are
ISO strings here, as they are in the row.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgreementRef(Payload):
    id: int | None
    key: str
    title: str


class VersionRef(Payload):
    id: int | None
    number: int | None
    modification_number: int | None
    state: str | None


class PeriodRef(Payload):
    label: str
    first_day: str
    last_day: str
    state: str
    round: int


class TaskRef(Payload):
    id: int | None
    kind: str
    title: str
    side: str
    role: str
    due_on: str
    assignee_id: int | None
    detail: str | None = None


class ProposalChange(Payload):
    what: str
    before: str
    after: str


class ProposalRef(Payload):
    id: int | None
    kind: str
    state: str
    summary: str
    proposer_side: str
    counterpart_side: str
    changes: list[ProposalChange]


class About(Payload):
    """Every message about an agreement names it and its version (or says it has none)."""

    agreement: AgreementRef
    version: VersionRef


class ExtensionRef(Payload):
    id: int | None
    current_end: str
    new_end_date: str
    reason: str
    requested_side: str


class TaskAssigned(About):
    task: TaskRef
    period: PeriodRef | None = None
    proposal: ProposalRef | None = None
    extension: ExtensionRef | None = None


class ProposalMoved(About):
    """A proposal made, or decided (accepted, rejected, withdrawn): told to both sides."""

    proposal: ProposalRef
    actor: str
    comment: str | None


class VersionMoved(About):
    """A lifecycle transition, announced to every stakeholder."""

    event: str
    from_state: str
    to_state: str
    actor: str
    comment: str | None


class ExtensionMoved(VersionMoved):
    """An extension asked of both Business Owners, or refused by one: told to every
    stakeholder (its approval is announced as the new version's activation)."""

    extension: ExtensionRef


class ApprovalGiven(About):
    task: TaskRef
    outcome: str | None
    actor: str
    comment: str | None


class TaskReminder(About):
    task: TaskRef
    step: str
    due_on: str
    business_days_overdue: int


class TaskEscalated(About):
    task: TaskRef
    escalated_to_role: str
    side: str
    business_days_overdue: int
    holder: dict[str, str] | None


class DelegationStarted(Payload):
    delegation_id: int | None
    delegator: str
    delegate: str
    starts_on: str
    ends_on: str


class RenewalUpcoming(About):
    period_end: str
    days_before: int
    days_remaining: int
    # The open renewal decision this email reminds of (none in rows queued before it existed).
    decision_due_on: str | None = None


class FinalReport(About):
    """A final report or its numbered amendment: the report and its trend as data (the
    email's HTML is rendered when it is sent)."""

    period: PeriodRef
    content_hash: str | None
    amendment: int | None
    totals: dict[str, Any]
    report: dict[str, Any]
    trend: dict[str, Any] | None


class CorrectiveActionRef(Payload):
    id: int | None
    metric_key: str
    metric_name: str = ""  # as the period's results name it; rows queued before: none
    window: str
    side: str
    state: str
    root_cause: str | None
    actions: list[dict[str, Any]]
    target_date: str | None


class CorrectiveActionMoved(About):
    """A step of a corrective action, to both sides' Program Managers."""

    period: PeriodRef
    corrective_action: CorrectiveActionRef
    event: str
    to_state: str
    actor: str
    comment: str | None


class ChronicMissDetected(About):
    """Consecutive misses of one metric, to both Executive Sponsors."""

    period: PeriodRef
    metric_key: str
    metric_name: str = ""  # as the period's results name it; rows queued before: none
    windows: list[str]
    threshold: int


class PeriodEscalated(About):
    """A dispute that went too long, to both Executive Sponsors."""

    period: PeriodRef
    trigger: str  # "rounds" or "business_days"
    dispute_rounds: int
    rounds_allowed: int
    business_days_allowed: int


class SponsorDecision(Payload):
    side: str
    decision: str
    comment: str | None


class DisputeDecided(About):
    """The Sponsors' decision of an escalated dispute (or their split), to every stakeholder."""

    period: PeriodRef
    decision: str  # "upheld", "sustained" or "split"
    sponsors: list[SponsorDecision]


class AccountRef(Payload):
    name: str
    email: str
    organization: str


class AccountLink(Payload):
    """An invitation or a password reset: a single-use link for one person."""

    account: AccountRef
    invited_by: str | None
    token: str
    expires_at: str


class Digest(Payload):
    date: str
    items: list[dict[str, Any]]


TRANSITION_TOPICS = (
    "review.requested",
    "changes.requested",
    "gap_analysis.opened",
    "rework.requested",
    "approval.requested",
    "version.rejected",
    "version.activated",
    "version.superseded",
    "version.withdrawn",
    "version.expired",
    "agreement.terminated",
)

PAYLOADS: dict[str, type[Payload]] = {
    "task.assigned": TaskAssigned,
    **dict.fromkeys(TRANSITION_TOPICS, VersionMoved),
    "version.approved": ApprovalGiven,
    "version.approved_with_conditions": ApprovalGiven,
    "task.reminder": TaskReminder,
    "task.escalated": TaskEscalated,
    "delegation.started": DelegationStarted,
    "agreement.renewal_upcoming": RenewalUpcoming,
    "period.final": FinalReport,
    "period.amended": FinalReport,
    "extension.requested": ExtensionMoved,
    "extension.rejected": ExtensionMoved,
    "proposal.made": ProposalMoved,
    "proposal.decided": ProposalMoved,
    "corrective_action.plan_submitted": CorrectiveActionMoved,
    "corrective_action.plan_accepted": CorrectiveActionMoved,
    "corrective_action.rework_requested": CorrectiveActionMoved,
    "corrective_action.completion_reported": CorrectiveActionMoved,
    "corrective_action.closed": CorrectiveActionMoved,
    "chronic_miss.detected": ChronicMissDetected,
    "period.escalated": PeriodEscalated,
    "period.dispute_decided": DisputeDecided,
    "digest.daily": Digest,
    "account.invitation": AccountLink,
    "account.password_reset": AccountLink,
}


def reported_name(results: Mapping[str, Any] | None, key: str) -> str:
    """A metric's name as a period's results give it (empty when they do not)."""
    for metric in (results or {}).get("metrics", []):
        if isinstance(metric, Mapping) and metric.get("key") == key:
            return str(metric.get("name") or "")
    return ""


def checked(topic: str, payload: dict[str, Any]) -> dict[str, Any]:
    """`payload` as validated for `topic` (ValueError naming the topic and the fields)."""
    model = PAYLOADS.get(topic)
    if model is None:
        return payload  # a topic without a declared shape (tests, benchmarks) passes as is
    try:
        model.model_validate(payload)
    except ValueError as exc:
        raise ValueError(f"outbox payload for {topic!r} does not match its type: {exc}") from exc
    return payload


class ShapeChecks:
    """`checked` for a producer that builds thousands of payloads by the same code (a sweep's
    reminders): each shape is validated once.

    The caller's `shape` must determine the payload's keys and the type of every value in it.
    The payload types constrain types only, never values (tests/workflow/test_payloads.py keeps
    it so), so a payload that passes strict validation (no coercion: a str must be a str, an
    int an int) vouches for every payload of its shape. One that needs the lax rules, or fails,
    is checked on its own every time, exactly as `checked` would.
    """

    LIMIT = 1000  # shapes remembered; a producer with more just checks the rest one by one

    def __init__(self) -> None:
        self._vouched: set[tuple[str, Hashable]] = set()

    def checked(self, topic: str, shape: Hashable, payload: dict[str, Any]) -> dict[str, Any]:
        key = (topic, shape)
        if key in self._vouched:
            return payload
        model = PAYLOADS.get(topic)
        if model is not None:
            try:
                model.model_validate(payload, strict=True)
            except ValueError:
                return checked(topic, payload)
        if len(self._vouched) < self.LIMIT:
            self._vouched.add(key)
        return payload
