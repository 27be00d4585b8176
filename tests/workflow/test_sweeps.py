"""The reminder and escalation sweep, by time travel: `now` is injected, nothing sleeps.

Two review tasks open on Wednesday 28 October 2026 at 10:00 in New York and are due five
business days later, Wednesday 4 November. The 60 days that follow hold the end of daylight
saving time (Sunday 1 November, 02:00 EDT → 01:00 EST), Veterans Day (Wednesday 11 November),
Thanksgiving (Thursday 26 November) and Christmas (Friday 25 December). The customer side keeps
the US federal calendar; the provider side is given no holidays at all, so the two schedules
part at the first holiday. Every expected date below was counted by hand.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from states import LIFECYCLE, Role
from tests.helpers import C, World, make_world
from workflow.commands.sweeps import SweepReport, sweep_reminders
from workflow.models import Agreement, AuditEvent, Organization, OutboxMessage, Task
from workflow.next_steps import forget_next_steps
from workflow.reminders import due_steps

NEW_YORK = ZoneInfo("America/New_York")
OPENED = datetime(2026, 10, 28, 10, 0, tzinfo=NEW_YORK)  # Wednesday, EDT
DUE = date(2026, 11, 4)


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """A local moment in New York (never the ambiguous hour of 1 November)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)


def d(month: int, day: int) -> date:
    return date(2026, month, day)


# When each step goes out, counting business days from Wednesday 4 November.
CUSTOMER_US = [
    (d(11, 2), "before:2"),  # Tue 3, Mon 2 (the first working day after the clocks went back)
    (d(11, 4), "due"),
    (d(11, 6), "overdue:2"),  # Thu 5, Fri 6
    (d(11, 9), "escalation:program_manager"),  # 3 overdue: Thu 5, Fri 6, Mon 9
    (d(11, 10), "overdue:4"),
    (d(11, 13), "overdue:6"),  # Veterans Day (Wed 11) skipped: Thu 12, Fri 13
    (d(11, 17), "overdue:8"),
    (d(11, 19), "escalation:executive_sponsor"),  # 10 overdue: ... Tue 17, Wed 18, Thu 19
    (d(11, 19), "overdue:10"),
    (d(11, 23), "overdue:12"),
    (d(11, 25), "overdue:14"),
    (d(11, 30), "overdue:16"),  # Thanksgiving (Thu 26) skipped: Fri 27, Mon 30
    (d(12, 2), "overdue:18"),
    (d(12, 4), "overdue:20"),
    (d(12, 8), "overdue:22"),
    (d(12, 10), "overdue:24"),
    (d(12, 14), "overdue:26"),
    (d(12, 16), "overdue:28"),
    (d(12, 18), "overdue:30"),
    (d(12, 22), "overdue:32"),
    (d(12, 24), "overdue:34"),  # Christmas (Fri 25) would push the next to Tue 29
]
PROVIDER_NO_HOLIDAYS = [
    (d(11, 2), "before:2"),
    (d(11, 4), "due"),
    (d(11, 6), "overdue:2"),
    (d(11, 9), "escalation:program_manager"),
    (d(11, 10), "overdue:4"),
    (d(11, 12), "overdue:6"),  # Wed 11 is a working day here: Wed 11, Thu 12
    (d(11, 16), "overdue:8"),
    (d(11, 18), "escalation:executive_sponsor"),
    (d(11, 18), "overdue:10"),
    (d(11, 20), "overdue:12"),
    (d(11, 24), "overdue:14"),
    (d(11, 26), "overdue:16"),  # Thanksgiving is a working day without holidays
    (d(11, 30), "overdue:18"),
    (d(12, 2), "overdue:20"),
    (d(12, 4), "overdue:22"),
    (d(12, 8), "overdue:24"),
    (d(12, 10), "overdue:26"),
    (d(12, 14), "overdue:28"),
    (d(12, 16), "overdue:30"),
    (d(12, 18), "overdue:32"),
    (d(12, 22), "overdue:34"),
    (d(12, 24), "overdue:36"),
]
SIXTY_DAYS = [OPENED.date() + timedelta(days=n) for n in range(60)]  # 28 Oct .. 26 Dec


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def open_reviews(world: World, *, provider_calendar: str = "none") -> tuple[Agreement, Task, Task]:
    """An agreement in joint review since OPENED: (agreement, customer task, provider task)."""
    world.session.exec(
        sa.update(Organization)
        .where(col(Organization.id) == world.parties.provider_org_id)
        .values(holiday_calendar=provider_calendar)
    )
    world.session.commit()
    world.now = OPENED.astimezone(UTC) - timedelta(minutes=2)
    agreement = world.create()
    world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    customer, provider = sorted(world.open_tasks(agreement, "review"), key=lambda t: t.side)
    assert (customer.side, provider.side) == ("customer", "provider")
    assert customer.due_on == provider.due_on == DUE
    return agreement, customer, provider


