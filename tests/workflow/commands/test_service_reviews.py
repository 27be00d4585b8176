"""The quarterly service review: one joint meeting with minutes (domain.md, Calendar).

The example SLA is in force from 2 November 2026; November's report is accepted as submitted
on 1 December with two misses (proper-payments, invoice-payment-timeliness), so two corrective
actions are open when the review of 2026 Q4 opens on 1 January 2027: they are its agenda.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from states import Role
from tests.helpers import C, P, World, make_world
from tests.workflow.commands.test_periods import DEC_1, NOVEMBER
from tests.workflow.test_compliance_sql import store
from workflow import commands
from workflow.commands.calendar_jobs import run_calendar
from workflow.commands.service_reviews import ActionItemInput, Minutes, record_minutes
from workflow.errors import Conflict, Forbidden, InvalidInput
from workflow.models import Agreement, AuditEvent, ServiceReview, Task
from workflow.queries.service_reviews import list_service_reviews, service_review_agenda

NEW_YORK = ZoneInfo("America/New_York")
JAN_8 = datetime(2027, 1, 8, 10, tzinfo=NEW_YORK)


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def reviewed_agreement(world: World, engine: Engine) -> tuple[Agreement, ServiceReview]:
    agreement = world.create()
    world.to_active(agreement)
    assert agreement.id is not None
    store(world.session, agreement.id, NOVEMBER)
    world.now = DEC_1
    commands.open_due_periods(world.session, now=DEC_1)
    for event, by in (("submit", (P, Role.PROGRAM_MANAGER)), ("accept", (C, Role.FUNCTIONAL_LEAD))):
        commands.fire_period_event(
            world.session,
            actor=world.who(*by),
            agreement_id=agreement.id,
            period="2026-11",
            event=event,
            now=world.tick(),
        )
    with Session(engine, expire_on_commit=False) as session:
        run_calendar(session, now=datetime(2027, 1, 1, 9, tzinfo=NEW_YORK))
    world.now = JAN_8
    world.session.rollback()
    review = world.session.exec(select(ServiceReview)).one()
    return agreement, review


def minutes(world: World, **overrides: object) -> Minutes:
    values: dict[str, object] = {
        "held_on": date(2027, 1, 7),
        "attendees": [
            world.who(C, Role.PROGRAM_MANAGER).user_id,
            world.who(P, Role.PROGRAM_MANAGER).user_id,
            world.who(P, Role.TECHNICAL_LEAD).user_id,
        ],
        "decisions": ["Invoice timeliness is the quarter's priority"],
        "action_items": [
            ActionItemInput(
                "Automate the invoice hand-off to Treasury",
                world.who(P, Role.TECHNICAL_LEAD).user_id,
                date(2027, 2, 15),
            ),
            ActionItemInput(
                "Send the payroll cut-off calendar for 2027",
                world.who(C, Role.PMO_LEAD).user_id,
                date(2027, 1, 29),
            ),
        ],
    }
    values.update(overrides)
    return Minutes(**values)  # type: ignore[arg-type]


def record(
    world: World, agreement: Agreement, review: ServiceReview, m: Minutes, side: object = C
) -> ServiceReview:
    return record_minutes(
        world.session,
        actor=world.who(side, Role.PROGRAM_MANAGER),  # type: ignore[arg-type]
        agreement_id=agreement.id or 0,
        review_id=review.id or 0,
        minutes=m,
        now=world.tick(),
    )


def test_one_joint_review_per_quarter_with_its_agenda(world: World, engine: Engine) -> None:
    agreement, review = reviewed_agreement(world, engine)
    assert (review.quarter, review.first_day, review.last_day) == (
        "2026-Q4",
        date(2026, 11, 2),
        date(2026, 12, 31),
    )
    meeting = world.open_tasks(agreement, "service_review")
    assert {(t.side, t.role, t.service_review_id) for t in meeting} == {
        ("customer", "program_manager", review.id),
        ("provider", "program_manager", review.id),
    }
    agenda = service_review_agenda(world.session, agreement.id or 0)
    assert sorted(i.title.split(" (")[0] for i in agenda) == [
        "Corrective action: Commercial invoices paid within 30 "
        "calendar days after receipt missed in 2026-11",
        "Corrective action: Proper payments, excluding customer errors missed in 2026-11",
    ]
    assert {(i.kind, i.link, i.since) for i in agenda} == {
        ("corrective_action", f"/slas/{agreement.id}/periods/2026-11", date(2026, 12, 1))
    }
    (listed,) = list_service_reviews(
        world.session, world.who(P, Role.PROGRAM_MANAGER), agreement.id or 0
    )
    assert listed.agenda == agenda
    assert listed.state == "open"


def test_minutes_complete_the_review_and_open_an_action_item_per_owner(
    world: World, engine: Engine
) -> None:
    agreement, review = reviewed_agreement(world, engine)
    record(world, agreement, review, minutes(world))
    assert world.open_tasks(agreement, "service_review") == []
    items = world.open_tasks(agreement, "action_item")
    assert [(t.assignee_id, t.side, t.role, t.due_on, t.service_review_id) for t in items] == [
        (
            world.who(P, Role.TECHNICAL_LEAD).user_id,
            "provider",
            "technical_lead",
            date(2027, 2, 15),
            review.id,
        ),
        (world.who(C, Role.PMO_LEAD).user_id, "customer", "pmo_lead", date(2027, 1, 29), review.id),
    ]
    assert items[0].detail == "Automate the invoice hand-off to Treasury"
    (view,) = list_service_reviews(
        world.session, world.who(C, Role.PROGRAM_MANAGER), agreement.id or 0
    )
    assert (view.state, view.held_on) == ("held", date(2027, 1, 7))
    assert [p.id for p in view.attendees] == minutes(world).attendees
    assert view.decisions == ["Invoice timeliness is the quarter's priority"]
    assert [a.task_id for a in view.action_items] == [t.id for t in items]
    assert [a.kind for a in view.agenda] == ["corrective_action"] * 2  # as it stood that day
    world.session.rollback()
    event = world.session.exec(
        select(AuditEvent).where(
            AuditEvent.agreement_id == agreement.id,
            AuditEvent.action == "service_review.minutes_recorded",
        )
    ).one()
    assert json.loads(event.body)["data"]["quarter"] == "2026-Q4"
    done = world.session.exec(
        select(Task).where(Task.kind == "service_review").order_by(col(Task.id))
    ).all()
    assert {(t.state, t.outcome) for t in done} == {("completed", "done")}
    # Minutes are recorded once; the action item is done by its owner like any task.
    with pytest.raises(Conflict, match="already held"):
        record(world, agreement, review, minutes(world), side=P)
    world.complete(items[1], "done")
    assert len(world.open_tasks(agreement, "action_item")) == 1


def test_invalid_minutes_name_each_field(world: World, engine: Engine) -> None:
    agreement, review = reviewed_agreement(world, engine)
    bad = minutes(
        world,
        held_on=date(2027, 1, 9),  # tomorrow
        attendees=[world.who(C, Role.PROGRAM_MANAGER).user_id, 999_999],
        decisions=["  "],
        action_items=[ActionItemInput("", 999_999, date(2027, 1, 1))],
    )
    with pytest.raises(InvalidInput) as refused:
        record(world, agreement, review, bad)
    assert refused.value.errors == [
        {"field": "held_on", "message": "cannot be in the future"},
        {"field": "attendees.1", "message": "not a stakeholder of this SLA"},
        {"field": "decisions.0", "message": "required"},
        {"field": "action_items.0.description", "message": "required"},
        {"field": "action_items.0.owner_id", "message": "not a stakeholder of this SLA"},
        {"field": "action_items.0.due_on", "message": "before the review was held"},
    ]
    assert len(world.open_tasks(agreement, "service_review")) == 2  # nothing half-written


def test_only_the_program_managers_record_minutes(world: World, engine: Engine) -> None:
    agreement, review = reviewed_agreement(world, engine)
    with pytest.raises(Forbidden):
        record_minutes(
            world.session,
            actor=world.who(C, Role.BUSINESS_OWNER),
            agreement_id=agreement.id or 0,
            review_id=review.id or 0,
            minutes=minutes(world),
            now=world.tick(),
        )
    # Completing the review's task without minutes is refused: the minutes are the work.
    (task, _) = world.open_tasks(agreement, "service_review")
    with pytest.raises(Conflict, match="recording its minutes"):
        world.complete(task, "done")


def test_a_review_never_held_ends_with_the_agreement(world: World, engine: Engine) -> None:
    agreement, _review = reviewed_agreement(world, engine)
    with Session(engine, expire_on_commit=False) as session:
        run_calendar(session, now=datetime(2027, 10, 1, 9, tzinfo=NEW_YORK))  # expired
    world.session.rollback()  # read what the calendar committed
    (view, *_) = list_service_reviews(
        world.session, world.who(C, Role.PROGRAM_MANAGER), agreement.id or 0
    )
    assert (view.quarter, view.state, view.due_on) == ("2026-Q4", "cancelled", None)
