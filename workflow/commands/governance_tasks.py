"""Opening the governance calendar's work for one version, under the agreement lock.

`workflow.commands.calendar_jobs` decides from unlocked reads what may be due; here each item
is re-checked under the lock (a `CalendarSlot` or `ServiceReview` row is the proof it was
opened, the outbox key the proof a renewal email went out) and opened in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from states import LIFECYCLE, Role, Side, TaskTemplate, VersionState
from workflow.command import command
from workflow.governance_dates import AnnualSlot, quarter_label, quarter_start
from workflow.models import AgreementVersion, CalendarSlot, ServiceReview, Task
from workflow.outbox import insert_once, message_row
from workflow.permissions import lock_agreement
from workflow.subjects.version import VersionSubject, agreement_payload, announce_tasks
from workflow.transaction import flush

RENEWAL_TOPIC = "agreement.renewal_upcoming"
RENEWAL_ACTION = "agreement.renewal_upcoming"
OPENED_ACTION = {
    "annual_review": "governance.annual_review_opened",
    "renewal_decision": "governance.renewal_decision_opened",
    "service_review": "governance.service_review_opened",
}
RENEWAL_RECIPIENTS: dict[str, Any] = {
    "roles": [
        {"side": side.value, "role": role.value}
        for side in Side
        for role in (Role.BUSINESS_OWNER, Role.PROGRAM_MANAGER)
    ]
}


def renewal_key(agreement_id: int, period_end: date | None, days: int | None) -> str:
    return f"renewal:{agreement_id}:{period_end}:{days}"


def reviewed_quarter(quarter: date, first_activated_on: date) -> tuple[str, date, date]:
    """(`2026-Q4`, first day, last day) of what the review opened on `quarter` looks back on:
    the calendar quarter before it, from the first activation if that came later."""
    previous = quarter_start(quarter - timedelta(days=1))
    label = f"{previous.year}-Q{(previous.month - 1) // 3 + 1}"
    return label, max(previous, first_activated_on), quarter - timedelta(days=1)


@dataclass(frozen=True)
class CalendarAction:
    # expired | renewal_reminder | annual_review | renewal_decision | service_review |
    # dispute_escalated
    kind: str
    agreement_key: str
    version_number: int
    detail: str
    task_ids: tuple[int, ...] = ()


@dataclass
class CalendarWork:
    """What one version may need today, as decided from the unlocked read."""

    agreement_id: int
    version_id: int
    agreement_key: str
    number: int
    period_end: date | None
    annual: AnnualSlot | None = None
    renewal_due: date | None = None  # the decision's due date, when it should open now
    renewal_step: int | None = None  # days before the end of the email due now
    quarter: date | None = None  # the first day of the quarter whose review should open
    first_activated_on: date | None = None

    @property
    def due_step(self) -> bool:
        return self.renewal_step is not None

    @property
    def anything(self) -> bool:
        return any(
            x is not None for x in (self.annual, self.renewal_due, self.renewal_step, self.quarter)
        )


def apply_calendar_work(
    session: Session, work: CalendarWork, local_now: datetime
) -> list[CalendarAction]:
    """One version's governance work: one transaction, one commit."""
    with command(session) as tx:
        agreement = lock_agreement(session, work.agreement_id, None)
        version = session.exec(
            select(AgreementVersion)
            .where(AgreementVersion.id == work.version_id)
            .execution_options(populate_existing=True)
        ).first()
        if version is None or version.state != VersionState.ACTIVE:
            tx.rollback()
            return []
        ctx = VersionSubject(tx, agreement, version, now=local_now)
        done: list[CalendarAction] = []
        if work.annual is not None:
            done.extend(_annual_review(ctx, work, work.annual))
        if work.renewal_due is not None:
            done.extend(_renewal_decision(ctx, work, work.renewal_due))
        if work.renewal_step is not None:
            done.extend(_renewal_reminder(ctx, work, work.renewal_step))
        if work.quarter is not None and work.first_activated_on is not None:
            done.extend(_service_review(ctx, work, work.quarter, work.first_activated_on))
    return done


def _claim(ctx: VersionSubject, kind: str, slot: str, due_on: date) -> bool:
    """Record that `kind` opened for `slot`; False when it already had (read under the lock)."""
    session = ctx.session
    taken = session.exec(
        select(CalendarSlot.id).where(
            CalendarSlot.agreement_id == ctx.agreement.id,
            CalendarSlot.kind == kind,
            CalendarSlot.slot == slot,
        )
    ).first()
    if taken is not None:
        return False
    session.add(
        CalendarSlot(
            agreement_id=ctx.agreement.id or 0,
            kind=kind,
            slot=slot,
            due_on=due_on,
            created_at=ctx.now,
        )
    )
    return True