def sweep(engine: Engine, now: datetime, **kw: object) -> SweepReport:
    with Session(engine, expire_on_commit=False) as session:
        return sweep_reminders(session, now=now, **kw)  # type: ignore[arg-type]


def sent_log(engine: Engine) -> dict[int, list[tuple[date, str]]]:
    """Per task, (local day it was queued, step) of every reminder and escalation, in order."""
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.topic).in_(("task.reminder", "task.escalated")))
            .order_by(col(OutboxMessage.id))
        ).all()
    log: dict[int, list[tuple[date, str]]] = {}
    for row in rows:
        task_id = row.payload["task"]["id"]
        step = (
            row.payload["step"]
            if row.topic == "task.reminder"
            else f"escalation:{row.payload['escalated_to_role']}"
        )
        log.setdefault(task_id, []).append((row.created_at.astimezone(NEW_YORK).date(), step))
    return log


def audited(engine: Engine) -> Counter[tuple[str, int, str]]:
    """(action, task id, step or role) of every reminder and escalation audit event."""
    with Session(engine) as session:
        events = session.exec(
            select(AuditEvent).where(
                col(AuditEvent.action).in_(("task.reminded", "task.escalated"))
            )
        ).all()
    found: Counter[tuple[str, int, str]] = Counter()
    for event in events:
        data = json.loads(event.body)["data"]
        found[(event.action, data["task_id"], data.get("step") or data["escalated_to_role"])] += 1
    return found


def assert_each_once(engine: Engine) -> None:
    """Every outbox message has exactly one audit event and every audit event one message."""
    log = sent_log(engine)
    expected: Counter[tuple[str, int, str]] = Counter()
    for task_id, steps in log.items():
        for _, step in steps:
            if step.startswith("escalation:"):
                expected[("task.escalated", task_id, step.split(":", 1)[1])] += 1
            else:
                expected[("task.reminded", task_id, step)] += 1
    assert audited(engine) == expected
    assert set(expected.values()) <= {1}


# ---- the schedule ---------------------------------------------------------------------------


def test_sixty_days_of_sweeps_send_each_step_once_on_its_day(world: World, engine: Engine) -> None:
    _, customer, provider = open_reviews(world)
    for day in SIXTY_DAYS:
        # Three ticks a day, as a scheduler would run them; only the first may send anything.
        for hour, minute in ((0, 5), (9, 0), (23, 30)):
            sweep(engine, at(day, hour, minute))
    log = sent_log(engine)
    assert log[customer.id] == CUSTOMER_US  # type: ignore[index]
    assert log[provider.id] == PROVIDER_NO_HOLIDAYS  # type: ignore[index]
    assert_each_once(engine)


