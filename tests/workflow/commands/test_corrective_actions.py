"""Corrective action plans (domain.md, "Joint accountability"), on both databases.

The example SLA's November 2026 report (tests/workflow/commands/test_periods.py) misses
proper-payments and invoice-payment-timeliness, both charged to the provider: when it is final,
each opens a corrective action owned by the provider. The provider's Program Manager submits a
plan (root cause, actions with owners and due dates, a target date); the customer's Program
Manager (or Functional Lead) accepts it or asks for rework; the provider reports completion and
the customer confirms closure. An excused miss cancels its action; withdrawing the excusal
opens it again. Three consecutive misses of one metric are a chronic miss, escalated once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from states import Role, Side
from tests.helpers import World, make_world
from tests.workflow.commands.test_periods import NOVEMBER
from tests.workflow.test_compliance_report import local, o
from tests.workflow.test_compliance_sql import store
from workflow import audit, commands
from workflow.chronic_misses import open_chronic_misses, previous_window
from workflow.command import command
from workflow.corrective_actions import (
    cancel_for_excusal,
    open_for_miss,
    reopen_after_withdrawal,
)
from workflow.corrective_plan import Plan, PlannedAction
from workflow.errors import Forbidden, InvalidInput, NotAllowedNow
from workflow.example import load_example
from workflow.models import (
    Agreement,
    AuditEvent,
    ChronicMiss,
    CorrectiveAction,
    OutboxMessage,
    Task,
)
from workflow.subjects.period import lock_period
from workflow.subjects.period_effects import open_corrective_actions

C, P = Side.CUSTOMER, Side.PROVIDER
PM, FL = Role.PROGRAM_MANAGER, Role.FUNCTIONAL_LEAD
DEC_1 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
METRIC = "invoice-payment-timeliness"
METRIC_NAME = "Commercial invoices paid within 30 calendar days after receipt"


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


def _finalize(world: World, agreement: Agreement, label: str, at: datetime) -> None:
    assert agreement.id is not None
    world.now = at
    commands.open_due_periods(world.session, now=at)
    for event, side, role in (("submit", P, PM), ("accept", C, FL)):
        commands.fire_period_event(
            world.session,
            actor=world.who(side, role),
            agreement_id=agreement.id,
            period=label,
            event=event,
            now=world.tick(),
        )


def _action(world: World, agreement: Agreement, metric: str = METRIC) -> CorrectiveAction:
    world.session.rollback()
    return world.session.exec(
        select(CorrectiveAction).where(
            CorrectiveAction.agreement_id == agreement.id, CorrectiveAction.metric_key == metric
        )
    ).one()


def _plan(world: World, **changes: Any) -> Plan:
    today = world.now.date()
    fields: dict[str, Any] = {
        "root_cause": "Invoices keyed after the cut-off while the batch job was down",
        "actions": (
            PlannedAction(
                "Monitor the nightly batch and page on failure",
                world.who(P, Role.TECHNICAL_LEAD).user_id,
                today + timedelta(days=10),
            ),
            PlannedAction(
                "Key late invoices first the next morning",
                world.who(P, PM).user_id,
                today + timedelta(days=20),
            ),
        ),
        "target_date": today + timedelta(days=30),
    }
    fields.update(changes)
    return Plan(**fields)


def _step(
    world: World, action: CorrectiveAction, event: str, by: tuple[Side, Role], **kw: Any
) -> CorrectiveAction:
    assert action.id is not None
    return commands.fire_corrective_action_event(
        world.session,
        actor=world.who(*by),
        action_id=action.id,
        event=event,
        now=world.tick(),
        **kw,
    )


def _month(year: int, month: int, invoices: float) -> list[Any]:
    """A month of readings: invoice-payment-timeliness at `invoices`, every other metric at
    its target (a period is not submitted while a provider metric has no data); in the last
    month of a quarter, the quarterly metrics too."""
    readings = [o(METRIC, local(year, month, 15), invoices)]
    for metric in load_example()["metrics"]:
        closes = metric["window"] == "month" or month % 3 == 0
        if metric["key"] != METRIC and closes:
            target = float(metric["target"])
            value = target / 2 if metric["direction"] == "lower_is_better" else target
            readings.append(o(metric["key"], local(year, month, 16), value))
    return readings


def _open_steps(world: World, action: CorrectiveAction) -> list[tuple[str, str, int | None]]:
    world.session.rollback()
    tasks = world.session.exec(
        select(Task)
        .where(Task.corrective_action_id == action.id, Task.state == "open")
        .order_by(col(Task.id))
    ).all()
    return [(t.kind, t.side, t.assignee_id) for t in tasks]


def test_each_side_charged_gets_its_own_action_owned_by_its_program_manager(
    world: World, active: Agreement
) -> None:
    """A customer miss opens a customer action for the customer's Program Manager; a shared
    miss comes as one entry per side; results stored before attribution are the provider's."""
    world.now = DEC_1
    commands.open_due_periods(world.session, now=DEC_1)
    assert active.id is not None
    entries = [
        {"metric_key": "customer-ar-response", "window": "2026-11", "target": 95.0,
         "actual": 90.0, "side": "customer"},
        {"metric_key": "prompt-payment", "window": "2026-11", "target": 99.5, "actual": 98.0,
         "side": "customer"},
        {"metric_key": "prompt-payment", "window": "2026-11", "target": 99.5, "actual": 98.0,
         "side": "provider"},
        {"metric_key": "fbwt-difference", "window": "2026-11", "target": 2.0, "actual": 3.0},
    ]  # fmt: skip
    with command(world.session) as tx:
        subject = lock_period(tx, active.id, None, world.tick(), label="2026-11")
        subject.period.results = {"corrective_actions": entries}
        recorded = open_corrective_actions(subject, world.now)
        # Opened again (an amendment listing the same misses): nothing new.
        assert open_corrective_actions(subject, world.now) == {}
        tx.rollback()  # the period's results are not ours to keep; the actions neither
    assert [(a["metric"], a["side"]) for a in recorded["corrective_actions"]] == [
        ("customer-ar-response", "customer"),
        ("prompt-payment", "customer"),
        ("prompt-payment", "provider"),
        ("fbwt-difference", "provider"),
    ]
    with command(world.session) as tx:
        subject = lock_period(tx, active.id, None, world.tick(), label="2026-11")
        subject.period.results = {"corrective_actions": entries[:1]}
        open_corrective_actions(subject, world.now)
    action = _action(world, active, "customer-ar-response")
    assert (action.side, action.state, action.actual) == ("customer", "open", 90.0)
    [task] = world.session.exec(select(Task).where(Task.corrective_action_id == action.id)).all()
    assert (task.kind, task.side, task.role) == ("corrective_action", "customer", "program_manager")
    assert task.assignee_id == world.who(C, PM).user_id
    assert (
        task.title == "Corrective action: Customer responds to Federal AR "
        "questions within 3 government work days missed in 2026-11"
    )
    assert "charged to the customer" in task.detail


