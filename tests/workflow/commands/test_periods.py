"""The reporting cycle of domain.md ("Monitoring and reports"), on both databases.

The example SLA becomes active on 2 November 2026, so its first period is 2026-11 (monthly
reporting, due the 10th calendar day after the month ends: 10 December). November's data:
- proper-payments (mean, ≥ 99.5): 99.0 → missed; the customer disputes it, the provider
  excuses it to the customer (late data) and resubmits → excused.
- invoice-payment-timeliness (mean, ≥ 98): mean(96, 98) = 97.0 → missed, unexcused → one
  corrective-action task for the provider's Program Manager when the report is final.
- prompt-payment (≥ 99.5): 99.9 → met; fbwt-difference (max, ≤ 2): max(1.0, 1.5) → met.
- payroll-posting-timeliness, customer-satisfaction and core-app-availability: met.
- customer-ar-response has no data: missing data, charged to the customer who provides it
  (a provider metric without data would block the submission); the quarterly ones close in
  December, not here.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlmodel import Session, col, delete, select

from states import Role, Side
from tests.helpers import World, make_world
from tests.proposals import accept
from tests.workflow.test_compliance_report import local, o
from tests.workflow.test_compliance_sql import store
from workflow import audit, commands
from workflow.commands.periods import MAX_PERIODS_PER_RUN, ended_windows
from workflow.content import Window
from workflow.errors import Forbidden, InvalidInput, NotAllowedNow, NotFound
from workflow.models import (
    Agreement,
    AuditEvent,
    Measurement,
    OutboxMessage,
    PeriodAmendment,
    PeriodDispute,
    ReportingPeriod,
    Task,
)
from workflow.queries.periods import period_detail

C, P = Side.CUSTOMER, Side.PROVIDER
DEC_1 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # 10:00 in New York
NOVEMBER = [
    o("proper-payments", local(2026, 11, 12), 99.0),
    o("invoice-payment-timeliness", local(2026, 11, 3), 96.0),
    o("invoice-payment-timeliness", local(2026, 11, 30, 23, 30), 98.0),
    o("invoice-payment-timeliness", local(2026, 12, 1, 0, 30), 10.0),  # December's
    o("prompt-payment", local(2026, 11, 20), 99.9),
    o("fbwt-difference", local(2026, 11, 2), 1.0),
    o("fbwt-difference", local(2026, 11, 25), 1.5),
    o("payroll-posting-timeliness", local(2026, 11, 16), 99.9),
    o("customer-satisfaction", local(2026, 11, 20), 91.0),
    o("core-app-availability", local(2026, 11, 30), 99.95),
]


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


@pytest.fixture
def active(world: World) -> Agreement:
    agreement = world.create()
    world.to_active(agreement)
    assert agreement.id is not None
    store(world.session, agreement.id, NOVEMBER)
    return agreement


def _open(world: World, at: datetime = DEC_1) -> commands.PeriodsOpened:
    world.now = at
    return commands.open_due_periods(world.session, now=at)


def _period(world: World, agreement: Agreement, label: str = "2026-11") -> ReportingPeriod:
    world.session.rollback()
    return world.session.exec(
        select(ReportingPeriod).where(
            ReportingPeriod.agreement_id == agreement.id, ReportingPeriod.period == label
        )
    ).one()


def _fire(
    world: World, agreement: Agreement, event: str, by: tuple[Side, Role], **kw: Any
) -> ReportingPeriod:
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


def _statuses(period: ReportingPeriod) -> dict[str, str]:
    assert period.results is not None
    return {m["key"]: m["windows"][0]["status"] for m in period.results["metrics"]}


def test_a_period_opens_when_it_ends_with_a_task_due_on_the_reporting_day(
    world: World, active: Agreement
) -> None:
    assert _open(world, datetime(2026, 12, 1, 4, 59, tzinfo=UTC)).opened == []  # 23:59 NY
    opened = _open(world)
    assert opened.opened == [(active.key, "2026-11")]
    period = _period(world, active)
    assert (period.state, period.first_day, period.last_day) == (
        "open",
        date(2026, 11, 1),
        date(2026, 11, 30),
    )
    assert period.due_on == date(2026, 12, 10)
    [task] = world.open_tasks(active, "submit_results")
    assert (task.side, task.role, task.due_on) == (
        "provider",
        "program_manager",
        date(2026, 12, 10),
    )
    assert task.assignee_id == world.who(P, Role.PROGRAM_MANAGER).user_id
    assert (task.period_id, task.version_id) == (period.id, None)
    assert _open(world).opened == []  # exactly once
    assert len(world.open_tasks(active, "submit_results")) == 1
    mail = world.session.exec(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == f"task.assigned:{task.id}")
    ).one()
    assert mail.recipients == {"user_ids": [task.assignee_id]}


def test_a_late_scheduler_opens_every_missed_period_once(world: World, active: Agreement) -> None:
    opened = _open(world, datetime(2027, 2, 3, 15, 0, tzinfo=UTC))
    assert [p for _, p in opened.opened] == ["2026-11", "2026-12", "2027-01"]
    assert _open(world, datetime(2027, 2, 4, 15, 0, tzinfo=UTC)).opened == []


def test_the_full_cycle_with_a_dispute_round(world: World, active: Agreement) -> None:
    _open(world)
    provider_pm, customer_fl = (P, Role.PROGRAM_MANAGER), (C, Role.FUNCTIONAL_LEAD)

    # Only the holder of the submit task may submit.
    with pytest.raises(Forbidden, match="provider Program Manager"):
        _fire(world, active, "submit", customer_fl)
    submitted = _fire(world, active, "submit", provider_pm)
    assert (submitted.state, submitted.round) == ("submitted", 1)
    period = _period(world, active)
    assert _statuses(period) == {
        "prompt-payment": "met",
        "proper-payments": "missed",
        "invoice-payment-timeliness": "missed",
        "payroll-posting-timeliness": "met",
        "fbwt-difference": "met",
        "customer-ar-response": "missing_data",
        "customer-satisfaction": "met",
        "core-app-availability": "met",
    }
    invoice = next(m for m in period.results["metrics"] if m["key"] == "invoice-payment-timeliness")  # type: ignore[index]
    assert invoice["windows"][0]["actual"] == 97.0
    first_hash = period.results_hash
    assert first_hash is not None
    assert len(first_hash) == 64
    [review] = world.open_tasks(active, "review_results")
    assert (review.side, review.role) == ("customer", "functional_lead")
    assert review.due_on == date(2026, 12, 8)  # 5 business days after Tuesday 1 December

    # A dispute must name metrics of the report, each with a reason; a bad one writes nothing.
    with pytest.raises(NotAllowedNow) as refused:
        _fire(world, active, "dispute", customer_fl, disputes=[{"metric": "nope", "reason": "x"}])
    assert "'nope' is not a metric of this period's results" in refused.value.reasons
    with pytest.raises(NotAllowedNow):
        _fire(world, active, "dispute", customer_fl, disputes=[])
    assert _period(world, active).state == "submitted"
    assert world.session.exec(select(PeriodDispute)).all() == []

    disputed = _fire(
        world,
        active,
        "dispute",
        customer_fl,
        disputes=[{"metric": "proper-payments", "reason": "Our data arrived late on the 28th."}],
    )
    assert disputed.state == "disputed"
    [answer] = world.open_tasks(active, "address_dispute")
    assert (answer.side, answer.role) == ("provider", "program_manager")
    assert "proper-payments: Our data arrived late on the 28th." in answer.detail
    assert world.open_tasks(active, "review_results") == []

    # The provider excuses the miss to the customer (who accepts it) and resubmits.
    assert active.id is not None
    excusal = commands.excuse_miss(
        world.session,
        actor=world.who(*provider_pm),
        agreement_id=active.id,
        metric="proper-payments",
        window="2026-11",
        party="customer",
        reason="customer data late",
        now=world.tick(),
    )
    accept(world, excusal)
    resubmitted = _fire(world, active, "resubmit", provider_pm, comment="Excused: late data.")
    assert (resubmitted.state, resubmitted.round) == ("resubmitted", 2)
    period = _period(world, active)
    assert _statuses(period)["proper-payments"] == "excused"
    assert period.results_hash != first_hash
    dispute = world.session.exec(select(PeriodDispute)).one()
    assert (dispute.round, dispute.answer) == (1, "Excused: late data.")

    # Accepting makes the report final: frozen by its hash, audited, mailed, actions opened.
    final = _fire(world, active, "accept", customer_fl)
    assert final.state == "final"
    period = _period(world, active)
    assert period.final_hash == period.results_hash
    events = world.session.exec(
        select(AuditEvent)
        .where(AuditEvent.agreement_id == active.id, col(AuditEvent.action).like("period.%"))
        .order_by(col(AuditEvent.seq))
    ).all()
    assert [e.action for e in events] == [
        "period.opened",
        "period.submit",
        "period.dispute",
        "period.resubmit",
        "period.accept",
        "period.finalize",
    ]
    assert json.loads(events[-1].body)["data"]["final_hash"] == period.final_hash
    [action] = world.open_tasks(active, "corrective_action")
    assert (
        action.title == "Corrective action: Commercial invoices paid within 30 "
        "calendar days after receipt missed in 2026-11"
    )
    assert (action.side, action.role) == ("provider", "program_manager")
    mail = world.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "period.final")
    ).one()
    assert mail.recipients == {"stakeholders": "all"}
    assert mail.payload["content_hash"] == period.final_hash
    # The row holds the report as data (tests/notifications/test_end_to_end.py renders it).
    assert mail.payload["report"] == period.results
    # The charts will show the six months up to the period, as recorded now.
    trend = mail.payload["trend"]["period"]
    assert (trend["first_day"], trend["last_day"]) == ("2026-06-01", "2026-11-30")
    assert_no_html(mail.payload)
    assert audit.verify(world.session).ok

    # Nothing moves a final report; corrections are amendments.
    with pytest.raises(NotAllowedNow):
        _fire(world, active, "dispute", customer_fl, disputes=[{"metric": "x", "reason": "y"}])


def test_tasks_complete_the_cycle_as_the_events_do(world: World, active: Agreement) -> None:
    _open(world)
    [submit] = world.open_tasks(active, "submit_results")
    world.complete(submit, "done")
    assert _period(world, active).state == "submitted"
    [review] = world.open_tasks(active, "review_results")
    # A dispute from a task names no metric: refused with the reason, the task stays open.
    with pytest.raises(NotAllowedNow, match="name at least one metric"):
        world.complete(review, "disputed", comment="wrong")
    with pytest.raises(InvalidInput, match="not an outcome"):
        world.complete(review, "approved")
    world.complete(review, "accepted")
    assert _period(world, active).state == "final"
    assert world.open_tasks(active, "review_results") == []


def test_an_amendment_recomputes_and_keeps_the_final_hash(world: World, active: Agreement) -> None:
    _open(world)
    _fire(world, active, "submit", (P, Role.PROGRAM_MANAGER))
    _fire(world, active, "accept", (C, Role.FUNCTIONAL_LEAD))
    frozen = _period(world, active)
    assert frozen.final_hash is not None
    assert active.id is not None
    with pytest.raises(Forbidden):
        commands.amend_period(
            world.session,
            actor=world.who(C, Role.PMO_TEAM),
            agreement_id=active.id,
            period="2026-11",
            reason="x",
            now=world.tick(),
        )
    with pytest.raises(InvalidInput):
        commands.amend_period(
            world.session,
            actor=world.who(P, Role.PROGRAM_MANAGER),
            agreement_id=active.id,
            period="2026-11",
            reason="  ",
            now=world.tick(),
        )
    # A late reading of customer-ar-response arrives; the provider proposes an amendment,
    # which the customer accepts.
    store(world.session, active.id, [o("customer-ar-response", local(2026, 11, 9), 90.0)])
    proposal = commands.amend_period(
        world.session,
        actor=world.who(P, Role.PROGRAM_MANAGER),
        agreement_id=active.id,
        period="2026-11",
        reason="late AR data",
        now=world.tick(),
    )
    assert world.session.exec(select(PeriodAmendment)).all() == []
    accept(world, proposal)
    amendment = world.session.exec(select(PeriodAmendment)).one()
    assert amendment.number == 1
    period = _period(world, active)
    assert period.final_hash == frozen.final_hash  # the final report stays on record
    assert period.results_hash == amendment.content_hash != frozen.final_hash
    assert _statuses(period)["customer-ar-response"] == "missed"
    titles = {t.title for t in world.open_tasks(active, "corrective_action")}
    assert titles == {
        "Corrective action: Commercial invoices paid within 30 "
        "calendar days after receipt missed in 2026-11",
        "Corrective action: Proper payments, excluding customer errors missed in 2026-11",
        "Corrective action: Customer responds to Federal AR "
        "questions within 3 government work days missed in 2026-11",
    }
    stored = world.session.exec(select(PeriodAmendment)).one()
    assert stored.reason == "late AR data"
    amended = world.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "period.amended")
    ).one()
    assert amended.payload["amendment"] == 1
    assert amended.payload["report"] == stored.results  # the amendment's, as data
    assert_no_html(amended.payload)
    detail = period_detail(world.session, world.who(C, Role.BUSINESS_OWNER), active.id, "2026-11")
    assert detail.amendments == 1
    assert detail.amendment_history[0].content_hash == amendment.content_hash


def test_a_quarterly_month_reports_the_quarter_too(world: World) -> None:
    agreement = world.create()
    world.to_active(agreement)
    assert agreement.id is not None
    store(
        world.session,
        agreement.id,
        [
            o("payroll-accuracy", local(2026, 10, 5), 99.9),
            o("payroll-accuracy", local(2026, 12, 5), 99.5),
        ],
    )
    _open(world, datetime(2027, 1, 2, 15, 0, tzinfo=UTC))
    period = _period(world, agreement, "2026-12")
    assert period.state == "open"
    world.session.rollback()
    world.report_the_rest(agreement, "2026-12")
    commands.fire_period_event(
        world.session,
        actor=world.who(P, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,
        period="2026-12",
        event="submit",
        now=world.tick(),
    )
    results = _period(world, agreement, "2026-12").results
    assert results is not None
    windows = {(m["key"], w["window"]): w for m in results["metrics"] for w in m["windows"]}
    # The whole quarter, October to December: mean(99.9, 99.5) = 99.7 < 99.8 → missed.
    assert windows[("payroll-accuracy", "2026-Q4")]["actual"] == 99.7
    assert windows[("payroll-accuracy", "2026-Q4")]["status"] == "missed"
    assert ("prompt-payment", "2026-12") in windows
    assert not any(w["window"] == "2026-11" for w in windows.values())
    november = _period(world, agreement, "2026-11")
    assert november.results is None  # not submitted


def test_strangers_and_unknown_periods_get_not_found(world: World, active: Agreement) -> None:
    _open(world)
    assert active.id is not None
    with pytest.raises(NotFound):
        commands.fire_period_event(
            world.session,
            actor=world.who(P, Role.PROGRAM_MANAGER),
            agreement_id=active.id,
            period="2026-10",
            event="submit",
            now=world.tick(),
        )
    with pytest.raises(NotFound):
        commands.fire_period_event(
            world.session,
            actor=world.who(P, Role.PROGRAM_MANAGER),
            agreement_id=active.id,
            period="2026-11",
            event="explode",
            now=world.tick(),
        )
    world.session.rollback()
    assert world.session.exec(select(Task).where(col(Task.period_id).is_not(None))).all()


def test_a_long_backlog_opens_36_periods_a_run_and_then_the_next_ones() -> None:
    first = ended_windows(date(2020, 1, 15), date(2026, 12, 1), Window.MONTH, None)
    assert [w.label for w in (first[0], first[-1])] == ["2020-01", "2022-12"]
    assert len(first) == MAX_PERIODS_PER_RUN == 36
    second = ended_windows(
        date(2020, 1, 15),
        date(2026, 12, 1),
        Window.MONTH,
        None,
        opened={w.label for w in first},
    )
    assert [w.label for w in (second[0], second[-1])] == ["2023-01", "2025-12"]
    ended = ended_windows(date(2026, 2, 10), date(2026, 12, 1), Window.QUARTER, date(2026, 7, 3))
    assert [w.label for w in ended] == ["2026-Q1", "2026-Q2", "2026-Q3"]  # Q3 holds the end


def assert_no_html(payload: dict[str, Any]) -> None:
    """An outbox payload is data: the email's HTML is rendered when it is sent."""
    stored = json.dumps(payload)
    for markup in ("<td", "<table", "<div", "<body", "style=", "report_html"):
        assert markup not in stored, markup


