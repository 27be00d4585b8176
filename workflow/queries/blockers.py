"""What an agreement waits for: open tasks, who holds them, and when they are chased."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from states import Role, Side, TaskState
from workflow import reminders
from workflow.access import Actor
from workflow.calendar import business_days_between, local_date
from workflow.models import (
    AgreementVersion,
    Delegation,
    Organization,
    StakeholderAssignment,
    Task,
)
from workflow.queries.agreements import visible_agreement
from workflow.queries.common import AgreementRef, Person, View, agreement_ref, people


class EscalationView(View):
    on: date
    role: Role
    business_days_overdue: int
    to: Person | None  # who holds that role on the task's side today


class Blocker(View):
    task_id: int
    kind: str
    title: str
    version_number: int | None
    side: Side
    role: Role
    holder: Person | None
    delegates: list[Person]  # colleagues the holder delegated to for today
    since: datetime
    due_on: date
    days_overdue: int
    business_days_overdue: int
    # On or after today: a reminder due today may not have gone out yet.
    next_reminder_on: date | None
    next_escalation: EscalationView | None


class Blockers(View):
    agreement: AgreementRef
    as_of: date
    tasks: list[Blocker]


def blockers(session: Session, actor: Actor, agreement_id: int, *, now: datetime) -> Blockers:
    agreement = visible_agreement(session, actor, agreement_id)
    today = local_date(now)
    tasks = list(
        session.exec(
            select(Task)
            .where(Task.agreement_id == agreement_id, Task.state == TaskState.OPEN)
            .order_by(col(Task.due_on), col(Task.id))
        ).all()
    )
    holders = {
        (Side(a.side), Role(a.role)): a.user_id
        for a in session.exec(
            select(StakeholderAssignment).where(StakeholderAssignment.agreement_id == agreement_id)
        )
    }
    delegates = _delegates(session, [t.assignee_id for t in tasks], today)
    lookup = _Lookup(
        today=today,
        calendars={side: _calendar(session, agreement.org_of(side)) for side in Side},
        holders=holders,
        delegates=delegates,
        numbers=dict(
            session.exec(
                select(AgreementVersion.id, AgreementVersion.number).where(
                    AgreementVersion.agreement_id == agreement_id
                )
            ).all()
        ),
        users=people(
            session,
            [t.assignee_id for t in tasks]
            + list(holders.values())
            + [d for ds in delegates.values() for d in ds],
        ),
    )
    return Blockers(
        agreement=agreement_ref(agreement),
        as_of=today,
        tasks=[_blocker(task, lookup) for task in tasks],
    )


@dataclass(frozen=True)
class _Lookup:
    """What every blocker of one agreement draws on, loaded once."""

    today: date
    calendars: dict[Side, str]
    holders: dict[tuple[Side, Role], int]
    delegates: dict[int, list[int]]
    numbers: dict[int | None, int]
    users: dict[int, Person]


def _blocker(task: Task, lookup: _Lookup) -> Blocker:
    side, today = Side(task.side), lookup.today
    calendar = lookup.calendars[side]
    reminder = reminders.next_reminder(task.due_on, today, calendar)
    escalation = reminders.next_escalation(
        task.due_on, today, calendar, [Role(r) for r in task.escalation_roles]
    )
    return Blocker(
        task_id=task.id or 0,
        kind=task.kind,
        title=task.title,
        version_number=lookup.numbers.get(task.version_id),
        side=side,
        role=Role(task.role),
        holder=lookup.users.get(task.assignee_id or 0),
        delegates=[lookup.users[d] for d in lookup.delegates.get(task.assignee_id or 0, [])],
        since=task.created_at,
        due_on=task.due_on,
        days_overdue=max(0, (today - task.due_on).days),
        business_days_overdue=max(0, business_days_between(task.due_on, today, calendar)),
        next_reminder_on=reminder.on if reminder else None,
        next_escalation=EscalationView(
            on=escalation.on,
            role=escalation.role,
            business_days_overdue=escalation.business_days_overdue,
            to=lookup.users.get(lookup.holders.get((side, escalation.role)) or 0),
        )
        if escalation
        else None,
    )


def _calendar(session: Session, organization_id: int) -> str:
    org = session.get(Organization, organization_id)
    return org.holiday_calendar if org is not None else "US"


def _delegates(session: Session, holders: list[int | None], today: date) -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    wanted = {h for h in holders if h is not None}
    if not wanted:
        return found
    rows = session.exec(
        select(Delegation)
        .where(
            col(Delegation.delegator_id).in_(wanted),
            col(Delegation.revoked_at).is_(None),
            Delegation.starts_on <= today,
            Delegation.ends_on >= today,
        )
        .order_by(col(Delegation.id))
    ).all()
    for d in rows:
        found[d.delegator_id].append(d.delegate_id)
    return found
