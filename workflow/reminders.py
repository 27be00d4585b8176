"""When an open task's reminders and escalations fall due, from the lifecycle's policy."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from states import LIFECYCLE, ReminderPolicy, Role
from workflow.calendar import add_business_days, subtract_business_days


@dataclass(frozen=True)
class Reminder:
    on: date
    slot: str  # stable per task (before:2, due, overdue:4), so it can key exactly-once sends


@dataclass(frozen=True)
class Escalation:
    on: date
    role: Role
    business_days_overdue: int


def reminders(
    due_on: date, calendar: str, policy: ReminderPolicy = LIFECYCLE.reminders
) -> Iterator[Reminder]:
    """Every reminder of a task due on `due_on`, in date order; endless while it is overdue."""
    for n in sorted({n for n in policy.before_due if n > 0}, reverse=True):
        yield Reminder(subtract_business_days(due_on, n, calendar), f"before:{n}")
    if policy.on_due_date:
        yield Reminder(due_on, "due")
    if policy.overdue_every <= 0:
        return
    current, overdue = due_on, 0
    while True:
        current = add_business_days(current, policy.overdue_every, calendar)
        overdue += policy.overdue_every
        yield Reminder(current, f"overdue:{overdue}")


def next_reminder(
    due_on: date, today: date, calendar: str, policy: ReminderPolicy = LIFECYCLE.reminders
) -> Reminder | None:
    """The first reminder on or after `today` (today's counts: it may not have gone out yet)."""
    # Terminates: overdue reminders move forward without end, so one reaches `today`.
    return next((r for r in reminders(due_on, calendar, policy) if r.on >= today), None)


def escalations(
    due_on: date,
    calendar: str,
    roles: Iterable[Role] | None = None,
    policy: ReminderPolicy = LIFECYCLE.reminders,
) -> list[Escalation]:
    """The policy's escalations of a task, limited to the task's escalation roles if given."""
    allowed = None if roles is None else set(roles)
    return [
        Escalation(add_business_days(due_on, days, calendar), role, days)
        for days, role in sorted(policy.escalations)
        if allowed is None or role in allowed
    ]


def next_escalation(
    due_on: date,
    today: date,
    calendar: str,
    roles: Iterable[Role] | None = None,
    policy: ReminderPolicy = LIFECYCLE.reminders,
) -> Escalation | None:
    """The first escalation on or after `today`, or None once the last one has passed."""
    return next((e for e in escalations(due_on, calendar, roles, policy) if e.on >= today), None)


@dataclass(frozen=True)
class DueStep:
    """One reminder slot (`before:2`, `due`, `overdue:4`) or escalation role due on `on`."""

    kind: str  # "reminder" | "escalation"
    name: str
    on: date


def due_steps(
    due_on: date,
    calendar: str,
    opened_on: date,
    today: date,
    escalation_roles: Iterable[Role],
    policy: ReminderPolicy = LIFECYCLE.reminders,
) -> tuple[DueStep, ...]:
    """The steps a sweep on `today` must make sure were sent: the newest due reminder (none
    dated before `opened_on`) and every due escalation, from `workflow.reminders`."""
    found: list[DueStep] = []
    newest = None
    for reminder in reminders(due_on, calendar, policy):
        if reminder.on > today:
            break  # reminders come in date order; overdue ones never end
        if reminder.on >= opened_on:
            newest = reminder
    if newest is not None:
        found.append(DueStep("reminder", newest.slot, newest.on))
    found.extend(
        DueStep("escalation", e.role.value, e.on)
        for e in escalations(due_on, calendar, escalation_roles, policy)
        if opened_on <= e.on <= today
    )
    return tuple(found)
