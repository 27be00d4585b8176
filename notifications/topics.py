"""Every outbox topic Accord mails, and the wording that depends on data rather than topic.

Each topic `t` has two templates, `templates/t.txt` and `templates/t.html`. The payload
fields each template reads are listed here so that the code writing outbox rows (commands,
sweeps) and the templates agree; rendering fails loudly when one is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_AGREEMENT = "agreement {id, key, title}, version {number, modification_number}"
_TRANSITION = f"{_AGREEMENT}, actor, comment"
_TASK = "task {id, kind, title, side, role, due_on; detail optional}"
_CORRECTIVE = (
    "agreement {id, key, title}, period {label}, corrective_action {id, metric_key, window, "
    "side, state, root_cause, actions [{description, owner_id, due_on}], target_date}, "
    "event, to_state, actor, comment"
)

TOPICS: dict[str, str] = {
    "task.assigned": f"a task was opened for the recipient: {_AGREEMENT}, {_TASK}",
    "review.requested": f"a draft went to joint review: {_TRANSITION}",
    "changes.requested": f"a reviewer sent the draft back: {_TRANSITION}",
    "gap_analysis.opened": f"every review accepted, gaps computed: {_TRANSITION}",
    "rework.requested": f"gap analysis sent back to draft: {_TRANSITION}",
    "approval.requested": f"gaps resolved, approvals asked: {_TRANSITION}",
    "version.approved": f"one approver approved: {_AGREEMENT}, {_TASK}, actor, comment",
    "version.approved_with_conditions": (
        f"one approver approved with conditions: {_AGREEMENT}, {_TASK}, actor, comment"
    ),
    "version.rejected": f"an approver rejected the version: {_TRANSITION}",
    "version.activated": f"every approval given, the version is in force: {_TRANSITION}",
    "version.superseded": f"a later version came into force: {_TRANSITION}",
    "version.withdrawn": f"the version was abandoned: {_TRANSITION}",
    "version.expired": f"the period of performance ended: {_TRANSITION}",
    "agreement.terminated": f"a Business Owner ended the agreement: {_TRANSITION}",
    "task.reminder": (
        f"a task is due soon, today or overdue: {_AGREEMENT}, {_TASK}, "
        "step ('before:N' | 'due' | 'overdue:N'), due_on, business_days_overdue"
    ),
    "task.escalated": (
        f"an overdue task escalated to the recipient: {_AGREEMENT}, {_TASK}, "
        "escalated_to_role, side, business_days_overdue, holder {name, email} or null"
    ),
    "delegation.started": "a user delegated their tasks: delegator, delegate, starts_on, ends_on",
    "agreement.renewal_upcoming": (
        f"the period of performance ends soon: {_AGREEMENT}, period_end, days_before; "
        "days_remaining optional (a late run: the days really left); decision_due_on "
        "optional (the open renewal decision it reminds of)"
    ),
    "extension.requested": (
        f"a Program Manager asks both Business Owners to extend the period of performance: "
        f"{_TRANSITION}, extension {{id, current_end, new_end_date, reason, requested_side}}"
    ),
    "extension.rejected": (
        "a Business Owner refused the extension; the period of performance is unchanged: "
        "as extension.requested"
    ),
    "annual_review.due": f"the customer's annual review is due: {_AGREEMENT}, {_TASK}",
    "service_review.due": f"a quarterly service review is due: {_AGREEMENT}, {_TASK}",
    "period.final": (
        "a period's report was accepted and frozen: agreement {id, key, title}, period {label, "
        "first_day, last_day, round}, content_hash, totals, report and trend (report data, "
        "workflow.queries.periods.FinalReportData); its lines and HTML are rendered when sent "
        "(rows queued before that hold lines and report_html instead)"
    ),
    "period.amended": (
        "a final report was corrected: as period.final, plus amendment (its number)"
    ),
    "corrective_action.plan_submitted": (
        f"the owner side submitted a corrective action plan: {_CORRECTIVE}"
    ),
    "corrective_action.plan_accepted": f"the other side accepted the plan: {_CORRECTIVE}",
    "corrective_action.rework_requested": (f"the other side sent the plan back: {_CORRECTIVE}"),
    "corrective_action.completion_reported": (
        f"the owner side reported the plan carried out: {_CORRECTIVE}"
    ),
    "corrective_action.closed": f"the other side confirmed closure: {_CORRECTIVE}",
    "chronic_miss.detected": (
        "a metric missed its target in consecutive windows, to both Executive Sponsors: "
        "agreement {id, key, title}, period {label}, metric_key, windows, threshold"
    ),
    "period.escalated": (
        "a dispute went the agreement's rounds or business days, to both Executive Sponsors: "
        "agreement {id, key, title}, period {label, round}, trigger ('rounds' | "
        "'business_days'), dispute_rounds, rounds_allowed, business_days_allowed"
    ),
    "period.dispute_decided": (
        "both Executive Sponsors decided an escalated dispute (or decided differently): "
        "agreement {id, key, title}, period {label}, decision ('upheld' | 'sustained' | "
        "'split'), sponsors [{side, decision, comment}]"
    ),
    "account.invitation": (
        "an administrator invited the recipient: account {name, email, organization}, "
        "invited_by (null from the console), token (of the one-use link), expires_at"
    ),
    "account.password_reset": (
        "someone asked to reset the recipient's password: as account.invitation"
    ),
    "digest.daily": "the day's messages in one: items [{topic, subject, summary, link}]",
    "proposal.made": (
        f"one side proposes what the other side must accept: {_AGREEMENT}, proposal {{id, kind, "
        "state, summary, proposer_side, counterpart_side, changes [{what, before, after}]}, "
        "actor, comment (null)"
    ),
    "proposal.decided": (
        "a proposal was accepted, rejected or withdrawn: as proposal.made, with the comment"
    ),
}


@dataclass(frozen=True)
class TaskAsk:
    """How a task of some kind is named in a subject, and what it asks of its assignee."""

    subject: str
    request: str


TASK_ASKS: dict[str, TaskAsk] = {
    "review": TaskAsk(
        "Review the draft",
        "Read the draft and either accept it or request changes, with a comment that says "
        "what should change.",
    ),
    "confirm_requirements": TaskAsk(
        "Confirm the customer's requirements",
        "Check the customer's requirement on each metric and confirm it, so that the gaps "
        "with the provider's capabilities can be resolved.",
    ),
    "confirm_capabilities": TaskAsk(
        "Confirm the provider's capabilities",
        "Check the provider's capability on each metric and confirm it, so that the gaps "
        "with the customer's requirements can be resolved.",
    ),
    "lcce_review": TaskAsk(
        "Review the LCCE and financial terms",
        "Review the Life Cycle Cost Estimate, the cost for services and the payment terms, "
        "and mark the task done when they are right.",
    ),
    "approval": TaskAsk(
        "Approval needed",
        "Approve the version, approve it with conditions, or reject it. Conditions and "
        "rejections need a comment.",
    ),
    "rework": TaskAsk(
        "Rework the draft",
        "Change the draft as the comments ask, then submit it for review again.",
    ),
    "follow_up": TaskAsk(
        "Meet a condition of approval",
        "An approver accepted the version on a condition. Meet it, then mark the task done.",
    ),
    "annual_review": TaskAsk(
        "Annual review due",
        "Review the Provider Agreement and the SLA, as M3 requires at least once a year: "
        "performance against the targets, open gaps, and whether the terms still fit.",
    ),
    "submit_results": TaskAsk(
        "Submit the period's results",
        "The reporting period has ended. Check that its measurements are uploaded and that "
        "misses caused by others are excused, then submit the results to the customer.",
    ),
    "review_results": TaskAsk(
        "Review the period's results",
        "The provider submitted the period's results. Accept them, or dispute the metrics you "
        "disagree with, each with a reason.",
    ),
    "address_dispute": TaskAsk(
        "Answer a dispute of your results",
        "The customer disputed some of the period's results. Correct the data or excuse the "
        "misses as agreed, then resubmit with a comment that answers each point.",
    ),
    "dispute_decision": TaskAsk(
        "Decide an escalated dispute",
        "The customer and the provider could not settle a dispute of the period's results. "
        "With the other side's Executive Sponsor, uphold the provider's results (the report "
        "becomes final) or sustain the customer's dispute (it goes back to the provider with "
        "your comment). Nothing happens until you both decide the same way.",
    ),
    "corrective_action": TaskAsk(
        "Corrective action plan needed",
        "A service level was missed in a final report and charged to your side. Find the "
        "root cause and submit a plan: actions with owners and due dates, and a target date. "
        "The other side accepts it or asks for rework.",
    ),
    "corrective_plan_review": TaskAsk(
        "Review a corrective action plan",
        "The other side submitted its plan to correct a missed service level. Accept it, or "
        "ask for rework saying what is missing.",
    ),
    "corrective_action_completion": TaskAsk(
        "Carry out the corrective action plan",
        "Your side's plan was accepted. Carry it out, then report its completion with a "
        "comment on what was done.",
    ),
    "corrective_action_closure": TaskAsk(
        "Confirm a corrective action",
        "The other side reports its corrective action complete. Check it and confirm closure.",
    ),
    "proposal_review": TaskAsk(
        "The other side proposes a change",
        "The other side proposes something that changes what your side owns. Open it to see "
        "what it changes, then accept it or reject it with a comment.",
    ),
    "service_review": TaskAsk(
        "Quarterly service review due",
        "Hold the quarterly service review with the other side: performance against the "
        "SLA, open issues, and the changes needed.",
    ),
}

# A kind added later still gets a sensible email; its wording belongs in TASK_ASKS.
GENERIC_ASK = TaskAsk("New task", "Open the task to see what is asked and by when.")


def task_ask(kind: str) -> TaskAsk:
    return TASK_ASKS.get(kind, GENERIC_ASK)


@dataclass(frozen=True)
class ReminderStep:
    """A reminder's slot: `before` the due date, on the `due` date, or `overdue`."""

    when: Literal["before", "due", "overdue"]
    days: int = 0


_STEP = re.compile(r"(?:(before|overdue):([1-9][0-9]*)|due)")


def reminder_step(step: str) -> ReminderStep:
    """Parse 'before:2', 'due' or 'overdue:4' (business days)."""
    match = _STEP.fullmatch(step)
    if match is None:
        raise ValueError(
            f"unknown reminder step {step!r}: expected 'before:N', 'due' or 'overdue:N'"
        )
    if match.group(1) == "before":
        return ReminderStep("before", int(match.group(2)))
    if match.group(1) == "overdue":
        return ReminderStep("overdue", int(match.group(2)))
    return ReminderStep("due")
