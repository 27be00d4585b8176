"""Amending a final report: the numbered amendment an accepted `amendment` proposal makes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from states import PeriodState
from workflow.errors import NotAllowedNow
from workflow.models import PeriodAmendment
from workflow.queries.periods import period_report, results_hash, results_of
from workflow.subjects.period import PeriodSubject
from workflow.subjects.period_effects import open_corrective_actions, send_final_report
from workflow.transaction import flush


def require_final(subject: PeriodSubject) -> None:
    period = subject.period
    if period.state != PeriodState.FINAL:
        raise NotAllowedNow(
            f"only a final report is amended; {period.period} is {period.state}",
            current_state=period.state,
            allowed_events=[],
        )


def totals_now(subject: PeriodSubject, now: datetime) -> dict[str, Any]:
    """What the period's report would say if it were amended now: totals and content hash."""
    period = subject.period
    results = results_of(
        period_report(
            subject.session, subject.agreement.id or 0, period.first_day, period.last_day, now=now
        )
    )
    return {"totals": results.get("totals", {}), "content_hash": results_hash(results)}


def amend_final_report(
    subject: PeriodSubject,
    *,
    reason: str,
    created_by_id: int,
    now: datetime,
) -> tuple[PeriodAmendment, dict[str, Any]]:
    """Recompute the final report as a numbered amendment, open the corrective actions its
    misses need and mail it; the final hash stays. The amendment and what the audit records."""
    require_final(subject)
    session, row = subject.session, subject.period
    report = period_report(session, subject.agreement.id or 0, row.first_day, row.last_day, now=now)
    results = results_of(report)
    digest = results_hash(results)
    row.amendments += 1
    amendment = PeriodAmendment(
        period_id=row.id or 0,
        number=row.amendments,
        reason=reason,
        results=results,
        content_hash=digest,
        created_by_id=created_by_id,
        created_at=now,
    )
    # The final report stays as frozen; `results` follow the newest amendment.
    row.results, row.results_hash = results, digest
    session.add_all([row, amendment])
    flush(session)
    opened = open_corrective_actions(subject, now)
    send_final_report(subject, now, amendment=amendment.number)
    return amendment, {
        "period": row.period,
        "amendment": amendment.number,
        "reason": amendment.reason,
        "content_hash": digest,
        "final_hash": row.final_hash,
        **opened,
    }
