"""Time-driven lifecycle and the governance calendar, each exactly once, as functions of `now`.

Days are local to the business time zone (`workflow.calendar`), as for reminders.

- **Expiry.** A period of performance ends with its last day: an active version whose
  `period_end` is before today (local) is expired through the spec's `expire` transition
  (`engine.run`: open tasks cancelled, `version.expire` audited, `version.expired`
  queued). Exactly once because the version's state is the guard, re-read under the agreement
  lock, as every command does.
- **Renewal reminders** (`LIFECYCLE.governance.renewal_days_before`: 90, 60, 30 calendar days
  before `period_end`): outbox `agreement.renewal_upcoming` to both Business Owners and both
  Program Managers, dedupe key `renewal:{version}:{days}`, audited as
  `agreement.renewal_upcoming`. As with task reminders, a late run sends only the newest due
  step, and none dated before the version was activated.
- **Annual review**: on each anniversary of activation, a task for the customer's Business
  Owner (kind `annual_review`). **Quarterly service review**: at the start of each calendar
  quarter after activation (1 Jan, 1 Apr, 1 Jul, 1 Oct: the US fiscal quarters), a task for each
  side's Program Manager (kind `service_review`), reviewing the quarter just ended. Tasks open
  through `effects.open_tasks`, so they are announced as `task.assigned` (one message per task,
  as for every other task) and get reminders and escalations like any task; each opening is
  audited as `governance.annual_review_opened` / `governance.service_review_opened`. Exactly once
  per version and year (quarter): under the agreement lock, a task of that kind (and side)
  created on or after the start of the anniversary (quarter) means it is done. A late run opens
  only the newest one.

Each version's work is one transaction (`begin_write`, agreement row lock on PostgreSQL, one
commit); candidates are read first without locks and skipped when nothing is due, so a run
with nothing to do writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from states import LIFECYCLE, Role, Side, TaskTemplate, VersionState
from workflow.calendar import BUSINESS_TIME_ZONE, local_date, start_of_day, time_zone
from workflow.command import command
from workflow.engine import run
from workflow.errors import NotAllowedNow
from workflow.governance_dates import (
    newest_anniversary,
    newest_quarter,
    newest_renewal,
    quarter_label,
    quarter_start,
)
from workflow.models import Agreement, AgreementVersion, Task
from workflow.outbox import existing_keys, insert_once, message_row
from workflow.permissions import lock_agreement
from workflow.subjects.version import VersionSubject, agreement_payload, open_tasks

RENEWAL_TOPIC = "agreement.renewal_upcoming"
RENEWAL_ACTION = "agreement.renewal_upcoming"
OPENED_ACTION = {
    "annual_review": "governance.annual_review_opened",
    "service_review": "governance.service_review_opened",
}
RENEWAL_RECIPIENTS: dict[str, Any] = {
    "roles": [
        {"side": side.value, "role": role.value}
        for side in Side
        for role in (Role.BUSINESS_OWNER, Role.PROGRAM_MANAGER)
    ]
}

_T: sa.Table = Task.__table__  # type: ignore[attr-defined]
_A: sa.Table = Agreement.__table__  # type: ignore[attr-defined]
_V: sa.Table = AgreementVersion.__table__  # type: ignore[attr-defined]

_ACTIVE = (
    sa.select(
        _V.c.id,
        _V.c.agreement_id,
        _A.c.key,
        _V.c.number,
        _V.c.terms["period_end"].as_string().label("period_end"),
        _V.c.activated_at,
    )
    .select_from(_V.join(_A, _A.c.id == _V.c.agreement_id))
    .where(_V.c.state == VersionState.ACTIVE)
    .order_by(_V.c.id)
)

_GOVERNANCE_TASKS = (
    sa.select(_T.c.version_id, _T.c.kind, _T.c.side, sa.func.max(_T.c.created_at))
    .where(
        _T.c.version_id.in_(sa.bindparam("versions", expanding=True)),
        _T.c.kind.in_(("annual_review", "service_review")),
    )
    .group_by(_T.c.version_id, _T.c.kind, _T.c.side)
)


def renewal_key(version_id: int, days: int) -> str:
    return f"renewal:{version_id}:{days}"


# ---- the report -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarAction:
    kind: str  # expired | renewal_reminder | annual_review | service_review
    agreement_key: str
    version_number: int
    detail: str
    task_ids: tuple[int, ...] = ()


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
    period_end: date | None
    activated_on: date | None


@dataclass
class _Work:
    """What one version needs today, as decided from the unlocked read."""

    candidate: _Candidate
    renewal: int | None = None
    reviews: list[tuple[TaskTemplate, date, str, str]] = field(default_factory=list)
    # (template, since: the day the series' current period began, action detail, task detail)


# ---- running it -----------------------------------------------------------------------------


def run_calendar(
    session: Session, *, now: datetime, time_zone_name: str = BUSINESS_TIME_ZONE
) -> CalendarReport:
    """Expire what ended, then send renewal reminders and open governance tasks due at `now`.

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
        _apply(session, work, local_now, time_zone_name, report)
    session.rollback()
    return report