def test_plan_accept_complete_close(world: World, active: Agreement) -> None:
    _finalize(world, active, "2026-11", DEC_1)
    action = _action(world, active)
    assert (action.side, action.state, action.window) == ("provider", "open", "2026-11")
    assert _open_steps(world, action) == [
        ("corrective_action", "provider", world.who(P, PM).user_id)
    ]

    plan = _plan(world)
    _step(world, action, "submit_plan", (P, PM), plan=plan)
    action = _action(world, active)
    assert action.state == "plan_submitted"
    assert action.root_cause == plan.root_cause
    assert [a["due_on"] for a in action.actions] == [
        a.due_on.isoformat() for a in plan.actions if a.due_on
    ]
    assert action.target_date == plan.target_date
    assert _open_steps(world, action) == [
        ("corrective_plan_review", "customer", world.who(C, PM).user_id)
    ]

    _step(world, action, "accept_plan", (C, PM))
    action = _action(world, active)
    assert action.state == "in_progress"
    [(kind, side, _)] = _open_steps(world, action)
    assert (kind, side) == ("corrective_action_completion", "provider")
    completion = world.session.exec(
        select(Task).where(Task.corrective_action_id == action.id, Task.state == "open")
    ).one()
    assert completion.due_on == plan.target_date  # carried out by the plan's own date

    _step(world, action, "report_completion", (P, PM), comment="Monitoring live since 14 Dec")
    assert _action(world, active).state == "completed"
    assert [k for k, _, _ in _open_steps(world, action)] == ["corrective_action_closure"]
    # The customer's Functional Lead may confirm for the customer, as the Program Manager may.
    _step(world, action, "confirm_closure", (C, FL))
    action = _action(world, active)
    assert action.state == "closed"
    assert _open_steps(world, action) == []
    assert [(h["event"], h["to_state"], h["comment"]) for h in action.history] == [
        ("submit_plan", "plan_submitted", None),
        ("accept_plan", "in_progress", None),
        ("report_completion", "completed", "Monitoring live since 14 Dec"),
        ("confirm_closure", "closed", None),
    ]
    assert action.history[-1]["actor_id"] == world.who(C, FL).user_id

    events = world.session.exec(
        select(AuditEvent)
        .where(col(AuditEvent.action).like("corrective_action.%"))
        .order_by(col(AuditEvent.seq))
    ).all()
    assert [e.action for e in events] == [
        "corrective_action.submit_plan",
        "corrective_action.accept_plan",
        "corrective_action.report_completion",
        "corrective_action.confirm_closure",
    ]
    submitted = json.loads(events[0].body)["data"]
    assert submitted["after"]["root_cause"] == plan.root_cause
    assert submitted["corrective_action_id"] == action.id
    mails = world.session.exec(
        select(OutboxMessage)
        .where(col(OutboxMessage.topic).like("corrective_action.%"))
        .order_by(col(OutboxMessage.id))
    ).all()
    assert [m.topic for m in mails] == [
        "corrective_action.plan_submitted",
        "corrective_action.plan_accepted",
        "corrective_action.completion_reported",
        "corrective_action.closed",
    ]
    both = [
        {"side": "customer", "role": "program_manager"},
        {"side": "provider", "role": "program_manager"},
    ]
    assert all(m.recipients["roles"] == both for m in mails)
    assert mails[0].payload["corrective_action"]["root_cause"] == plan.root_cause
    # The emails name the metric as the period's results do.
    assert mails[0].payload["corrective_action"]["metric_name"] == METRIC_NAME
    assert audit.verify(world.session).ok


