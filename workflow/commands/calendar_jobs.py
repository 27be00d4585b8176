"""Time-driven lifecycle and the governance calendar, each exactly once, as functions of `now`.

Days are local to the business time zone (`workflow.calendar`), as for reminders. Everything
is anchored on the agreement (its period of performance, its first activation), never on the
activation of the version in force, so a revision moves nothing (`states.GovernanceCalendar`).

- **Expiry.** A period of performance ends with its last day: an active version whose
  `period_end` is before today (local) is expired through the spec's `expire` transition.
- **Annual review** (customer's Business Owner, kind `annual_review`): due
  `Agreement.annual_review_days_before_end` days (default 60) before the end of each 12 months
  of the period of performance, the last 12 months ending with the period itself, so a
  12-month agreement is reviewed two months before it expires; it opens 30 days before it is
  due. Once per 12 months (`CalendarSlot`, keyed by the first day of those 12 months).
- **Renewal decision** (both Program Managers, kind `renewal_decision`, outcomes
  `renew_by_revision` / `extend` / `let_expire`): opens 120 days before the end, due 30 days
  before it. Once per end date (`CalendarSlot` keyed by it: an extension's new end gets its own
  decision). The renewal emails (`agreement.renewal_upcoming`, 90 and 60 days before the end)
  are its early reminders: sent only while a decision is open, never for a step dated before
  it opened, once per agreement, end date and step; from its due date on, the task's own
  reminders and escalation take over, so no step is announced twice.
- **Dispute escalation** (`workflow.commands.dispute_escalations`): a dispute whose
  `Agreement.dispute_escalation_business_days` (default 15, customer calendar) have passed
  since its first round goes to both Executive Sponsors (`period.escalate`).
- **Quarterly service review** (`workflow.commands.governance_tasks`): one joint review per
  calendar quarter after the first activation (`ServiceReview`), a task for each Program
  Manager, done by recording the minutes.

Tasks open through the version subject, so they are announced as `task.assigned` and get
reminders and escalations like any task; each opening is audited
(`governance.annual_review_opened`, `governance.renewal_decision_opened`,
`governance.service_review_opened`). A late run opens only the newest of each.

Each version's work is one transaction (`begin_write`, agreement row lock on PostgreSQL, one
commit); candidates are read first without locks and skipped when nothing is due, so a run
with nothing to do writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from states import LIFECYCLE, VersionState
from workflow.calendar import BUSINESS_TIME_ZONE, local_date, time_zone
from workflow.command import command
from workflow.commands.dispute_escalations import escalate_overdue_disputes
from workflow.commands.governance_tasks import (
    CalendarAction,
    CalendarWork,
    apply_calendar_work,
    renewal_key,
    reviewed_quarter,
)
from workflow.engine import run
from workflow.errors import NotAllowedNow
from workflow.governance_dates import (
    annual_slots,
    newest_annual_slot,
    newest_quarter,
    newest_renewal,
    renewal_decision_window,
)
from workflow.models import Agreement, AgreementVersion, CalendarSlot, ServiceReview
from workflow.outbox import existing_keys
from workflow.permissions import lock_agreement
from workflow.subjects.version import VersionSubject

__all__ = ["CalendarAction", "CalendarReport", "renewal_key", "run_calendar"]

_A: sa.Table = Agreement.__table__  # type: ignore[attr-defined]
_V: sa.Table = AgreementVersion.__table__  # type: ignore[attr-defined]
_SLOT: sa.Table = CalendarSlot.__table__  # type: ignore[attr-defined]
_REVIEW: sa.Table = ServiceReview.__table__  # type: ignore[attr-defined]

_FIRST_ACTIVATION = (
    sa.select(_V.c.agreement_id, sa.func.min(_V.c.activated_at).label("first_activated_at"))
    .group_by(_V.c.agreement_id)
    .subquery()
)

_ACTIVE = (
    sa.select(
        _V.c.id,
        _V.c.agreement_id,
        _A.c.key,
        _V.c.number,
        _V.c.terms["period_start"].as_string().label("period_start"),
        _V.c.terms["period_end"].as_string().label("period_end"),
        _A.c.annual_review_days_before_end,
        _FIRST_ACTIVATION.c.first_activated_at,
    )
    .select_from(
        _V.join(_A, _A.c.id == _V.c.agreement_id).join(
            _FIRST_ACTIVATION, _FIRST_ACTIVATION.c.agreement_id == _V.c.agreement_id
        )
    )
    .where(_V.c.state == VersionState.ACTIVE)
    .order_by(_V.c.id)
)

_SLOTS = sa.select(_SLOT.c.agreement_id, _SLOT.c.kind, _SLOT.c.slot, _SLOT.c.created_at).where(
    _SLOT.c.agreement_id.in_(sa.bindparam("agreements", expanding=True))
)
_REVIEWS = sa.select(_REVIEW.c.agreement_id, _REVIEW.c.quarter).where(
    _REVIEW.c.agreement_id.in_(sa.bindparam("agreements", expanding=True))
)


@dataclass
class CalendarReport:
    today: date
    versions_checked: int = 0
    actions: list[CalendarAction] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # due, but refused for now (with why)

    def of(self, kind: str) -> list[CalendarAction]:
        return [a for a in self.actions if a.kind == kind]


@dataclass(frozen=True)
class _Candidate:
    version_id: int
    agreement_id: int
    agreement_key: str
    number: int
    period_start: date | None
    period_end: date | None
    first_activated_on: date | None
    days_before_end: int


def run_calendar(
    session: Session, *, now: datetime, time_zone_name: str = BUSINESS_TIME_ZONE
) -> CalendarReport:
    """Expire what ended, then open the governance work due at `now` and send its reminders.

    One transaction per version with something to do. Needs a session without pending changes.
    """
    # In the business time zone, as effects and guards date things (`local_date`).
    local_now = _aware(now).astimezone(time_zone(time_zone_name))
    today = local_now.date()
    report = CalendarReport(today=today)
    candidates = _active_versions(session, time_zone_name)
    report.versions_checked = len(candidates)
    still_active = []
    for c in candidates:
        if c.period_end is not None and c.period_end < today:
            _expire(session, c, local_now, report)
        else:
            still_active.append(c)
    for work in _plan(session, still_active, today, time_zone_name):
        report.actions.extend(apply_calendar_work(session, work, local_now))
    report.actions.extend(
        CalendarAction("dispute_escalated", key, 0, f"period {period}")
        for key, period in escalate_overdue_disputes(session, now=local_now)
    )
    session.rollback()
    return report


def _day(value: Any) -> date | None:
    return date.fromisoformat(str(value)) if value else None


def _active_versions(session: Session, zone: str) -> list[_Candidate]:
    rows = session.connection().execute(_ACTIVE).all()
    return [
        _Candidate(
            version_id=row.id,
            agreement_id=row.agreement_id,
            agreement_key=row.key,
            number=row.number,
            period_start=_day(row.period_start),
            period_end=_day(row.period_end),
            first_activated_on=local_date(_aware(row.first_activated_at), zone)
            if row.first_activated_at
            else None,
            days_before_end=row.annual_review_days_before_end,
        )
        for row in rows
    ]


def _expire(session: Session, c: _Candidate, local_now: datetime, report: CalendarReport) -> None:
    with command(session) as tx:
        agreement = lock_agreement(session, c.agreement_id, None)
        version = reload_version(session, c.version_id)
        if version is None or version.state != VersionState.ACTIVE:
            tx.rollback()  # someone else expired, superseded or terminated it first
            return
        subject = VersionSubject(tx, agreement, version, now=local_now)
        try:
            run(subject, LIFECYCLE.transition("expire"), actor=None, grant=None, now=local_now)
        except NotAllowedNow as refusal:
            tx.rollback()
            report.waiting.append(f"{c.agreement_key} v{c.number}: {refusal.message}")
            return
    report.actions.append(
        CalendarAction("expired", c.agreement_key, c.number, f"period ended {c.period_end}")
    )


def reload_version(session: Session, version_id: int) -> AgreementVersion | None:
    """The version as committed, read under the lock the caller holds."""
    return session.exec(
        select(AgreementVersion)
        .where(AgreementVersion.id == version_id)
        .execution_options(populate_existing=True)
    ).first()


def _plan(
    session: Session, candidates: list[_Candidate], today: date, zone: str
) -> list[CalendarWork]:
    """What each version still needs today, from unlocked reads (re-checked under the lock)."""
    governance = LIFECYCLE.governance
    agreements = sorted({c.agreement_id for c in candidates if c.first_activated_on})
    if not agreements:
        return []
    connection = session.connection()
    slots = {
        (a, kind, slot): created
        for a, kind, slot, created in connection.execute(_SLOTS, {"agreements": agreements})
    }
    reviews = {(a, q) for a, q in connection.execute(_REVIEWS, {"agreements": agreements})}
    plans = []
    for c in candidates:
        if c.first_activated_on is None:
            continue
        work = CalendarWork(c.agreement_id, c.version_id, c.agreement_key, c.number, c.period_end)
        if c.period_start is not None and c.period_end is not None:
            slot = newest_annual_slot(
                annual_slots(
                    c.period_start,
                    c.period_end,
                    c.days_before_end,
                    governance.annual_review_opens_days_before_due,
                ),
                today,
            )
            if slot is not None and (c.agreement_id, "annual_review", slot.key) not in slots:
                work.annual = slot
        if c.period_end is not None:
            end = c.period_end.isoformat()
            opened = slots.get((c.agreement_id, "renewal_decision", end))
            if opened is None:
                work.renewal_due = renewal_decision_window(
                    c.period_end,
                    today,
                    governance.renewal_decision_days_before,
                    governance.renewal_decision_due_days_before,
                )
            since = today if opened is None else local_date(_aware(opened), zone)
            work.renewal_step = newest_renewal(
                c.period_end, since, today, governance.renewal_days_before
            )
        quarter = newest_quarter(c.first_activated_on, today)
        if quarter is not None and (c.agreement_id, quarter_key(quarter)) not in reviews:
            work.quarter = quarter
            work.first_activated_on = c.first_activated_on
        plans.append(work)
    sent = existing_keys(
        session,
        (renewal_key(w.agreement_id, w.period_end, w.renewal_step) for w in plans if w.due_step),
    )
    for w in plans:
        if w.due_step and renewal_key(w.agreement_id, w.period_end, w.renewal_step) in sent:
            w.renewal_step = None
    return [w for w in plans if w.anything]


def quarter_key(quarter_start: date) -> str:
    """`2026-Q4` for the quarter reviewed at the start of `quarter_start`'s quarter."""
    return reviewed_quarter(quarter_start, quarter_start)[0]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