def _active_versions(session: Session, zone: str) -> list[_Candidate]:
    rows = session.connection().execute(_ACTIVE).all()
    return [
        _Candidate(
            version_id=row.id,
            agreement_id=row.agreement_id,
            agreement_key=row.key,
            number=row.number,
            period_end=date.fromisoformat(row.period_end) if row.period_end else None,
            activated_on=local_date(row.activated_at, zone) if row.activated_at else None,
        )
        for row in rows
    ]


def _expire(session: Session, c: _Candidate, local_now: datetime, report: CalendarReport) -> None:
    with command(session) as tx:
        agreement = lock_agreement(session, c.agreement_id, None)
        version = _reload(session, c.version_id)
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


def _reload(session: Session, version_id: int) -> AgreementVersion | None:
    """The version as committed, read under the lock the caller holds."""
    return session.exec(
        select(AgreementVersion)
        .where(AgreementVersion.id == version_id)
        .execution_options(populate_existing=True)
    ).first()


def _plan(session: Session, candidates: list[_Candidate], today: date, zone: str) -> list[_Work]:
    """What each version still needs today, from unlocked reads (re-checked under the lock)."""
    governance = LIFECYCLE.governance
    by_version: dict[int, _Work] = {}
    for c in candidates:
        if c.activated_on is None:
            continue
        work = _Work(c)
        if c.period_end is not None:
            work.renewal = newest_renewal(
                c.period_end, c.activated_on, today, governance.renewal_days_before
            )
        anniversary = newest_anniversary(c.activated_on, today)
        if governance.annual_review is not None and anniversary is not None:
            n, day = anniversary
            work.reviews.append(
                (
                    governance.annual_review,
                    day,
                    f"year {n} (anniversary {day})",
                    f"Year {n} after activation on {c.activated_on}: review the Provider "
                    "Agreement, the SLA and the LCCE for needed updates (M3: at least yearly).",
                )
            )
        quarter = newest_quarter(c.activated_on, today)
        if quarter is not None:
            previous = quarter_start(quarter - timedelta(days=1))
            reviewed_from = max(previous, c.activated_on)
            label = quarter_label(previous)
            work.reviews.extend(
                (
                    tpl,
                    quarter,
                    f"{label}, {tpl.side.value}",
                    f"Review the service delivered in {label}, {reviewed_from} to "
                    f"{quarter - timedelta(days=1)}, with the other side.",
                )
                for tpl in governance.service_reviews
            )
        if work.renewal is not None or work.reviews:
            by_version[c.version_id] = work
    if not by_version:
        return []
    sent = existing_keys(
        session,
        (renewal_key(v, w.renewal) for v, w in by_version.items() if w.renewal is not None),
    )
    latest = _latest_governance_tasks(session, by_version)
    plans = []
    for version_id, work in by_version.items():
        if work.renewal is not None and renewal_key(version_id, work.renewal) in sent:
            work.renewal = None
        work.reviews = [
            r for r in work.reviews if not _opened_since(latest, version_id, r[0], r[1], zone)
        ]
        if work.renewal is not None or work.reviews:
            plans.append(work)
    return plans


