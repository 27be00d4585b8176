"""Disputes that end (domain.md, "Joint accountability"), on both databases.

November 2026 of the example SLA (tests/workflow/commands/test_periods.py): proper-payments
missed with 99.0. The customer may accept the period with exceptions (final at once, the
exceptions wait for the next service review); a dispute that goes two rounds, or fifteen
business days, goes to both Executive Sponsors, who decide together: uphold the provider's
results (final) or sustain the dispute (back to the provider); when they differ, both decide
again.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from states import Role
from tests.helpers import C, P, World, make_world
from tests.workflow.commands.test_periods import DEC_1, NOVEMBER
from tests.workflow.test_compliance_sql import store
from workflow import audit, commands
from workflow.commands.calendar_jobs import run_calendar
from workflow.commands.service_reviews import Minutes, record_minutes
from workflow.errors import NotAllowedNow
from workflow.models import (
    Agreement,
    AuditEvent,
    ChronicMiss,
    OutboxMessage,
    PeriodDispute,
    PeriodException,
    ReportingPeriod,
    ServiceReview,
    Task,
)
from workflow.queries.periods import period_detail
from workflow.queries.service_reviews import service_review_agenda

NEW_YORK = ZoneInfo("America/New_York")
PM_P, FL_C = (P, Role.PROGRAM_MANAGER), (C, Role.FUNCTIONAL_LEAD)
ES_C, ES_P = (C, Role.EXECUTIVE_SPONSOR), (P, Role.EXECUTIVE_SPONSOR)
DISPUTE = [{"metric": "proper-payments", "reason": "Our data arrived late on the 28th."}]


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


@pytest.fixture
def submitted(world: World) -> Agreement:
    """November's results submitted by the provider on 1 December."""
    agreement = world.create()
    world.to_active(agreement)
    assert agreement.id is not None
    store(world.session, agreement.id, NOVEMBER)
    world.now = DEC_1
    commands.open_due_periods(world.session, now=DEC_1)
    fire(world, agreement, "submit", PM_P)
    return agreement


def fire(world: World, agreement: Agreement, event: str, by: Any, **kw: Any) -> ReportingPeriod:
    assert agreement.id is not None
    return commands.fire_period_event(
        world.session,
        actor=world.who(*by),
        agreement_id=agreement.id,
        period="2026-11",
        event=event,
        now=world.tick(),
        **kw,
    )


def period(world: World, agreement: Agreement) -> ReportingPeriod:
    world.session.rollback()
    return world.session.exec(
        select(ReportingPeriod).where(ReportingPeriod.agreement_id == agreement.id)
    ).one()


def topics(world: World) -> list[str]:
    world.session.rollback()
    return list(world.session.exec(select(OutboxMessage.topic).order_by(col(OutboxMessage.id))))


def actions(world: World, agreement: Agreement) -> list[str]:
    return list(
        world.session.exec(
            select(AuditEvent.action)
            .where(AuditEvent.agreement_id == agreement.id, col(AuditEvent.action).like("period.%"))
            .order_by(col(AuditEvent.seq))
        )
    )


def two_rounds(world: World, agreement: Agreement) -> None:
    fire(world, agreement, "dispute", FL_C, disputes=DISPUTE)
    fire(world, agreement, "resubmit", PM_P, comment="The data is right as loaded.")
    fire(world, agreement, "dispute", FL_C, disputes=DISPUTE)


def decide(world: World, agreement: Agreement, by: Any, outcome: str, comment: str = "") -> None:
    actor = world.who(*by)
    [task] = [t for t in world.open_tasks(agreement, "dispute_decision") if t.side == by[0]]
    world.complete(task, outcome, by=actor, comment=comment or None)


# ---- accepting with exceptions ---------------------------------------------------------------