def test_a_sweep_reports_only_what_it_sent(world: World, engine: Engine) -> None:
    _, customer, provider = open_reviews(world)
    first = sweep(engine, at(d(11, 9)))
    assert sorted((s.task_id, s.kind, s.step) for s in first.sent) == sorted(
        [
            (customer.id, "reminder", "overdue:2"),  # Fri 6: the newest by Mon 9
            (customer.id, "escalation", "program_manager"),
            (provider.id, "reminder", "overdue:2"),
            (provider.id, "escalation", "program_manager"),
        ]
    )
    assert (first.tasks_scanned, first.already_sent, first.transactions) == (2, 0, 1)
    # The same day again: each task's next step is tomorrow's, so the sweep reads no task.
    again = sweep(engine, at(d(11, 9), 17))
    assert (again.sent, again.tasks_scanned, again.already_sent, again.transactions) == (
        [],
        0,
        0,
        0,
    )
    # Forced to look again (its moments forgotten), it finds all four in the outbox.
    with engine.begin() as connection:
        forget_next_steps(connection)
    forced = sweep(engine, at(d(11, 9), 17))
    assert (forced.sent, forced.tasks_scanned, forced.already_sent) == ([], 2, 4)
    assert_each_once(engine)


# ---- local days and the end of daylight saving time -----------------------------------------


def test_a_step_falls_due_at_local_midnight_after_the_clocks_go_back(
    world: World, engine: Engine
) -> None:
    """`before:2` is dated Monday 2 November. The clocks went back at 02:00 on Sunday 1
    November, so New York is UTC-5: 23:30 on Sunday is 04:30 UTC on Monday. The sweep counts
    New York days, so that moment is still Sunday and nothing goes out (reading the UTC date,
    or keeping the summer offset of UTC-4, would send it half an hour early)."""
    _, customer, _ = open_reviews(world)
    late_sunday = at(d(11, 1), 23, 30)
    assert late_sunday.astimezone(UTC) == datetime(2026, 11, 2, 4, 30, tzinfo=UTC)
    assert sweep(engine, late_sunday).sent == []
    early_monday = at(d(11, 2), 0, 30)
    assert early_monday.astimezone(UTC) == datetime(2026, 11, 2, 5, 30, tzinfo=UTC)
    sent = sweep(engine, early_monday).sent
    assert {(s.task_id, s.step) for s in sent} >= {(customer.id, "before:2")}
    assert sent_log(engine)[customer.id] == [(d(11, 2), "before:2")]  # type: ignore[index]


def test_a_naive_utc_day_would_differ_from_the_local_day() -> None:
    # The same instant: Monday in UTC, Sunday in New York.
    instant = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)
    assert instant.date() == d(11, 2)
    assert instant.astimezone(NEW_YORK).date() == d(11, 1)


# ---- catching up ----------------------------------------------------------------------------


def test_a_late_sweep_sends_only_the_newest_reminder_and_every_due_escalation(
    world: World, engine: Engine
) -> None:
    _, customer, _ = open_reviews(world, provider_calendar="US")
    sweep(engine, at(d(11, 2)))  # before:2
    # Down from Tuesday 3 to Tuesday 10 November: `due` (4th) and `overdue:2` (6th) are stale;
    # the escalation of Monday 9 still matters.
    sweep(engine, at(d(11, 10), 15))
    assert sent_log(engine)[customer.id] == [  # type: ignore[index]
        (d(11, 2), "before:2"),
        (d(11, 10), "escalation:program_manager"),
        (d(11, 10), "overdue:4"),
    ]
    sweep(engine, at(d(11, 12)))  # nothing new until Friday 13 (Veterans Day on the 11th)
    sweep(engine, at(d(11, 13)))
    assert sent_log(engine)[customer.id][-1] == (d(11, 13), "overdue:6")  # type: ignore[index]
    assert_each_once(engine)


def test_a_first_sweep_weeks_late_sends_both_escalations_and_one_reminder(
    world: World, engine: Engine
) -> None:
    _, customer, _ = open_reviews(world, provider_calendar="US")
    report = sweep(engine, at(d(11, 20)))
    mine = sorted((s.kind, s.step) for s in report.sent if s.task_id == customer.id)
    assert mine == [
        ("escalation", "executive_sponsor"),
        ("escalation", "program_manager"),
        ("reminder", "overdue:10"),  # Thu 19; overdue:12 is Mon 23
    ]
    assert sweep(engine, at(d(11, 20), 18)).sent == []
    assert_each_once(engine)


