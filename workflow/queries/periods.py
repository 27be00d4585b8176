"""Reporting periods as people see them: state, results, disputes, amendments and tasks."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter
from sqlmodel import Session, col, or_, select

from states import REPORTING, FiredBy
from workflow.access import Actor
from workflow.calendar import local_date
from workflow.canonical import canonical_json, sha256_hex
from workflow.compliance import ComplianceReport
from workflow.compliance.closing import closing_in, report_start
from workflow.compliance.responsiveness import with_charged
from workflow.errors import NotFound
from workflow.models import (
    PeriodAmendment,
    PeriodDispute,
    PeriodException,
    ReportingPeriod,
    Task,
)
from workflow.queries.agreements import visible_agreement
from workflow.queries.common import Person, Slice, View, after_date_and_id, page_of, people
from workflow.queries.compliance import agreement_compliance_report
from workflow.queries.corrections import CorrectionView, period_corrections

_REPORT = TypeAdapter(ComplianceReport)


def period_report(
    session: Session, agreement_id: int, first_day: date, last_day: date, *, now: datetime
) -> ComplianceReport:
    """The report of the windows closing in the period (the whole quarter seen, if one does)."""
    report = agreement_compliance_report(
        session, None, agreement_id, report_start(first_day), last_day, now=now
    )
    closing = closing_in(report, first_day, last_day)
    if report_start(first_day) == first_day:
        return closing
    # Responsiveness is about the period itself, not the quarter read for its windows.
    own = agreement_compliance_report(session, None, agreement_id, first_day, last_day, now=now)
    return replace(closing, responsiveness=with_charged(own.responsiveness, closing.totals.charged))


TREND_MONTHS = 6


def trend_report(
    session: Session, agreement_id: int, last_day: date, *, now: datetime
) -> ComplianceReport:
    """The TREND_MONTHS months up to `last_day`, as recorded now: a period's report holds one
    window per metric, too few for a trend chart."""
    first = last_day.replace(day=1)
    for _ in range(TREND_MONTHS - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    return agreement_compliance_report(session, None, agreement_id, first, last_day, now=now)


def submitted_late(period: ReportingPeriod) -> bool:
    """Whether the first round came after the reporting day (in the business time zone)."""
    first = period.first_submitted_at
    return first is not None and local_date(first) > period.due_on


def results_of(report: ComplianceReport) -> dict[str, Any]:
    """The report as stored with a submission: plain JSON, the form its hash is taken of."""
    results: dict[str, Any] = _REPORT.dump_python(report, mode="json")
    return results


def stored_report(results: dict[str, Any]) -> ComplianceReport:
    """A stored submission read back as the report it was made from."""
    return _REPORT.validate_python(results)


def results_hash(results: dict[str, Any]) -> str:
    return sha256_hex("accord.period.v1", canonical_json(results))


class FinalReportData(BaseModel):
    """What a final (or amended) report's email shows, as data for its outbox row: the period's
    report, and the months up to it as recorded when the report was made (the trend its charts
    draw, which later data must not change). The email's HTML is rendered when it is sent."""

    model_config = ConfigDict(frozen=True)

    report: ComplianceReport
    trend: ComplianceReport | None = None

    def payload(self) -> dict[str, Any]:
        """The payload fields: plain JSON, read back with `model_validate`."""
        fields: dict[str, Any] = self.model_dump(mode="json")
        return fields


class DisputeView(View):
    round: int
    metric: str
    reason: str
    raised_by: Person | None
    raised_at: datetime
    answer: str | None
    answered_at: datetime | None


class AmendmentView(View):
    number: int
    reason: str
    content_hash: str
    created_by: Person | None
    created_at: datetime
    results: dict[str, Any] | None = None


class ExceptionView(View):
    """A metric accepted "with exceptions": open until a service review closes it."""

    metric: str
    reason: str
    raised_by: Person | None
    raised_at: datetime
    state: str
    closed_by_review_id: int | None
    closed_at: datetime | None


class ResultChange(View):
    """One disputed metric's window in the round before the newest and in the newest."""

    metric: str
    window: str
    old_status: str | None
    old_actual: float | None
    new_status: str | None
    new_actual: float | None


class PeriodTaskView(View):
    id: int
    kind: str
    title: str
    side: str
    role: str
    state: str
    due_on: date
    assignee: Person | None
    outcome: str | None


