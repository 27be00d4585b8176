"""The named effects of the reporting cycle (`states.REPORTING.effects`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select

from states import REPORTING
from workflow.announcements import ALL_STAKEHOLDERS
from workflow.chronic_misses import BOTH_SPONSORS, detect_chronic_misses
from workflow.corrective_actions import open_for_period, summary
from workflow.engine import Firing, register_effects
from workflow.models import PeriodDispute, PeriodException
from workflow.queries.periods import (
    FinalReportData,
    results_hash,
    results_of,
    stored_report,
    submitted_late,
    trend_report,
)
from workflow.subjects.period import PeriodSubject

FINAL_TOPIC = "period.final"
AMENDED_TOPIC = "period.amended"
ESCALATED_TOPIC = "period.escalated"
DECIDED_TOPIC = "period.dispute_decided"
REASON_MAX = 4000


def _record_results(subject: PeriodSubject, firing: Firing) -> dict[str, Any]:
    """The results as measured now; a resubmission also answers the round's disputes."""
    period = subject.period
    # Kept so a resubmission can show, per disputed metric, what changed (old → new).
    period.previous_results = period.results
    period.results = results_of(subject.current_report)
    period.results_hash = results_hash(period.results)
    period.round += 1
    period.submitted_at = firing.now
    if period.first_submitted_at is None:
        period.first_submitted_at = firing.now
    period.submitted_by_id = firing.actor.user_id if firing.actor else None
    if period.round > 1:
        for dispute in subject.session.exec(
            select(PeriodDispute).where(
                PeriodDispute.period_id == period.id,
                PeriodDispute.round == period.round - 1,
                col(PeriodDispute.answer).is_(None),
            )
        ):
            dispute.answer = (firing.comment or "").strip() or "resubmitted without comment"
            dispute.answered_at = firing.now
            subject.session.add(dispute)
    data: dict[str, Any] = {"round": period.round, "results_hash": period.results_hash}
    if period.round == 1 and submitted_late(period):
        data["late"] = {"due_on": period.due_on.isoformat()}
    return data


def _record_disputes(subject: PeriodSubject, firing: Firing) -> dict[str, Any]:
    recorded = []
    for d in subject.disputes:
        reason = d["reason"].strip()[:REASON_MAX]
        subject.session.add(
            PeriodDispute(
                period_id=subject.period.id or 0,
                round=subject.period.round,
                metric_key=d["metric"],
                reason=reason,
                raised_by_id=firing.actor.user_id if firing.actor else None,
                raised_at=firing.now,
            )
        )
        recorded.append({"metric": d["metric"], "reason": reason})
    period = subject.period
    period.dispute_rounds += 1
    if period.disputed_since is None:
        period.disputed_since = firing.now
    return {"disputes": recorded, "dispute_rounds": period.dispute_rounds}


def _record_exceptions(subject: PeriodSubject, firing: Firing) -> dict[str, Any]:
    recorded = []
    for e in {e["metric"]: e for e in subject.exceptions}.values():
        reason = e["reason"].strip()[:REASON_MAX]
        subject.session.add(
            PeriodException(
                agreement_id=subject.agreement.id or 0,
                period_id=subject.period.id or 0,
                metric_key=e["metric"],
                reason=reason,
                raised_by_id=firing.actor.user_id if firing.actor else None,
                raised_at=firing.now,
            )
        )
        recorded.append({"metric": e["metric"], "reason": reason})
    return {"exceptions": recorded}


def _escalate_dispute(subject: PeriodSubject, firing: Firing) -> dict[str, Any]:
    """Both Sponsors hear why the dispute reached them; the audit event says which count."""
    period, agreement = subject.period, subject.agreement
    period.escalations += 1
    by_rounds = period.dispute_rounds >= agreement.dispute_escalation_rounds
    escalation = {
        "trigger": "rounds" if by_rounds else "business_days",
        "dispute_rounds": period.dispute_rounds,
        "rounds_allowed": agreement.dispute_escalation_rounds,
        "business_days_allowed": agreement.dispute_escalation_business_days,
        "disputed_since": period.disputed_since.isoformat() if period.disputed_since else None,
    }
    subject.tx.enqueue(
        topic=ESCALATED_TOPIC,
        dedupe_key=f"{ESCALATED_TOPIC}:{period.id}:{period.escalations}",
        now=firing.now,
        agreement_id=agreement.id,
        recipients=BOTH_SPONSORS,
        payload={
            **subject.payload(),
            "trigger": escalation["trigger"],
            "dispute_rounds": period.dispute_rounds,
            "rounds_allowed": agreement.dispute_escalation_rounds,
            "business_days_allowed": agreement.dispute_escalation_business_days,
        },
    )
    return {"escalation": escalation}


