"""Chronic misses: a run of consecutive missed windows of one metric (domain.md, "Disputes
end"). Found when a period becomes final, from the final reports on record; both Executive
Sponsors are told once per run, and the run waits on the next service review's agenda.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from states import PeriodState, Role, Side
from workflow.command import Command
from workflow.models import ChronicMiss, ReportingPeriod, ServiceReview
from workflow.payloads import reported_name
from workflow.subjects.period import PeriodSubject

TOPIC = "chronic_miss.detected"
# A window counts when it missed its target, unexcused (a window without data is not a run).
MISSED = ("missed",)
BOTH_SPONSORS: dict[str, Any] = {
    "roles": [{"side": s.value, "role": Role.EXECUTIVE_SPONSOR.value} for s in Side],
    "reason": "role_holder",
}


def previous_window(label: str) -> str:
    """The window before `label`: 2027-01 → 2026-12, 2027-Q1 → 2026-Q4."""
    year, rest = int(label[:4]), label[5:]
    if rest.startswith("Q"):
        quarter = int(rest[1:])
        return f"{year - 1}-Q4" if quarter == 1 else f"{year}-Q{quarter - 1}"
    month = int(rest)
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def _statuses(results: Mapping[str, Any] | None) -> dict[tuple[str, str], str]:
    return {
        (metric["key"], row["window"]): row["status"]
        for metric in (results or {}).get("metrics", [])
        for row in metric.get("windows", [])
    }


def detect_chronic_misses(subject: PeriodSubject, now: datetime) -> list[ChronicMiss]:
    """Each metric whose misses, up to a window of this period, run at least the agreement's
    count of consecutive windows; a run already escalated (same first window) is not again."""
    session, agreement = subject.session, subject.agreement
    earlier = session.exec(
        select(ReportingPeriod.results).where(
            ReportingPeriod.agreement_id == agreement.id,
            ReportingPeriod.state == PeriodState.FINAL,
            ReportingPeriod.id != subject.period.id,
        )
    ).all()
    statuses: dict[tuple[str, str], str] = {}
    for results in earlier:
        statuses.update(_statuses(results))
    current = _statuses(subject.period.results)
    statuses.update(current)
    known = set(
        session.exec(
            select(ChronicMiss.metric_key, ChronicMiss.first_window).where(
                ChronicMiss.agreement_id == agreement.id
            )
        ).all()
    )
    found = []
    for (metric, window), status in sorted(current.items()):
        if status not in MISSED:
            continue
        run = [window]
        while statuses.get((metric, previous_window(run[0]))) in MISSED:
            run.insert(0, previous_window(run[0]))
        if len(run) < agreement.chronic_miss_windows or (metric, run[0]) in known:
            continue
        known.add((metric, run[0]))
        found.append(
            ChronicMiss(
                agreement_id=agreement.id or 0,
                metric_key=metric,
                first_window=run[0],
                windows=run,
                detected_at=now,
            )
        )
    if found:
        session.add_all(found)
    for miss in found:
        _escalate(subject, miss, now)
    return found


def _escalate(subject: PeriodSubject, miss: ChronicMiss, now: datetime) -> None:
    """Both Executive Sponsors are told; the audit trail keeps it."""
    data = {
        "period": subject.period.period,
        "metric": miss.metric_key,
        "windows": miss.windows,
        "threshold": subject.agreement.chronic_miss_windows,
    }
    subject.tx.audit(
        action="chronic_miss.detected", now=now, agreement_id=subject.agreement.id, data=data
    )
    subject.tx.enqueue(
        topic=TOPIC,
        dedupe_key=f"{TOPIC}:{subject.agreement.id}:{miss.metric_key}:{miss.first_window}",
        now=now,
        agreement_id=subject.agreement.id,
        recipients=BOTH_SPONSORS,
        payload={
            **subject.payload(),
            "metric_key": miss.metric_key,
            "metric_name": reported_name(subject.period.results, miss.metric_key),
            "windows": miss.windows,
            "threshold": subject.agreement.chronic_miss_windows,
        },
    )


def open_chronic_misses(session: Session, agreement_id: int) -> list[ChronicMiss]:
    """The agreement's chronic misses no service review has closed, oldest first: the agenda."""
    return list(
        session.exec(
            select(ChronicMiss)
            .where(
                ChronicMiss.agreement_id == agreement_id,
                col(ChronicMiss.state).in_(("open", "on_agenda")),
            )
            .order_by(col(ChronicMiss.detected_at), col(ChronicMiss.id))
        ).all()
    )


def put_on_agenda(tx: Command, review: ServiceReview, now: datetime) -> list[int]:
    """The agreement's open chronic misses are listed by the review just opened: `on_agenda`
    (audited with the review), so that nobody reads them as waiting for a review any more."""
    waiting = tx.session.exec(
        select(ChronicMiss)
        .where(ChronicMiss.agreement_id == review.agreement_id, ChronicMiss.state == "open")
        .order_by(col(ChronicMiss.id))
    ).all()
    for miss in waiting:
        miss.state = "on_agenda"
        tx.session.add(miss)
        tx.audit(
            action="chronic_miss.on_agenda",
            now=now,
            agreement_id=review.agreement_id,
            data={
                "chronic_miss_id": miss.id,
                "metric_key": miss.metric_key,
                "windows": miss.windows,
                "service_review_id": review.id,
                "quarter": review.quarter,
            },
        )
    return [m.id for m in waiting if m.id is not None]
