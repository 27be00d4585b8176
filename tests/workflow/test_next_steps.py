"""The sweep reads exactly the open tasks whose next step is due, after every kind of change.

The schedule is that of `test_sweeps.py`: two review tasks opened on Wednesday 28 October 2026,
due Wednesday 4 November; the customer keeps the US calendar, the provider has no holidays.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from states import ReminderPolicy, Role
from tests.helpers import C, World, make_world
from tests.workflow.test_sweeps import (
    NEW_YORK,
    OPENED,
    SIXTY_DAYS,
    at,
    d,
    open_reviews,
    sent_log,
    sweep,
)
from workflow import commands
from workflow.models import Organization, Task
from workflow.next_steps import (
    NEVER,
    due_pages,
    forget_next_steps,
    next_step_at,
    next_step_on,
)
from workflow.reminders import due_steps


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def due_now(engine: Engine, now: datetime) -> set[int]:
    """The ids of the tasks a sweep at `now` would read (pages of one: the keyset walks
    tasks that share a moment)."""
    with engine.connect() as connection:
        return {row.id for rows in due_pages(lambda: connection, now, 1) for row in rows}


def stored(engine: Engine, task_id: int | None) -> datetime | None:
    with engine.connect() as connection:
        value = connection.execute(
            sa.select(col(Task.next_step_at)).where(col(Task.id) == task_id)
        ).scalar_one()
    return None if value is None else value.astimezone(NEW_YORK)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=NEW_YORK)


def test_new_tasks_are_read_then_wait_for_their_next_step(world: World, engine: Engine) -> None:
    _, customer, provider = open_reviews(world)
    assert due_now(engine, at(d(10, 28), 11)) == {customer.id, provider.id}  # never computed
    assert sweep(engine, at(d(10, 28), 11)).sent == []  # nothing due before Mon 2 November
    assert stored(engine, customer.id) == stored(engine, provider.id) == midnight(d(11, 2))
    assert due_now(engine, at(d(11, 1), 23, 59)) == set()
    assert due_now(engine, midnight(d(11, 2))) == {customer.id, provider.id}


def test_a_sent_step_moves_the_task_to_its_next_step(world: World, engine: Engine) -> None:
    _, customer, provider = open_reviews(world)
    sweep(engine, at(d(11, 6)))  # overdue:2 for both
    assert stored(engine, customer.id) == stored(engine, provider.id) == midnight(d(11, 9))
    report = sweep(engine, at(d(11, 9)))  # the escalation
    assert report.tasks_scanned == 2
    assert stored(engine, customer.id) == midnight(d(11, 10))  # overdue:4
    # Veterans Day: the customer's next is Friday 13, the provider's Thursday 12.
    sweep(engine, at(d(11, 10)))
    assert stored(engine, customer.id) == midnight(d(11, 13))
    assert stored(engine, provider.id) == midnight(d(11, 12))
    assert due_now(engine, at(d(11, 12))) == {provider.id}
    assert {s.task_id for s in sweep(engine, at(d(11, 12))).sent} == {provider.id}


def test_a_completed_task_is_never_read_again(world: World, engine: Engine) -> None:
    _, customer, provider = open_reviews(world)
    sweep(engine, at(d(11, 2)))
    world.now = at(d(11, 3)).astimezone(UTC)
    world.complete(customer, "accepted")
    assert due_now(engine, at(d(11, 4))) == {provider.id}
    assert due_now(engine, at(d(12, 24))) == {provider.id}


def test_a_reassigned_task_is_planned_afresh(world: World, engine: Engine) -> None:
    agreement, customer, provider = open_reviews(world)
    sweep(engine, at(d(11, 2)))
    assert due_now(engine, at(d(11, 3))) == set()
    stakeholders = [
        s
        if (s.side, s.role) != (C, Role.FUNCTIONAL_LEAD)
        else type(s)(s.side, s.role, world.who(C, Role.TECHNICAL_LEAD).user_id)
        for s in world.parties.stakeholders()
    ]
    commands.set_stakeholders(
        world.session,
        actor=world.who(C, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,  # type: ignore[arg-type]
        stakeholders=stakeholders,
        now=at(d(11, 3)).astimezone(UTC),
    )
    assert stored(engine, customer.id) is None
    assert due_now(engine, at(d(11, 3))) == {customer.id}
    assert sweep(engine, at(d(11, 3))).sent == []  # before:2 went out already, due is Wed 4
    assert due_now(engine, at(d(11, 3), 12)) == set()
    sent = sweep(engine, at(d(11, 4))).sent
    assert {(s.task_id, s.step) for s in sent} == {(customer.id, "due"), (provider.id, "due")}


def test_a_holiday_calendar_change_replans_the_organisations_tasks(
    world: World, engine: Engine
) -> None:
    _, customer, provider = open_reviews(world)
    sweep(engine, at(d(11, 10)))
    assert stored(engine, provider.id) == midnight(d(11, 12))  # no holidays: Wed 11, Thu 12
    with engine.begin() as connection:
        connection.execute(
            sa.update(Organization)
            .where(col(Organization.id) == world.parties.provider_org_id)
            .values(holiday_calendar="US")
        )
        forget_next_steps(connection, organization_id=world.parties.provider_org_id)
    # Both tasks belong to an agreement the provider is party to.
    assert due_now(engine, at(d(11, 10), 12)) == {customer.id, provider.id}
    sweep(engine, at(d(11, 10), 12))
    assert stored(engine, provider.id) == midnight(d(11, 13))  # Veterans Day skipped now
    assert due_now(engine, at(d(11, 12))) == set()
    assert sent_log(engine)[provider.id][-1] == (d(11, 10), "overdue:4")  # type: ignore[index]


def test_forgetting_only_the_given_tasks(world: World, engine: Engine) -> None:
    _, customer, provider = open_reviews(world)
    sweep(engine, at(d(11, 2)))
    with engine.begin() as connection:
        forget_next_steps(connection, task_ids=[provider.id])  # type: ignore[list-item]
    assert due_now(engine, at(d(11, 3))) == {provider.id}
    assert stored(engine, customer.id) == midnight(d(11, 4))


def test_the_next_step_is_the_first_day_the_due_steps_change() -> None:
    """Brute force over the sixty days: from any day, the stored moment is the first later day
    on which a sweep would find a step it had not found before, on both calendars."""
    roles = (Role.PROGRAM_MANAGER, Role.EXECUTIVE_SPONSOR)
    opened, due = OPENED.date(), date(2026, 11, 4)
    horizon = SIXTY_DAYS[-1] + timedelta(days=30)
    for calendar in ("US", "none"):
        for today in SIXTY_DAYS:
            seen = set(due_steps(due, calendar, opened, today, roles))
            expected = next(
                day
                for n in range(1, 60)
                if (day := today + timedelta(days=n)) <= horizon
                and set(due_steps(due, calendar, opened, day, roles)) - seen
            )
            assert next_step_on(due, calendar, opened, today, roles) == expected, (calendar, today)


def test_a_policy_with_no_step_left_stores_never() -> None:
    quiet = ReminderPolicy(before_due=(2,), on_due_date=False, overdue_every=0, escalations=())
    # before:2 is Mon 2 November; after it, nothing ever falls due.
    assert next_step_on(d(11, 4), "US", d(10, 28), d(10, 30), (), quiet) == d(11, 2)
    assert next_step_on(d(11, 4), "US", d(10, 28), d(11, 2), (), quiet) is None
    assert next_step_at(None, "America/New_York") == NEVER
    assert next_step_at(d(11, 2), "America/New_York") == midnight(d(11, 2))


def test_another_policy_forgets_every_stored_moment(world: World, engine: Engine) -> None:
    """A release that changes the policy (or the holiday data) does not leave tasks waiting
    for moments computed under the old one: the first sweep on the new basis reads them all."""
    _, customer, provider = open_reviews(world)
    sweep(engine, at(d(11, 2)))
    assert due_now(engine, at(d(11, 3))) == set()
    quicker = ReminderPolicy(before_due=(1,), on_due_date=True, overdue_every=1, escalations=())
    report = sweep(engine, at(d(11, 3)), policy=quicker)
    assert report.tasks_scanned == 2
    assert {(s.task_id, s.step) for s in report.sent} == {
        (customer.id, "before:1"),  # Tuesday 3 November
        (provider.id, "before:1"),
    }
    assert stored(engine, customer.id) == midnight(d(11, 4))
    # Back to the lifecycle's policy: read again once, then not until the next step.
    assert sweep(engine, at(d(11, 3), 12)).tasks_scanned == 2
    assert sweep(engine, at(d(11, 3), 13)).tasks_scanned == 0
