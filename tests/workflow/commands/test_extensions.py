"""Extending the period of performance (domain.md, Joint accountability: `extend`).

The example SLA runs from 1 October 2026 to 30 September 2027 and expires on 1 October 2027.
Either Program Manager asks for a new end date; both Business Owners approve; the agreement is
then in force until the new date, as a new version with the next modification number.
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
from workflow import commands
from workflow.commands.calendar_jobs import run_calendar
from workflow.commands.extensions import decide_extension, request_extension
from workflow.errors import Conflict, Forbidden, InvalidInput
from workflow.models import (
    Agreement,
    AgreementVersion,
    AuditEvent,
    Extension,
    OutboxMessage,
    Task,
)

NEW_YORK = ZoneInfo("America/New_York")


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=NEW_YORK)


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def expired_agreement(world: World, engine: Engine) -> Agreement:
    agreement = world.create()
    world.to_active(agreement)
    with Session(engine, expire_on_commit=False) as session:
        run_calendar(session, now=at(date(2027, 10, 1)))
    assert world.version(agreement).state == "expired"
    world.now = at(date(2027, 10, 4))
    return agreement


def ask(world: World, agreement: Agreement, new_end: date, **kw: object) -> Extension:
    args: dict[str, object] = {
        "actor": world.who(P, Role.PROGRAM_MANAGER),
        "agreement_id": agreement.id,
        "new_end_date": new_end,
        "reason": "the successor contract starts in April",
        "now": world.tick(),
    }
    args.update(kw)
    return request_extension(world.session, **args)  # type: ignore[arg-type]


def decide(world: World, extension: Extension, side: object, outcome: str, **kw: object) -> None:
    decide_extension(
        world.session,
        actor=world.who(side, Role.BUSINESS_OWNER),  # type: ignore[arg-type]
        agreement_id=extension.agreement_id,
        extension_id=extension.id or 0,
        outcome=outcome,
        now=world.tick(),
        **kw,  # type: ignore[arg-type]
    )


def state_of(world: World, extension: Extension) -> str:
    world.session.rollback()
    row = world.session.get(Extension, extension.id)
    assert row is not None
    return row.state


def actions(world: World, agreement: Agreement) -> list[str]:
    world.session.rollback()
    return list(
        world.session.exec(
            select(AuditEvent.action)
            .where(AuditEvent.agreement_id == agreement.id)
            .order_by(col(AuditEvent.id))
        ).all()
    )


def test_an_expired_sla_is_extended_by_both_business_owners(world: World, engine: Engine) -> None:
    agreement = expired_agreement(world, engine)
    extension = ask(world, agreement, date(2028, 3, 31))
    approvals = world.open_tasks(agreement, "extension_approval")
    assert [(t.side, t.role, t.assignee_id, t.extension_id) for t in approvals] == [
        ("customer", "business_owner", world.who(C, Role.BUSINESS_OWNER).user_id, extension.id),
        ("provider", "business_owner", world.who(P, Role.BUSINESS_OWNER).user_id, extension.id),
    ]
    assert "from 2027-09-30 to 2028-03-31" in approvals[0].detail

    # One approval alone changes nothing.
    decide(world, extension, C, "approved")
    assert state_of(world, extension) == "requested"
    assert world.version(agreement).state == "expired"
    assert len(world.open_tasks(agreement, "extension_approval")) == 1

    decide(world, extension, P, "approved")
    assert state_of(world, extension) == "approved"
    old, new = world.version(agreement, 1), world.version(agreement, 2)
    assert old.state == "expired"  # the record of what was in force until 30 September
    assert (new.state, new.modification_number) == ("active", 1)
    assert new.terms["period_end"] == "2028-03-31"
    assert {k: v for k, v in new.terms.items() if k != "period_end"} == {
        k: v for k, v in old.terms.items() if k != "period_end"
    }
    assert new.metrics == old.metrics
    assert new.activated_at is not None
    trail = actions(world, agreement)
    assert trail[trail.index("extension.request") :] == [
        "extension.request",
        "task.completed",  # the customer's Business Owner
        "task.completed",  # the provider's
        "version.extended",
        "extension.approve",
    ]
    approved = world.session.exec(
        select(AuditEvent).where(
            AuditEvent.agreement_id == agreement.id, AuditEvent.action == "extension.approve"
        )
    ).one()
    data = json.loads(approved.body)["data"]
    assert (data["new_version"], data["modification_number"], data["replaced_version"]) == (
        2,
        1,
        {"number": 1, "state": "expired"},
    )
    # The agreement is in force again: the calendar expires it at its new end, not before.
    with Session(engine, expire_on_commit=False) as session:
        assert run_calendar(session, now=at(date(2028, 3, 31))).of("expired") == []
        assert len(run_calendar(session, now=at(date(2028, 4, 1))).of("expired")) == 1


def test_an_active_sla_extended_supersedes_its_version_and_keeps_its_reviews(
    world: World, engine: Engine
) -> None:
    agreement = world.create()
    world.to_active(agreement)
    with Session(engine, expire_on_commit=False) as session:
        run_calendar(session, now=at(date(2027, 7, 2)))  # annual review and renewal decision
    world.now = at(date(2027, 7, 6))
    for decision in world.open_tasks(agreement, "renewal_decision"):
        world.complete(decision, "extend")
    extension = ask(world, agreement, date(2027, 12, 31))
    decide(world, extension, C, "approved")
    decide(world, extension, P, "approved")
    assert world.version(agreement, 1).state == "superseded"
    new = world.version(agreement, 2)
    assert (new.state, new.modification_number, new.terms["period_end"]) == (
        "active",
        1,
        "2027-12-31",
    )
    (annual,) = world.open_tasks(agreement, "annual_review")
    assert annual.version_id == new.id  # the review is about the agreement: it stays open


def test_one_rejection_ends_the_extension(world: World, engine: Engine) -> None:
    agreement = expired_agreement(world, engine)
    extension = ask(world, agreement, date(2028, 3, 31))
    with pytest.raises(InvalidInput) as no_comment:
        decide(world, extension, P, "rejected")
    assert no_comment.value.errors == [{"field": "comment", "message": "required"}]
    decide(world, extension, C, "approved")
    decide(world, extension, P, "rejected", comment="we will re-compete instead")
    assert state_of(world, extension) == "rejected"
    assert world.open_tasks(agreement, "extension_approval") == []
    assert world.version(agreement).state == "expired"
    world.session.rollback()
    assert len(world.session.exec(select(AgreementVersion)).all()) == 1
    rejected = world.session.exec(
        select(AuditEvent).where(
            AuditEvent.agreement_id == agreement.id, AuditEvent.action == "extension.reject"
        )
    ).one()
    assert json.loads(rejected.body)["data"]["comment"] == "we will re-compete instead"
    # Every stakeholder hears of the request and of its end, under topics of their own.
    told = {
        m.topic: m.payload
        for m in world.session.exec(
            select(OutboxMessage).where(col(OutboxMessage.topic).startswith("extension."))
        )
    }
    assert set(told) == {"extension.requested", "extension.rejected"}
    assert told["extension.requested"]["extension"]["new_end_date"] == "2028-03-31"
    assert told["extension.rejected"]["comment"] == "we will re-compete instead"


def test_bad_requests_are_refused_with_reasons(world: World, engine: Engine) -> None:
    agreement = expired_agreement(world, engine)
    with pytest.raises(InvalidInput) as invalid:
        ask(world, agreement, date(2027, 9, 30), reason=" ")
    assert invalid.value.errors == [
        {"field": "new_end_date", "message": "must be after the current end, 2027-09-30"},
        {"field": "reason", "message": "required"},
    ]
    with pytest.raises(Forbidden):
        ask(world, agreement, date(2028, 3, 31), actor=world.who(C, Role.BUSINESS_OWNER))
    ask(world, agreement, date(2028, 3, 31))
    with pytest.raises(Conflict, match="still awaiting its approvals"):
        ask(world, agreement, date(2028, 6, 30), actor=world.who(C, Role.PROGRAM_MANAGER))
    world.session.rollback()
    assert len(world.session.exec(select(Extension)).all()) == 1
    assert len(world.session.exec(select(Task).where(Task.kind == "extension_approval")).all()) == 2


def test_an_expired_sla_can_be_revised_into_a_new_period(world: World, engine: Engine) -> None:
    agreement = expired_agreement(world, engine)
    draft = commands.start_revision(
        world.session,
        actor=world.who(C, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,  # type: ignore[arg-type]
        now=world.tick(),
    )
    assert (draft.number, draft.state, draft.modification_number) == (2, "draft", 1)
    # While the revision is in progress, an extension would compete with it.
    with pytest.raises(Conflict, match="revision of this agreement is in progress"):
        ask(world, agreement, date(2028, 3, 31))
