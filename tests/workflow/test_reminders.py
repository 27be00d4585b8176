"""The reminder and escalation schedule of a task, from the lifecycle's policy, by hand."""

from __future__ import annotations

from datetime import date
from itertools import islice

from states import ReminderPolicy, Role
from workflow.reminders import (
    Escalation,
    Reminder,
    escalations,
    next_escalation,
    next_reminder,
    reminders,
)

# Due Monday 9 Nov 2026; Wednesday 11 Nov (Veterans Day) is a US federal holiday.
DUE = date(2026, 11, 9)


def test_default_policy_two_days_before_on_the_day_then_every_two_days_overdue() -> None:
    assert list(islice(reminders(DUE, "US"), 5)) == [
        Reminder(date(2026, 11, 5), "before:2"),
        Reminder(date(2026, 11, 9), "due"),
        Reminder(date(2026, 11, 12), "overdue:2"),  # 10, (11 holiday), 12
        Reminder(date(2026, 11, 16), "overdue:4"),  # 13, (weekend), 16
        Reminder(date(2026, 11, 18), "overdue:6"),
    ]
    # Without holidays the second overdue business day is the 11th.
    assert list(islice(reminders(DUE, "none"), 3))[-1] == Reminder(date(2026, 11, 11), "overdue:2")


def test_the_next_reminder_is_on_or_after_today() -> None:
    assert next_reminder(DUE, date(2026, 11, 2), "US") == Reminder(date(2026, 11, 5), "before:2")
    assert next_reminder(DUE, date(2026, 11, 5), "US") == Reminder(date(2026, 11, 5), "before:2")
    assert next_reminder(DUE, date(2026, 11, 6), "US") == Reminder(DUE, "due")
    # 24 Nov is ten overdue; Thanksgiving (26 Nov) pushes the twelfth to Friday 27 Nov.
    assert next_reminder(DUE, date(2026, 11, 25), "US") == Reminder(
        date(2026, 11, 27), "overdue:12"
    )


def test_a_policy_without_overdue_reminders_falls_silent_after_the_due_date() -> None:
    quiet = ReminderPolicy(before_due=(3, 1), on_due_date=False, overdue_every=0)
    assert list(reminders(DUE, "US", quiet)) == [
        Reminder(date(2026, 11, 4), "before:3"),
        Reminder(date(2026, 11, 6), "before:1"),
    ]
    assert next_reminder(DUE, date(2026, 11, 7), "US", quiet) is None


def test_escalations_go_to_the_program_manager_then_the_executive_sponsor() -> None:
    assert escalations(DUE, "US") == [
        Escalation(date(2026, 11, 13), Role.PROGRAM_MANAGER, 3),
        Escalation(date(2026, 11, 24), Role.EXECUTIVE_SPONSOR, 10),
    ]
    assert next_escalation(DUE, date(2026, 11, 14), "US") == Escalation(
        date(2026, 11, 24), Role.EXECUTIVE_SPONSOR, 10
    )
    assert next_escalation(DUE, date(2026, 11, 25), "US") is None
    # A task whose template escalates only to the Sponsor skips the Program Manager.
    assert next_escalation(DUE, DUE, "US", [Role.EXECUTIVE_SPONSOR]) == Escalation(
        date(2026, 11, 24), Role.EXECUTIVE_SPONSOR, 10
    )