# ---- what is sent, and to whom --------------------------------------------------------------


def test_reminder_and_escalation_messages_carry_what_the_email_needs(
    world: World, engine: Engine
) -> None:
    agreement, customer, _ = open_reviews(world)
    sweep(engine, at(d(11, 4)))
    sweep(engine, at(d(11, 9)))
    with Session(engine) as session:
        rows = {m.dedupe_key: m for m in session.exec(select(OutboxMessage))}
    reminder = rows[f"reminder:{customer.id}:due"]
    escalation = rows[f"escalation:{customer.id}:program_manager"]
    version = world.version(agreement)
    head = {
        "agreement": {"id": agreement.id, "key": agreement.key, "title": agreement.title},
        "version": {
            "id": version.id,
            "number": 1,
            "modification_number": 0,
            "state": "joint_review",
        },
        "task": {
            "id": customer.id,
            "kind": "review",
            "title": customer.title,
            "side": "customer",
            "role": "functional_lead",
            "due_on": "2026-11-04",
            "assignee_id": world.who(C, Role.FUNCTIONAL_LEAD).user_id,
        },
    }
    assert reminder.topic == "task.reminder"
    assert reminder.recipients == {"user_ids": [world.who(C, Role.FUNCTIONAL_LEAD).user_id]}
    assert reminder.payload == {
        **head,
        "step": "due",
        "due_on": "2026-11-04",
        "business_days_overdue": 0,
    }
    assert rows[f"reminder:{customer.id}:overdue:2"].payload["business_days_overdue"] == 3
    pm = world.who(C, Role.PROGRAM_MANAGER)
    assert escalation.topic == "task.escalated"
    assert escalation.recipients == {"roles": [{"side": "customer", "role": "program_manager"}]}
    assert escalation.payload == {
        **head,
        "escalated_to_role": "program_manager",
        "side": "customer",
        "business_days_overdue": 3,  # Thu 5, Fri 6, Mon 9
        "holder": {"name": pm.name, "email": pm.email},
    }
    assert reminder.agreement_id == escalation.agreement_id == agreement.id
    assert reminder.status == "pending"


def test_closed_tasks_are_not_reminded(world: World, engine: Engine) -> None:
    agreement, customer, provider = open_reviews(world)
    sweep(engine, at(d(11, 2)))
    world.now = at(d(11, 3)).astimezone(UTC)
    world.complete(customer, "accepted")
    for day in (d(11, 4), d(11, 6), d(11, 9)):
        sweep(engine, at(day))
    log = sent_log(engine)
    assert log[customer.id] == [(d(11, 2), "before:2")]  # type: ignore[index]
    assert [s for _, s in log[provider.id]] == [  # type: ignore[index]
        "before:2",
        "due",
        "overdue:2",
        "escalation:program_manager",
    ]
    assert world.open_tasks(agreement, "review") == [provider]


def test_a_program_managers_task_never_escalates_to_that_program_manager(
    world: World, engine: Engine
) -> None:
    agreement, customer, _ = open_reviews(world)
    world.now = at(d(10, 29)).astimezone(UTC)
    world.complete(customer, "changes_requested", comment="the targets are too loose")
    (rework,) = world.open_tasks(agreement, "rework")
    assert (rework.role, rework.due_on) == ("program_manager", d(11, 5))
    for day in SIXTY_DAYS[1:30]:
        sweep(engine, at(day))
    escalations = [s for _, s in sent_log(engine)[rework.id] if s.startswith("escalation")]  # type: ignore[index]
    assert escalations == ["escalation:executive_sponsor"]


def test_steps_dated_before_the_task_opened_are_not_sent() -> None:
    # Opened on Thursday 5 November, due Monday 9: `before:2` (Thu 5) is the opening day and
    # goes out; had it been opened on Friday 6, there would be nothing until the due date.
    roles = (Role.PROGRAM_MANAGER,)
    assert [s.name for s in due_steps(d(11, 9), "US", d(11, 5), d(11, 6), roles)] == ["before:2"]
    assert due_steps(d(11, 9), "US", d(11, 6), d(11, 6), roles) == ()
    assert [s.name for s in due_steps(d(11, 9), "US", d(11, 6), d(11, 9), roles)] == ["due"]