def test_a_provider_window_without_data_blocks_the_submission_and_is_named(
    world: World, active: Agreement
) -> None:
    _open(world)
    assert active.id is not None
    # core-app-availability is the provider's and has no November reading in this world
    world.session.exec(
        delete(Measurement).where(
            col(Measurement.agreement_id) == active.id,
            col(Measurement.metric_key) == "core-app-availability",
        )
    )
    world.session.commit()
    with pytest.raises(NotAllowedNow, match="must have data or an excusal") as refused:
        _fire(world, active, "submit", (P, Role.PROGRAM_MANAGER))
    assert refused.value.reasons[-1] == (
        "Core financial and payroll application availability in scheduled hours has no data for "
        "2026-11: load it, or propose an excusal"
    )
    period = _period(world, active)
    assert (period.state, period.round, period.results) == ("open", 0, None)
    # the customer's own metric without data does not block: it is charged to the customer
    assert world.report_the_rest(active, "2026-11") == [("core-app-availability", "2026-11")]
    submitted = _fire(world, active, "submit", (P, Role.PROGRAM_MANAGER))
    ar = next(m for m in submitted.results["metrics"] if m["key"] == "customer-ar-response")  # type: ignore[index]
    assert (ar["windows"][0]["status"], ar["windows"][0]["charged_to"]) == (
        "missing_data",
        "customer",
    )


