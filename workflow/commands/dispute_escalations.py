"""Disputes that went on too long: the business-day half of the escalation rule.

A dispute escalates to both Executive Sponsors after the agreement's number of rounds (checked
on the dispute itself, `states.REPORTING`'s `dispute` → `escalate`) or after its number of
business days (customer calendar) since the first round. The calendar job runs this once a
day: each period still disputed (or resubmitted and under review again) whose days have run
out is escalated through the spec's `escalate` transition, one transaction per period.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col

from states import REPORTING, PeriodState
from workflow.calendar import local_date
from workflow.command import command
from workflow.engine import run
from workflow.models import Agreement, ReportingPeriod
from workflow.subjects.period import lock_period

ESCALATE = REPORTING.transition("escalate")


def escalate_overdue_disputes(session: Session, *, now: datetime) -> list[tuple[str, str]]:
    """Escalate each dispute whose business days have run out; (agreement key, period) of
    each. Read first without locks: a business day is at least a calendar day, so a dispute
    younger than its count in calendar days is not even locked."""
    today = local_date(now)
    rows = session.execute(
        sa.select(
            col(ReportingPeriod.agreement_id),
            col(ReportingPeriod.id),
            col(ReportingPeriod.disputed_since),
            col(Agreement.key),
            col(Agreement.dispute_escalation_business_days),
        )
        .join(Agreement, col(Agreement.id) == ReportingPeriod.agreement_id)
        .where(
            col(ReportingPeriod.state).in_((PeriodState.DISPUTED, PeriodState.RESUBMITTED)),
            col(ReportingPeriod.disputed_since).is_not(None),
        )
        .order_by(col(ReportingPeriod.id))
    ).all()
    session.rollback()
    escalated = []
    for agreement_id, period_id, since, key, days in rows:
        if since is None or local_date(since) + timedelta(days=days) > today:
            continue
        with command(session) as tx:
            subject = lock_period(tx, agreement_id, None, now, period_id=period_id)
            if subject.state not in ESCALATE.sources or subject.failed_guards(ESCALATE.guards):
                tx.rollback()
                continue
            run(subject, ESCALATE, actor=None, grant=None, now=now)
            escalated.append((key, subject.period.period))
    return escalated