# ---- many sweepers at once ------------------------------------------------------------------


def test_two_sweepers_at_the_same_moment_send_nothing_twice(world: World, engine: Engine) -> None:
    """Eight agreements (16 tasks) swept in batches of three by two threads that start
    together, on every day of the schedule; every step still goes out exactly once."""
    open_reviews(world)
    for _ in range(7):
        world.now = OPENED.astimezone(UTC)
        agreement = world.create()
        world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    reports: list[SweepReport] = []
    for day in SIXTY_DAYS[:30]:
        barrier = threading.Barrier(2, timeout=10)
        errors: list[BaseException] = []

        def run(
            now: datetime = at(day),
            barrier: threading.Barrier = barrier,
            errors: list[BaseException] = errors,
        ) -> None:
            try:
                with Session(engine, expire_on_commit=False) as session:
                    barrier.wait()
                    reports.append(sweep_reminders(session, now=now, batch_size=3))
            except BaseException as exc:  # a thread's failure must fail the test
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors
        assert not any(t.is_alive() for t in threads)
    sent = Counter((s.task_id, s.kind, s.step) for r in reports for s in r.sent)
    assert sent
    assert set(sent.values()) == {1}  # no step reported by both sweepers
    log = sent_log(engine)
    assert len(log) == 16
    with Session(engine) as session:
        sides = dict(session.exec(select(Task.id, Task.side)).all())
    for task_id, steps in log.items():
        expected = CUSTOMER_US if sides[task_id] == "customer" else PROVIDER_NO_HOLIDAYS
        assert steps == [s for s in expected if s[0] <= SIXTY_DAYS[29]]
    assert sum(len(steps) for steps in log.values()) == len(sent)
    assert_each_once(engine)


def test_the_policy_is_the_specs() -> None:
    policy = LIFECYCLE.reminders
    assert (policy.before_due, policy.on_due_date, policy.overdue_every) == ((2,), True, 2)
    assert policy.escalations == ((3, Role.PROGRAM_MANAGER), (10, Role.EXECUTIVE_SPONSOR))


def test_a_sweep_racing_people_completing_tasks_neither_deadlocks_nor_duplicates(
    world: World, engine: Engine
) -> None:
    """While a sweep works through batches (holding audit chain heads and task rows), people
    complete tasks of the same agreements (holding the agreement, then its chain head, then
    updating the task). Neither waits for the other in a cycle; both finish."""
    agreements = [open_reviews(world)[0]]
    for _ in range(7):
        world.now = OPENED.astimezone(UTC)
        agreement = world.create()
        world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
        agreements.append(agreement)
    customer_tasks = [t for a in agreements for t in world.open_tasks(a, "review")]
    customer_tasks = [t for t in customer_tasks if t.side == "customer"]
    barrier = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def sweeping() -> None:
        try:
            with Session(engine, expire_on_commit=False) as session:
                barrier.wait()
                for day in (d(11, 9), d(11, 10), d(11, 13)):
                    sweep_reminders(session, now=at(day), batch_size=2)
        except BaseException as exc:
            errors.append(exc)

    def completing() -> None:
        try:
            with Session(engine, expire_on_commit=False) as session:
                people = World(session, world.parties, world.document, at(d(11, 9)))
                barrier.wait()
                for task in customer_tasks:
                    people.complete(task, "accepted")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sweeping), threading.Thread(target=completing)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "deadlocked"
    assert not errors, errors
    assert_each_once(engine)
    before = sent_log(engine)
    sweep(engine, at(d(11, 17)))
    after = sent_log(engine)
    for task in customer_tasks:  # closed: nothing more, whatever the race left
        assert after.get(task.id) == before.get(task.id)  # type: ignore[arg-type]