def test_rework_sends_the_plan_back_to_its_owner(world: World, active: Agreement) -> None:
    _finalize(world, active, "2026-11", DEC_1)
    action = _action(world, active)
    _step(world, action, "submit_plan", (P, PM), plan=_plan(world))
    with pytest.raises(InvalidInput, match="needs a comment"):
        _step(world, action, "request_rework", (C, PM))
    _step(world, action, "request_rework", (C, PM), comment="The root cause is a symptom")
    action = _action(world, active)
    assert action.state == "open"
    assert _open_steps(world, action) == [
        ("corrective_action", "provider", world.who(P, PM).user_id)
    ]
    assert action.root_cause is not None  # kept as the start of the next draft
    mail = world.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "corrective_action.rework_requested")
    ).one()
    assert mail.payload["comment"] == "The root cause is a symptom"
    # The plan task completes with a plan: from My tasks, a bare "submitted" is refused.
    [task] = [
        t
        for t in world.open_tasks(active, "corrective_action")
        if t.corrective_action_id == action.id
    ]
    with pytest.raises(InvalidInput, match="root_cause"):
        world.complete(task, "plan_submitted")
    _step(
        world, action, "submit_plan", (P, PM), plan=_plan(world, root_cause="Batch monitoring gap")
    )
    action = _action(world, active)
    assert (action.state, action.root_cause) == ("plan_submitted", "Batch monitoring gap")
    assert [h["event"] for h in action.history] == ["submit_plan", "request_rework", "submit_plan"]