def test_accepting_with_exceptions_is_final_and_lists_them(
    world: World, submitted: Agreement
) -> None:
    with pytest.raises(NotAllowedNow) as refused:
        fire(world, submitted, "accept_with_exceptions", FL_C, exceptions=[])
    assert "name at least one metric" in str(refused.value)
    with pytest.raises(NotAllowedNow) as refused:
        fire(
            world,
            submitted,
            "accept_with_exceptions",
            FL_C,
            exceptions=[{"metric": "nope", "reason": "x"}, {"metric": "prompt-payment"}],
        )
    assert "'nope' is not a metric of this period's results" in refused.value.reasons
    assert "the exception of 'prompt-payment' gives no reason" in refused.value.reasons
    assert period(world, submitted).state == "submitted"
    assert world.session.exec(select(PeriodException)).all() == []

    final = fire(
        world,
        submitted,
        "accept_with_exceptions",
        FL_C,
        exceptions=[{"metric": "proper-payments", "reason": "We still think it was met."}],
    )
    assert final.state == "final"
    row = period(world, submitted)
    assert row.final_hash == row.results_hash
    assert actions(world, submitted)[-2:] == ["period.accept_with_exceptions", "period.finalize"]
    assert "period.final" in topics(world)
    # The same finalize effects as a plain acceptance: corrective actions opened.
    assert {t.title for t in world.open_tasks(submitted, "corrective_action")} == {
        "Corrective action: Commercial invoices paid within 30 "
        "calendar days after receipt missed in 2026-11",
        "Corrective action: Proper payments, excluding customer errors missed in 2026-11",
    }
    assert submitted.id is not None
    detail = period_detail(world.session, world.who(*PM_P), submitted.id, "2026-11")
    [exception] = detail.exceptions
    assert (exception.metric, exception.reason, exception.state) == (
        "proper-payments",
        "We still think it was met.",
        "open",
    )
    assert audit.verify(world.session).ok


def test_exceptions_and_chronic_misses_wait_for_the_next_service_review_which_closes_them(
    world: World, submitted: Agreement, engine: Engine
) -> None:
    fire(
        world,
        submitted,
        "accept_with_exceptions",
        FL_C,
        exceptions=[{"metric": "proper-payments", "reason": "We still think it was met."}],
    )
    assert submitted.id is not None
    miss = ChronicMiss(
        agreement_id=submitted.id,
        metric_key="invoice-payment-timeliness",
        first_window="2026-09",
        windows=["2026-09", "2026-10", "2026-11"],
        detected_at=world.tick(),
    )
    world.session.add(miss)
    world.session.commit()
    agenda = service_review_agenda(world.session, submitted.id)
    kinds = [i.kind for i in agenda]
    assert kinds.count("dispute_exception") == 1
    assert kinds.count("chronic_miss") == 1
    assert kinds.count("corrective_action") == 2
    [item] = [i for i in agenda if i.kind == "dispute_exception"]
    assert "proper-payments in 2026-11" in item.title
    assert item.link == f"/slas/{submitted.id}/periods/2026-11"

    with Session(engine, expire_on_commit=False) as session:
        run_calendar(session, now=datetime(2027, 1, 1, 9, tzinfo=NEW_YORK))
    world.now = datetime(2027, 1, 8, 10, tzinfo=NEW_YORK)
    world.session.rollback()
    review = world.session.exec(select(ServiceReview)).one()
    # The review that opens lists the chronic miss: it no longer waits for one.
    assert world.session.get_one(ChronicMiss, miss.id).state == "on_agenda"
    listed = world.session.exec(
        select(AuditEvent).where(AuditEvent.action == "chronic_miss.on_agenda")
    ).one()
    assert json.loads(listed.body)["data"]["service_review_id"] == review.id
    assert [i.kind for i in service_review_agenda(world.session, submitted.id)].count(
        "chronic_miss"
    ) == 1
    record_minutes(
        world.session,
        actor=world.who(C, Role.PROGRAM_MANAGER),
        agreement_id=submitted.id,
        review_id=review.id or 0,
        minutes=Minutes(
            held_on=date(2027, 1, 7),
            attendees=[world.who(C, Role.PROGRAM_MANAGER).user_id],
            decisions=["The proper-payments exception stands; no credit"],
            action_items=[],
        ),
        now=world.tick(),
    )
    world.session.rollback()
    exception = world.session.exec(select(PeriodException)).one()
    assert (exception.state, exception.closed_by_review_id) == ("closed", review.id)
    assert world.session.get(ChronicMiss, miss.id).state == "closed"  # type: ignore[union-attr]
    stored = world.session.get(ServiceReview, review.id)
    assert stored is not None
    assert {a["kind"] for a in stored.agenda} == {
        "dispute_exception",
        "chronic_miss",
        "corrective_action",
    }
    # What is closed is no longer on the agenda; open corrective actions still are.
    assert {i.kind for i in service_review_agenda(world.session, submitted.id)} == {
        "corrective_action"
    }