class PeriodView(View):
    agreement_id: int
    period: str
    kind: str
    first_day: date
    last_day: date
    state: str
    due_on: date
    round: int
    submitted_at: datetime | None
    submitted_by: Person | None
    first_submitted_at: datetime | None
    late: bool  # the first round came after the reporting day
    results_hash: str | None
    final_hash: str | None
    finalized_at: datetime | None
    amendments: int
    next_events: list[str]
    open_disputes: int


class PeriodDetail(PeriodView):
    results: dict[str, Any] | None
    dispute_rounds: int  # since the dispute began, or the Sponsors last sent it back
    escalations: int
    disputes: list[DisputeView]
    # Per metric disputed in the round before the newest: what the resubmission changed.
    resubmission_changes: list[ResultChange]
    exceptions: list[ExceptionView]
    corrections: list[CorrectionView]
    amendment_history: list[AmendmentView]
    tasks: list[PeriodTaskView]


def list_periods(
    session: Session,
    actor: Actor,
    agreement_id: int,
    *,
    limit: int,
    after: list[Any] | None = None,
) -> Slice[PeriodView]:
    """The agreement's periods, newest first (by first day, then id), a page at a time."""
    visible_agreement(session, actor, agreement_id)
    query = select(ReportingPeriod).where(ReportingPeriod.agreement_id == agreement_id)
    position = after_date_and_id(after)
    if position is not None:
        first_day, period_id = position
        query = query.where(
            or_(
                col(ReportingPeriod.first_day) < first_day,
                (col(ReportingPeriod.first_day) == first_day)
                & (col(ReportingPeriod.id) < period_id),
            )
        )
    query = query.order_by(col(ReportingPeriod.first_day).desc(), col(ReportingPeriod.id).desc())
    found = list(session.exec(query.limit(limit + 1)).all())
    rows, next_after = page_of(found, limit, lambda r: [r.first_day.isoformat(), r.id])
    open_disputes = _open_dispute_counts(session, rows)
    who = people(session, (r.submitted_by_id for r in rows))
    views = [_view(r, who, open_disputes.get(r.id or 0, 0)) for r in rows]
    return Slice(views, next_after)


def period_detail(session: Session, actor: Actor, agreement_id: int, label: str) -> PeriodDetail:
    visible_agreement(session, actor, agreement_id)
    row = period_row(session, agreement_id, label)
    disputes = list(
        session.exec(
            select(PeriodDispute)
            .where(PeriodDispute.period_id == row.id)
            .order_by(col(PeriodDispute.id))
        ).all()
    )
    amendments = list(
        session.exec(
            select(PeriodAmendment)
            .where(PeriodAmendment.period_id == row.id)
            .order_by(col(PeriodAmendment.number))
        ).all()
    )
    tasks = list(
        session.exec(select(Task).where(Task.period_id == row.id).order_by(col(Task.id))).all()
    )
    exceptions = list(
        session.exec(
            select(PeriodException)
            .where(PeriodException.period_id == row.id)
            .order_by(col(PeriodException.id))
        ).all()
    )
    who = people(
        session,
        [
            row.submitted_by_id,
            *(e.raised_by_id for e in exceptions),
            *(d.raised_by_id for d in disputes),
            *(a.created_by_id for a in amendments),
            *(t.assignee_id for t in tasks),
        ],
    )
    base = _view(row, who, sum(1 for d in disputes if d.round == row.round and d.answer is None))
    return PeriodDetail(
        **base.model_dump(),
        results=row.results,
        dispute_rounds=row.dispute_rounds,
        escalations=row.escalations,
        disputes=[_dispute_view(d, who) for d in disputes],
        resubmission_changes=resubmission_changes(row, disputes),
        exceptions=[_exception_view(e, who) for e in exceptions],
        corrections=period_corrections(session, agreement_id, row.first_day, row.last_day),
        amendment_history=[_amendment_view(a, who) for a in amendments],
        tasks=[_task_view(t, who) for t in tasks],
    )