def _latest_governance_tasks(
    session: Session, versions: Iterable[int]
) -> dict[tuple[int, str, str], datetime]:
    rows = session.connection().execute(_GOVERNANCE_TASKS, {"versions": sorted(versions)})
    return {(v, kind, side): latest for v, kind, side, latest in rows}


def _opened_since(
    latest: dict[tuple[int, str, str], datetime],
    version_id: int,
    template: TaskTemplate,
    since: date,
    zone: str,
) -> bool:
    """Whether a task of the template's kind and side was opened on or after `since` began."""
    opened = latest.get((version_id, template.kind, template.side.value))
    return opened is not None and _aware(opened) >= start_of_day(since, zone)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _apply(
    session: Session, work: _Work, local_now: datetime, zone: str, report: CalendarReport
) -> None:
    """One version's renewal reminder and review tasks: one transaction, one commit."""
    c = work.candidate
    with command(session) as tx:
        agreement = lock_agreement(session, c.agreement_id, None)
        version = _reload(session, c.version_id)
        if version is None or version.state != VersionState.ACTIVE:
            tx.rollback()
            return
        ctx = VersionSubject(tx, agreement, version, now=local_now)
        done: list[CalendarAction] = []
        if work.renewal is not None:
            done.extend(_renewal(ctx, c, work.renewal, local_now))
        # Re-checked under the lock: tasks opened since the unlocked read count.
        latest: dict[tuple[int, str, str], datetime] = {}
        for task in ctx.tasks:
            key = (c.version_id, task.kind, task.side)
            if key not in latest or _aware(task.created_at) > latest[key]:
                latest[key] = _aware(task.created_at)
        for template, since, what, detail in work.reviews:
            if _opened_since(latest, c.version_id, template, since, zone):
                continue
            (task,) = open_tasks(ctx, [(template, detail)], grant=None, now=local_now)
            assert task.id is not None
            tx.audit(
                action=OPENED_ACTION[template.kind],
                now=local_now,
                agreement_id=c.agreement_id,
                version_id=c.version_id,
                data={
                    "task_id": task.id,
                    "kind": task.kind,
                    "side": task.side,
                    "role": task.role,
                    "assignee_id": task.assignee_id,
                    "due_on": task.due_on.isoformat(),
                    "period": what,
                    "since": since.isoformat(),
                },
            )
            done.append(CalendarAction(template.kind, c.agreement_key, c.number, what, (task.id,)))
    report.actions.extend(done)


def _renewal(
    ctx: VersionSubject, c: _Candidate, days: int, local_now: datetime
) -> list[CalendarAction]:
    assert c.period_end is not None
    remaining = (c.period_end - local_now.date()).days
    key = renewal_key(c.version_id, days)
    payload = {
        **agreement_payload(ctx),
        "period_end": c.period_end.isoformat(),
        "days_before": days,
        "days_remaining": remaining,
    }
    row = message_row(
        topic=RENEWAL_TOPIC,
        dedupe_key=key,
        now=local_now,
        agreement_id=c.agreement_id,
        recipients=RENEWAL_RECIPIENTS,
        payload=payload,
    )
    if not insert_once(ctx.session, [row]):
        return []
    ctx.tx.audit(
        action=RENEWAL_ACTION,
        now=local_now,
        agreement_id=c.agreement_id,
        version_id=c.version_id,
        data={
            "period_end": c.period_end.isoformat(),
            "days_before": days,
            "days_remaining": remaining,
            "outbox_key": key,
        },
    )
    return [
        CalendarAction(
            "renewal_reminder",
            c.agreement_key,
            c.number,
            f"{days} days before {c.period_end} ({remaining} left)",
        )
    ]