# ---- escalation ------------------------------------------------------------------------------


def test_one_dispute_round_goes_back_to_the_provider(world: World, submitted: Agreement) -> None:
    fire(world, submitted, "dispute", FL_C, disputes=DISPUTE)
    row = period(world, submitted)
    assert (row.state, row.dispute_rounds) == ("disputed", 1)
    assert len(world.open_tasks(submitted, "address_dispute")) == 1
    assert world.open_tasks(submitted, "dispute_decision") == []


def test_the_second_dispute_round_escalates_to_both_sponsors(
    world: World, submitted: Agreement
) -> None:
    two_rounds(world, submitted)
    row = period(world, submitted)
    assert (row.state, row.dispute_rounds, row.escalations) == ("escalated", 2, 1)
    # No answer is asked of the provider: the Sponsors decide.
    assert world.open_tasks(submitted, "address_dispute") == []
    decisions = world.open_tasks(submitted, "dispute_decision")
    assert sorted((t.side, t.role) for t in decisions) == [
        ("customer", "executive_sponsor"),
        ("provider", "executive_sponsor"),
    ]
    assert all("proper-payments: Our data arrived late" in t.detail for t in decisions)
    assert actions(world, submitted)[-2:] == ["period.dispute", "period.escalate"]
    mail = world.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "period.escalated")
    ).one()
    assert mail.recipients["roles"] == [
        {"side": "customer", "role": "executive_sponsor"},
        {"side": "provider", "role": "executive_sponsor"},
    ]
    assert (mail.payload["trigger"], mail.payload["dispute_rounds"]) == ("rounds", 2)
    # Nobody fires a Sponsor decision by hand; the provider cannot resubmit any more.
    with pytest.raises(NotAllowedNow):
        fire(world, submitted, "resubmit", PM_P)


def test_a_dispute_escalates_after_its_business_days_from_the_calendar_job(
    world: World, engine: Engine
) -> None:
    agreement = world.create(dispute_escalation_rounds=5)
    world.to_active(agreement)
    assert agreement.id is not None
    store(world.session, agreement.id, NOVEMBER)
    world.now = DEC_1
    commands.open_due_periods(world.session, now=DEC_1)
    fire(world, agreement, "submit", PM_P)
    fire(world, agreement, "dispute", FL_C, disputes=DISPUTE)  # Tuesday 1 December
    since = period(world, agreement).disputed_since
    assert since is not None

    def job(day: datetime) -> None:
        with Session(engine, expire_on_commit=False) as session:
            run_calendar(session, now=day)

    # 15 business days after Tuesday 1 December is Tuesday 22 December; the day before,
    # nothing happens.
    job(datetime(2026, 12, 21, 9, tzinfo=NEW_YORK))
    assert period(world, agreement).state == "disputed"
    job(datetime(2026, 12, 22, 9, tzinfo=NEW_YORK))
    row = period(world, agreement)
    assert (row.state, row.dispute_rounds) == ("escalated", 1)
    assert world.open_tasks(agreement, "address_dispute") == []  # cancelled
    assert len(world.open_tasks(agreement, "dispute_decision")) == 2
    mail = world.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "period.escalated")
    ).one()
    assert mail.payload["trigger"] == "business_days"
    job(datetime(2026, 12, 28, 9, tzinfo=NEW_YORK))  # once only
    assert len(world.open_tasks(agreement, "dispute_decision")) == 2


