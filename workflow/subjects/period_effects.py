"""The named effects of the reporting cycle (`states.REPORTING.effects`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select

from states import REPORTING
from workflow.announcements import ALL_STAKEHOLDERS
from workflow.chronic_misses import detect_chronic_misses
from workflow.corrective_actions import open_for_period, summary
from workflow.engine import Firing, register_effects
from workflow.models import PeriodDispute
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
REASON_MAX = 4000


def _record_results(subject: PeriodSubject, firing: Firing) -> dict[str, Any]:
    """The results as measured now; a resubmission also answers the round's disputes."""
    period = subject.period
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
    return {"disputes": recorded}


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
        "freeze_report": _freeze_report,
        "open_corrective_actions": _open_corrective_actions,
        "detect_chronic_misses": _detect_chronic_misses,
        "send_final_report": _send_final_report,
    },
)