def resubmission_changes(row: ReportingPeriod, disputes: list[PeriodDispute]) -> list[ResultChange]:
    """Old → new of each metric disputed in the round the newest one answers."""
    if row.round < 2 or row.previous_results is None:
        return []
    disputed = dict.fromkeys(d.metric_key for d in disputes if d.round == row.round - 1)
    old, new = _cells(row.previous_results), _cells(row.results)
    changes = []
    for metric in disputed:
        windows = dict.fromkeys(
            [w for (m, w) in old if m == metric] + [w for (m, w) in new if m == metric]
        )
        for window in windows:
            before, after = old.get((metric, window), {}), new.get((metric, window), {})
            changes.append(
                ResultChange(
                    metric=metric,
                    window=window,
                    old_status=before.get("status"),
                    old_actual=before.get("actual"),
                    new_status=after.get("status"),
                    new_actual=after.get("actual"),
                )
            )
    return changes


def _cells(results: dict[str, Any] | None) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (metric["key"], cell["window"]): cell
        for metric in (results or {}).get("metrics", [])
        for cell in metric.get("windows", [])
    }


def _exception_view(exception: PeriodException, who: dict[int, Person]) -> ExceptionView:
    return ExceptionView(
        metric=exception.metric_key,
        reason=exception.reason,
        raised_by=who.get(exception.raised_by_id or 0),
        raised_at=exception.raised_at,
        state=exception.state,
        closed_by_review_id=exception.closed_by_review_id,
        closed_at=exception.closed_at,
    )


def _dispute_view(dispute: PeriodDispute, who: dict[int, Person]) -> DisputeView:
    return DisputeView(
        round=dispute.round,
        metric=dispute.metric_key,
        reason=dispute.reason,
        raised_by=who.get(dispute.raised_by_id or 0),
        raised_at=dispute.raised_at,
        answer=dispute.answer,
        answered_at=dispute.answered_at,
    )


def _amendment_view(amendment: PeriodAmendment, who: dict[int, Person]) -> AmendmentView:
    return AmendmentView(
        number=amendment.number,
        reason=amendment.reason,
        content_hash=amendment.content_hash,
        created_by=who.get(amendment.created_by_id or 0),
        created_at=amendment.created_at,
        results=amendment.results,
    )


def _task_view(task: Task, who: dict[int, Person]) -> PeriodTaskView:
    return PeriodTaskView(
        id=task.id or 0,
        kind=task.kind,
        title=task.title,
        side=task.side,
        role=task.role,
        state=task.state,
        due_on=task.due_on,
        assignee=who.get(task.assignee_id or 0),
        outcome=task.outcome,
    )


def period_row(session: Session, agreement_id: int, label: str) -> ReportingPeriod:
    row = session.exec(
        select(ReportingPeriod).where(
            ReportingPeriod.agreement_id == agreement_id, ReportingPeriod.period == label
        )
    ).first()
    if row is None:
        raise NotFound(f"no reporting period {label!r} (periods open when they end)")
    return row


def _open_dispute_counts(session: Session, rows: list[ReportingPeriod]) -> dict[int, int]:
    disputed = {r.id: r.round for r in rows if r.state == "disputed" and r.id is not None}
    if not disputed:
        return {}
    counts: dict[int, int] = {}
    for period_id, round_ in session.exec(
        select(PeriodDispute.period_id, PeriodDispute.round).where(
            col(PeriodDispute.period_id).in_(disputed), col(PeriodDispute.answer).is_(None)
        )
    ).all():
        if disputed.get(period_id) == round_:
            counts[period_id] = counts.get(period_id, 0) + 1
    return counts


def _view(row: ReportingPeriod, who: dict[int, Person], open_disputes: int) -> PeriodView:
    return PeriodView(
        agreement_id=row.agreement_id,
        period=row.period,
        kind=row.kind,
        first_day=row.first_day,
        last_day=row.last_day,
        state=row.state,
        due_on=row.due_on,
        round=row.round,
        submitted_at=row.submitted_at,
        submitted_by=who.get(row.submitted_by_id or 0),
        first_submitted_at=row.first_submitted_at,
        late=submitted_late(row),
        results_hash=row.results_hash,
        final_hash=row.final_hash,
        finalized_at=row.finalized_at,
        amendments=row.amendments,
        # What people may fire; the automatic ones (escalation, the Sponsors' decision) follow.
        next_events=[
            t.event for t in REPORTING.events_from(row.state) if t.fired_by is not FiredBy.SYSTEM
        ],
        open_disputes=open_disputes,
    )