def test_only_the_right_side_may_take_each_step(world: World, active: Agreement) -> None:
    _finalize(world, active, "2026-11", DEC_1)
    action = _action(world, active)
    with pytest.raises(Forbidden, match="provider Program Manager"):
        _step(world, action, "submit_plan", (C, PM), plan=_plan(world))
    with pytest.raises(Forbidden):
        _step(world, action, "submit_plan", (P, FL), plan=_plan(world))
    with pytest.raises(NotAllowedNow, match="accept_plan is not allowed while"):
        _step(world, action, "accept_plan", (C, PM))
    _step(world, action, "submit_plan", (P, PM), plan=_plan(world))
    with pytest.raises(Forbidden, match="customer Program Manager or Functional Lead"):
        _step(world, action, "accept_plan", (P, PM))
    with pytest.raises(Forbidden):
        _step(world, action, "accept_plan", (C, Role.TECHNICAL_LEAD))
    assert _action(world, active).state == "plan_submitted"


def test_an_incomplete_plan_is_refused_naming_each_field(world: World, active: Agreement) -> None:
    _finalize(world, active, "2026-11", DEC_1)
    action = _action(world, active)
    with pytest.raises(InvalidInput) as empty:
        _step(world, action, "submit_plan", (P, PM), plan=Plan())
    assert [e["field"] for e in empty.value.errors] == ["root_cause", "actions", "target_date"]
    today = world.now.date()
    outsider = 999_999
    bad = _plan(
        world,
        root_cause="  ",
        actions=(
            PlannedAction("", outsider, today - timedelta(days=1)),
            PlannedAction("Fix the batch", world.who(P, PM).user_id, today + timedelta(days=40)),
            PlannedAction("Train the clerks", None, None),
        ),
        target_date=today + timedelta(days=30),
    )
    with pytest.raises(InvalidInput) as wrong:
        _step(world, action, "submit_plan", (P, PM), plan=bad)
    assert [e["field"] for e in wrong.value.errors] == [
        "root_cause",
        "actions[0].description",
        "actions[0].owner_id",
        "actions[0].due_on",
        "actions[2].owner_id",
        "actions[2].due_on",
        "target_date",
    ]
    assert "every action's due date" in wrong.value.errors[-1]["message"]
    past = _plan(world, target_date=today - timedelta(days=1), actions=())
    with pytest.raises(InvalidInput) as late:
        _step(world, action, "submit_plan", (P, PM), plan=past)
    assert {e["field"]: e["message"] for e in late.value.errors}["target_date"].startswith(
        "must not be in the past"
    )
    action = _action(world, active)
    assert (action.state, action.root_cause, action.history) == ("open", None, [])


def test_an_excusal_cancels_the_action_and_its_withdrawal_reopens_it(
    world: World, active: Agreement
) -> None:
    _finalize(world, active, "2026-11", DEC_1)
    assert active.id is not None
    [plan_task] = open_for_miss(world.session, active.id, METRIC, "2026-11")
    assert plan_task.kind == "corrective_action"
    assert open_for_miss(world.session, active.id, METRIC, "2026-10") == []
    action = _action(world, active)
    _step(world, action, "submit_plan", (P, PM), plan=_plan(world))
    [review] = world.open_tasks(active, "corrective_plan_review")

    with command(world.session) as tx:
        cancelled = cancel_for_excusal(
            tx,
            world.session,
            agreement_id=active.id,
            metric_key=METRIC,
            window="2026-11",
            reason="excused: the customer sent the invoices late",
            now=world.tick(),
        )
    assert cancelled == [review.id]
    action = _action(world, active)
    assert (action.state, action.cancel_reason) == (
        "cancelled",
        "excused: the customer sent the invoices late",
    )
    assert world.session.get(Task, review.id).state == "cancelled"  # type: ignore[union-attr]
    assert open_for_miss(world.session, active.id, METRIC, "2026-11") == []
    other = _action(world, active, "proper-payments")
    assert other.state == "open"  # another miss's action is untouched

    with command(world.session) as tx:
        reopened = reopen_after_withdrawal(
            tx,
            world.session,
            agreement_id=active.id,
            metric_key=METRIC,
            window="2026-11",
            now=world.tick(),
        )
    [new_task] = open_for_miss(world.session, active.id, METRIC, "2026-11")
    assert reopened == [new_task.id]
    assert (new_task.side, new_task.assignee_id) == ("provider", world.who(P, PM).user_id)
    assert _action(world, active).state == "open"
    # Neither runs twice: nothing left to cancel twice, nothing cancelled to reopen.
    with command(world.session) as tx:
        again = reopen_after_withdrawal(
            tx, world.session, agreement_id=active.id, metric_key=METRIC, window="2026-11",
            now=world.tick(),
        )  # fmt: skip
    assert again == []
    events = world.session.exec(
        select(AuditEvent.action)
        .where(col(AuditEvent.action).in_(("corrective_action.cancel", "corrective_action.reopen")))
        .order_by(col(AuditEvent.seq))
    ).all()
    assert events == ["corrective_action.cancel", "corrective_action.reopen"]
    assert audit.verify(world.session).ok