_DECISIONS = {"uphold": "upheld", "sustain": "sustained", "reconsider": "split"}


def _record_decision(subject: PeriodSubject, firing: Firing) -> dict[str, Any]:
    """The Sponsors' joint decision (or their split) on record and mailed to everyone; a
    sustained dispute goes back to the provider and its escalation counts start again."""
    period = subject.period
    decision = _DECISIONS[firing.transition.event]
    said = [
        {"side": t.side, "decision": t.outcome or "", "comment": (t.comment or "").strip() or None}
        for t in subject.decision_tasks
    ]
    if decision == "sustained":
        period.dispute_rounds, period.disputed_since = 0, firing.now
    if decision == "upheld":
        words = "; ".join(f"{d['side']}: {d['comment']}" for d in said if d["comment"])
        for dispute in subject.session.exec(
            select(PeriodDispute).where(
                PeriodDispute.period_id == period.id, col(PeriodDispute.answer).is_(None)
            )
        ):
            dispute.answer = f"upheld by both Executive Sponsors{': ' + words if words else ''}"
            dispute.answer = dispute.answer[:REASON_MAX]
            dispute.answered_at = firing.now
            subject.session.add(dispute)
    first_task = min((t.id or 0 for t in subject.decision_tasks), default=0)
    subject.tx.enqueue(
        topic=DECIDED_TOPIC,
        dedupe_key=f"{DECIDED_TOPIC}:{period.id}:{first_task}",
        now=firing.now,
        agreement_id=subject.agreement.id,
        recipients=ALL_STAKEHOLDERS,
        payload={**subject.payload(), "decision": decision, "sponsors": said},
    )
    return {"decision": decision, "sponsors": said}


def _freeze_report(subject: PeriodSubject, firing: Firing) -> dict[str, Any]:
    period = subject.period
    period.final_hash, period.finalized_at = period.results_hash, firing.now
    return {"final_hash": period.final_hash}


def _open_corrective_actions(subject: PeriodSubject, firing: Firing) -> dict[str, Any]:
    return open_corrective_actions(subject, firing.now)


def _detect_chronic_misses(subject: PeriodSubject, firing: Firing) -> dict[str, Any]:
    found = detect_chronic_misses(subject, firing.now)
    return {"chronic_misses": [m.metric_key for m in found]} if found else {}


def _send_final_report(subject: PeriodSubject, firing: Firing) -> dict[str, Any]:
    send_final_report(subject, firing.now)
    return {}


def open_corrective_actions(subject: PeriodSubject, now: datetime) -> dict[str, Any]:
    """A corrective action per unexcused miss and side charged, not yet given one; what the
    period's audit event records of them."""
    actions, tasks = open_for_period(subject, now)
    if not actions:
        return {}
    return {
        "corrective_actions": [summary(a) for a in actions],
        "opened_tasks": [t.id for t in tasks],
    }


def send_final_report(
    subject: PeriodSubject, now: datetime, *, amendment: int | None = None
) -> None:
    """Mail the final report (or its numbered amendment) to every stakeholder."""
    period = subject.period
    topic = FINAL_TOPIC if amendment is None else AMENDED_TOPIC
    subject.tx.enqueue(
        topic=topic,
        dedupe_key=f"{topic}:{period.id}:{amendment or 0}",
        now=now,
        agreement_id=subject.agreement.id,
        recipients=ALL_STAKEHOLDERS,
        payload={
            **subject.payload(),
            "content_hash": period.final_hash if amendment is None else period.results_hash,
            "amendment": amendment,
            "totals": (period.results or {}).get("totals", {}),
            # Data, not HTML: notifications renders the email when it is sent.
            **FinalReportData(
                report=stored_report(period.results or {}),
                trend=trend_report(
                    subject.session, subject.agreement.id or 0, period.last_day, now=now
                ),
            ).payload(),
        },
    )


register_effects(
    REPORTING,
    {
        "record_results": _record_results,
        "record_disputes": _record_disputes,
        "record_exceptions": _record_exceptions,
        "escalate_dispute": _escalate_dispute,
        "record_decision": _record_decision,
        "freeze_report": _freeze_report,
        "open_corrective_actions": _open_corrective_actions,
        "detect_chronic_misses": _detect_chronic_misses,
        "send_final_report": _send_final_report,
    },
)