def test_a_first_submission_after_the_reporting_day_is_flagged_late(
    world: World, active: Agreement
) -> None:
    _open(world)
    world.now = datetime(2026, 12, 11, 15, 0, tzinfo=UTC)  # the day after the reporting day
    _fire(world, active, "submit", (P, Role.PROGRAM_MANAGER))
    assert active.id is not None
    view = period_detail(world.session, world.who(C, Role.FUNCTIONAL_LEAD), active.id, "2026-11")
    assert (view.late, view.due_on) == (True, date(2026, 12, 10))
    submit = world.session.exec(
        select(AuditEvent).where(AuditEvent.action == "period.submit")
    ).one()
    assert json.loads(submit.body)["data"]["late"] == {"due_on": "2026-12-10"}


def test_a_submission_on_the_reporting_day_is_on_time(world: World, active: Agreement) -> None:
    _open(world)
    world.now = datetime(2026, 12, 11, 4, 30, tzinfo=UTC)  # 23:30 on the 10th in New York
    _fire(world, active, "submit", (P, Role.PROGRAM_MANAGER))
    assert active.id is not None
    view = period_detail(world.session, world.who(P, Role.PROGRAM_MANAGER), active.id, "2026-11")
    assert view.late is False


def test_a_customer_owned_miss_opens_a_customer_action_and_costs_the_provider_nothing(
    world: World, active: Agreement
) -> None:
    assert active.id is not None
    # the customer answered only 80% of the provider's AR questions in time (target 100%)
    store(world.session, active.id, [o("customer-ar-response", local(2026, 11, 18), 80.0)])
    _open(world)
    _fire(world, active, "submit", (P, Role.PROGRAM_MANAGER))
    _fire(world, active, "accept", (C, Role.FUNCTIONAL_LEAD))
    period = _period(world, active)
    assert period.results is not None
    ar = next(m for m in period.results["metrics"] if m["key"] == "customer-ar-response")
    assert (ar["windows"][0]["status"], ar["windows"][0]["charged_to"]) == ("missed", "customer")
    actions = {
        (t.title.split(": ", 1)[1], t.side, t.role)
        for t in world.open_tasks(active, "corrective_action")
    }
    assert actions == {
        (
            "Customer responds to Federal AR questions within 3 "
            "government work days missed in 2026-11",
            "customer",
            "program_manager",
        ),
        (
            "Proper payments, excluding customer errors missed in 2026-11",
            "provider",
            "program_manager",
        ),
        (
            "Commercial invoices paid within 30 calendar days after receipt missed in 2026-11",
            "provider",
            "program_manager",
        ),
    }
    [customer_action] = [
        t for t in world.open_tasks(active, "corrective_action") if t.side == "customer"
    ]
    assert customer_action.assignee_id == world.who(C, Role.PROGRAM_MANAGER).user_id
    assert period.results["totals"]["charged"] == {"customer": 1, "provider": 2}