def test_three_consecutive_misses_escalate_once_as_a_chronic_miss(
    world: World, active: Agreement
) -> None:
    assert active.id is not None
    later = [*_month(2026, 12, 95.0), *_month(2027, 1, 94.0), *_month(2027, 2, 93.0)]
    store(world.session, active.id, later)
    _finalize(world, active, "2026-11", DEC_1)
    _finalize(world, active, "2026-12", datetime(2027, 1, 4, 15, tzinfo=UTC))
    assert open_chronic_misses(world.session, active.id) == []
    _finalize(world, active, "2027-01", datetime(2027, 2, 1, 15, tzinfo=UTC))
    chronic = [m for m in open_chronic_misses(world.session, active.id) if m.metric_key == METRIC]
    assert [(m.first_window, m.windows, m.state) for m in chronic] == [
        ("2026-11", ["2026-11", "2026-12", "2027-01"], "open")
    ]
    # A fourth miss extends the run: nobody is told twice.
    _finalize(world, active, "2027-02", datetime(2027, 3, 1, 15, tzinfo=UTC))
    rows = world.session.exec(select(ChronicMiss).where(ChronicMiss.metric_key == METRIC)).all()
    assert len(rows) == 1
    mails = [
        m
        for m in world.session.exec(
            select(OutboxMessage).where(OutboxMessage.topic == "chronic_miss.detected")
        ).all()
        if m.payload["metric_key"] == METRIC
    ]
    assert len(mails) == 1
    assert mails[0].recipients["roles"] == [
        {"side": "customer", "role": "executive_sponsor"},
        {"side": "provider", "role": "executive_sponsor"},
    ]
    assert mails[0].payload["windows"] == ["2026-11", "2026-12", "2027-01"]
    assert mails[0].payload["metric_name"] == METRIC_NAME
    detected = [
        json.loads(e.body)["data"]
        for e in world.session.exec(
            select(AuditEvent).where(AuditEvent.action == "chronic_miss.detected")
        ).all()
    ]
    assert [d["period"] for d in detected if d["metric"] == METRIC] == ["2027-01"]


def test_the_agreement_sets_how_many_misses_are_chronic(world: World, active: Agreement) -> None:
    assert active.id is not None
    with command(world.session) as tx:
        agreement = world.session.get(Agreement, active.id)
        assert agreement is not None
        assert agreement.chronic_miss_windows == 3
        agreement.chronic_miss_windows = 2
        world.session.add(agreement)
        tx.audit(action="test.setup", now=world.now, agreement_id=active.id)
    store(world.session, active.id, _month(2026, 12, 95.0))
    _finalize(world, active, "2026-11", DEC_1)
    _finalize(world, active, "2026-12", datetime(2027, 1, 4, 15, tzinfo=UTC))
    [chronic] = [m for m in open_chronic_misses(world.session, active.id) if m.metric_key == METRIC]
    assert chronic.windows == ["2026-11", "2026-12"]


def test_previous_windows_cross_years() -> None:
    assert previous_window("2027-01") == "2026-12"
    assert previous_window("2026-11") == "2026-10"
    assert previous_window("2027-Q1") == "2026-Q4"
    assert previous_window("2027-Q3") == "2027-Q2"