def open_governance_tasks(
    ctx: VersionSubject,
    templates: tuple[TaskTemplate, ...],
    *,
    detail: str,
    due_on: date | None = None,
    what: str,
    since: date,
    **links: Any,
) -> list[Task]:
    """Open one task per template on the version in force, announce and audit each."""
    tasks = [
        ctx.new_task(
            template,
            Side(template.side.value),
            title=template.title,
            detail=detail,
            now=ctx.now,
            due_on=due_on,
            version_id=ctx.version.id,
            cycle=ctx.version.cycle,
            **links,
        )
        for template in templates
    ]
    ctx.session.add_all(tasks)
    ctx.add_tasks(tasks)
    flush(ctx.session)
    announce_tasks(ctx, tasks, ctx.now)
    for task in tasks:
        ctx.tx.audit(
            action=OPENED_ACTION[task.kind],
            now=ctx.now,
            agreement_id=ctx.agreement.id,
            version_id=ctx.version.id,
            data={
                "task_id": task.id,
                "kind": task.kind,
                "side": task.side,
                "role": task.role,
                "assignee_id": task.assignee_id,
                "due_on": task.due_on.isoformat(),
                "period": what,
                "since": since.isoformat(),
                **links,
            },
        )
    return tasks


def _annual_review(
    ctx: VersionSubject, work: CalendarWork, slot: AnnualSlot
) -> list[CalendarAction]:
    if not _claim(ctx, "annual_review", slot.key, slot.due_on):
        return []
    template = LIFECYCLE.governance.annual_review
    assert template is not None
    what = f"year {slot.number} ({slot.first_day} to {slot.last_day}), due {slot.due_on}"
    tasks = open_governance_tasks(
        ctx,
        (template,),
        detail=f"Year {slot.number} of the period of performance, {slot.first_day} to "
        f"{slot.last_day}: review the Provider Agreement, the SLA and the LCCE for needed "
        f"updates (M3: at least yearly), by {slot.due_on}.",
        due_on=slot.due_on,
        what=what,
        since=slot.first_day,
    )
    return [_action("annual_review", work, what, tasks)]


def _renewal_decision(
    ctx: VersionSubject, work: CalendarWork, due_on: date
) -> list[CalendarAction]:
    assert work.period_end is not None
    end = work.period_end
    if not _claim(ctx, "renewal_decision", end.isoformat(), due_on):
        return []
    what = f"period ends {end}, decide by {due_on}"
    tasks = open_governance_tasks(
        ctx,
        LIFECYCLE.governance.renewal_decisions,
        detail=f"The period of performance ends on {end}. Decide with the other side, by "
        f"{due_on}, how the agreement continues: renew by revision (a new period of "
        "performance through review and approval), extend the end date (both Business "
        "Owners approve), or let it expire.",
        due_on=due_on,
        what=what,
        since=ctx.now.date(),
    )
    return [_action("renewal_decision", work, what, tasks)]


def _renewal_reminder(ctx: VersionSubject, work: CalendarWork, days: int) -> list[CalendarAction]:
    """An early reminder of the open renewal decision; nothing once it has been decided."""
    assert work.period_end is not None
    decisions = ctx.open_tasks("renewal_decision")
    if not decisions:
        return []
    remaining = (work.period_end - ctx.now.date()).days
    key = renewal_key(work.agreement_id, work.period_end, days)
    row = message_row(
        topic=RENEWAL_TOPIC,
        dedupe_key=key,
        now=ctx.now,
        agreement_id=work.agreement_id,
        recipients=RENEWAL_RECIPIENTS,
        payload={
            **agreement_payload(ctx),
            "period_end": work.period_end.isoformat(),
            "days_before": days,
            "days_remaining": remaining,
            "decision_due_on": min(t.due_on for t in decisions).isoformat(),
        },
    )
    if not insert_once(ctx.session, [row]):
        return []
    ctx.tx.audit(
        action=RENEWAL_ACTION,
        now=ctx.now,
        agreement_id=work.agreement_id,
        version_id=work.version_id,
        data={
            "period_end": work.period_end.isoformat(),
            "days_before": days,
            "days_remaining": remaining,
            "outbox_key": key,
            "decision_tasks": [t.id for t in decisions],
        },
    )
    detail = f"{days} days before {work.period_end} ({remaining} left)"
    return [CalendarAction("renewal_reminder", work.agreement_key, work.number, detail)]


def _service_review(
    ctx: VersionSubject, work: CalendarWork, quarter: date, first_activated_on: date
) -> list[CalendarAction]:
    label, first_day, last_day = reviewed_quarter(quarter, first_activated_on)
    session = ctx.session
    exists = session.exec(
        select(ServiceReview.id).where(
            ServiceReview.agreement_id == ctx.agreement.id, ServiceReview.quarter == label
        )
    ).first()
    if exists is not None:
        return []
    review = ServiceReview(
        agreement_id=ctx.agreement.id or 0,
        quarter=label,
        first_day=first_day,
        last_day=last_day,
        created_at=ctx.now,
    )
    session.add(review)
    flush(session)
    what = quarter_label(quarter_start(last_day))
    tasks = open_governance_tasks(
        ctx,
        LIFECYCLE.governance.service_reviews,
        detail=f"Hold the joint review of the service delivered in {what}, {first_day} to "
        f"{last_day}, with the other side, and record its minutes.",
        what=what,
        since=quarter,
        service_review_id=review.id,
    )
    return [_action("service_review", work, what, tasks)]


def _action(kind: str, work: CalendarWork, what: str, tasks: list[Task]) -> CalendarAction:
    ids = tuple(t.id for t in tasks if t.id is not None)
    return CalendarAction(kind, work.agreement_key, work.number, what, ids)