def test_the_sponsors_uphold_the_results_and_the_report_is_final(
    world: World, submitted: Agreement
) -> None:
    two_rounds(world, submitted)
    decide(world, submitted, ES_C, "upheld", "The provider's data is right.")
    assert period(world, submitted).state == "escalated"  # one Sponsor is not enough
    decide(world, submitted, ES_P, "upheld")
    row = period(world, submitted)
    assert row.state == "final"
    assert row.final_hash == row.results_hash
    assert actions(world, submitted)[-2:] == ["period.uphold", "period.finalize"]
    disputes = world.session.exec(select(PeriodDispute).order_by(col(PeriodDispute.id))).all()
    assert disputes[-1].answer == (
        "upheld by both Executive Sponsors: customer: The provider's data is right."
    )
    decided = world.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "period.dispute_decided")
    ).one()
    assert decided.payload["decision"] == "upheld"
    assert "period.final" in topics(world)


def test_the_sponsors_sustain_the_dispute_and_it_goes_back_to_the_provider(
    world: World, submitted: Agreement
) -> None:
    two_rounds(world, submitted)
    decide(world, submitted, ES_C, "sustained", "Reload the 28th's file.")
    decide(world, submitted, ES_P, "sustained", "Agreed: reload it.")
    row = period(world, submitted)
    assert (row.state, row.dispute_rounds) == ("disputed", 0)  # the counts start again
    [answer] = world.open_tasks(submitted, "address_dispute")
    assert (answer.side, answer.role) == ("provider", "program_manager")
    assert "Reload the 28th's file." in answer.detail
    assert "Agreed: reload it." in answer.detail
    assert actions(world, submitted)[-1] == "period.sustain"
    decided = world.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "period.dispute_decided")
    ).one()
    assert decided.payload["decision"] == "sustained"
    assert [s["comment"] for s in decided.payload["sponsors"]] == [
        "Reload the 28th's file.",
        "Agreed: reload it.",
    ]
    # The provider answers; one more dispute round goes back to it, a second escalates again.
    fire(world, submitted, "resubmit", PM_P, comment="Reloaded.")
    fire(world, submitted, "dispute", FL_C, disputes=DISPUTE)
    assert period(world, submitted).state == "disputed"


def test_sponsors_who_differ_decide_again(world: World, submitted: Agreement) -> None:
    two_rounds(world, submitted)
    decide(world, submitted, ES_C, "sustained", "Reload it.")
    decide(world, submitted, ES_P, "upheld", "The data is right.")
    row = period(world, submitted)
    assert row.state == "escalated"
    again = world.open_tasks(submitted, "dispute_decision")
    assert len(again) == 2
    assert all("customer Sponsor sustained (Reload it.)" in t.detail for t in again)
    assert actions(world, submitted)[-1] == "period.reconsider"
    split = world.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "period.dispute_decided")
    ).one()
    assert split.payload["decision"] == "split"
    decide(world, submitted, ES_C, "upheld")
    decide(world, submitted, ES_P, "upheld")
    assert period(world, submitted).state == "final"
    completed = world.session.exec(
        select(Task).where(Task.kind == "dispute_decision", Task.state == "completed")
    ).all()
    assert len(completed) == 4


def test_escalation_settings_are_per_agreement_and_bounded(world: World) -> None:
    agreement = world.create(dispute_escalation_rounds=3, dispute_escalation_business_days=20)
    assert (agreement.dispute_escalation_rounds, agreement.dispute_escalation_business_days) == (
        3,
        20,
    )
    world.session.rollback()
    with pytest.raises(IntegrityError):  # the database holds the bounds too
        world.create(dispute_escalation_rounds=0)
