"""Joint accountability (domain.md): acts that change what the other side owns are proposals,
taking effect only when the other side accepts. On both databases.

The example SLA's November 2026 (see test_periods.py): proper-payments and
invoice-payment-timeliness missed; invoice-payment-timeliness gets a corrective action when
the report is final.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlmodel import Session, col, select

from states import Role, Side
from tests.helpers import World, make_world
from tests.workflow.commands.test_periods import DEC_1, NOVEMBER, _fire, _open, _period
from tests.workflow.test_compliance_report import local, o
from tests.workflow.test_compliance_sql import store
from workflow import audit, commands
from workflow.corrective_actions import open_for_miss
from workflow.errors import Conflict, Forbidden, InvalidInput, NotAllowedNow
from workflow.models import (
    Agreement,
    AuditEvent,
    CorrectiveAction,
    Excusal,
    Gap,
    OutboxMessage,
    PeriodAmendment,
    Proposal,
    Task,
)
from workflow.queries.periods import period_report, results_of

C, P = Side.CUSTOMER, Side.PROVIDER
PM, FL = Role.PROGRAM_MANAGER, Role.FUNCTIONAL_LEAD
INVOICE = "invoice-payment-timeliness"


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


def _id(agreement: Agreement) -> int:
    assert agreement.id is not None
    return agreement.id


NOVEMBER_CLOSED = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def _status(world: World, agreement: Agreement, metric: str) -> str:
    world.session.rollback()
    # As seen once November has closed (before that every window of it is provisional).
    seen = max(world.now, NOVEMBER_CLOSED)
    report = results_of(
        period_report(
            world.session, _id(agreement), date(2026, 11, 1), date(2026, 11, 30), now=seen
        )
    )
    row = next(m for m in report["metrics"] if m["key"] == metric)
    status: str = row["windows"][0]["status"]
    return status


def _excuse(world: World, agreement: Agreement, by: tuple[Side, Role], metric: str) -> Proposal:
    return commands.excuse_miss(
        world.session,
        actor=world.who(*by),
        agreement_id=_id(agreement),
        metric=metric,
        window="2026-11",
        party="customer",
        reason="customer data late",
        now=world.tick(),
    )


def _decide(
    world: World, proposal: Proposal, by: tuple[Side, Role], outcome: str, **kw: Any
) -> Proposal:
    assert proposal.id is not None
    return commands.decide_proposal(
        world.session,
        actor=world.who(*by),
        proposal_id=proposal.id,
        outcome=outcome,
        now=world.tick(),
        **kw,
    )


def _final(world: World, agreement: Agreement) -> None:
    _open(world, DEC_1)
    _fire(world, agreement, "submit", (P, PM))
    _fire(world, agreement, "accept", (C, FL))


def _actions(world: World, agreement: Agreement) -> list[Task]:
    world.session.rollback()
    return open_for_miss(world.session, _id(agreement), INVOICE, "2026-11")


def test_a_provider_excusal_is_inert_until_the_customer_accepts_it(
    world: World, active: Agreement
) -> None:
    proposal = _excuse(world, active, (P, PM), "proper-payments")
    assert (proposal.kind, proposal.state) == ("excusal", "open")
    assert (proposal.proposer_side, proposal.counterpart_side) == ("provider", "customer")
    assert _status(world, active, "proper-payments") == "missed"
    assert world.session.exec(select(Excusal)).all() == []
    [review] = world.open_tasks(active, "proposal_review")
    assert (review.side, review.role, review.proposal_id) == (
        "customer",
        "program_manager",
        proposal.id,
    )
    assert review.assignee_id == world.who(C, PM).user_id
    made = world.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "proposal.made")
    ).one()
    assert {(r["side"], r["role"]) for r in made.recipients["roles"]} == {
        (s, r) for s in ("customer", "provider") for r in ("program_manager", "functional_lead")
    }
    assert (
        made.payload["proposal"]["changes"][0]["what"]
        == "Proper payments, excluding customer errors in 2026-11"
    )

    # A second proposal for the same window waits for the first.
    with pytest.raises(Conflict):
        _excuse(world, active, (C, PM), "proper-payments")

    accepted = _decide(world, proposal, (C, PM), "accepted", comment="agreed, our data was late")
    assert (accepted.state, accepted.decided_by_id) == ("accepted", world.who(C, PM).user_id)
    assert _status(world, active, "proper-payments") == "excused"
    excusal = world.session.exec(select(Excusal)).one()
    assert (excusal.party, excusal.created_by_id) == ("customer", world.who(P, PM).user_id)
    assert world.open_tasks(active, "proposal_review") == []
    actions = [
        e.action
        for e in world.session.exec(
            select(AuditEvent)
            .where(AuditEvent.agreement_id == active.id)
            .order_by(col(AuditEvent.seq))
        )
        if e.action.startswith("proposal.")
    ]
    assert actions == ["proposal.made", "proposal.accept"]
    made_event, accept_event = [
        json.loads(e.body)["data"]
        for e in world.session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.action).in_(["proposal.made", "proposal.accept"]))
            .order_by(col(AuditEvent.seq))
        )
    ]
    assert made_event["proposed_by"] == {"user_id": world.who(P, PM).user_id, "side": "provider"}
    assert made_event["effect"]["party"] == "customer"
    assert accept_event["decided_by"] == {"user_id": world.who(C, PM).user_id, "side": "customer"}
    assert accept_event["excusal_id"] == excusal.id
    decided = world.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "proposal.decided")
    ).one()
    assert decided.payload["proposal"]["state"] == "accepted"
    assert decided.payload["comment"] == "agreed, our data was late"
    assert audit.verify(world.session).ok


def test_the_proposer_never_decides_their_own_and_the_other_side_s_lead_may(
    world: World, active: Agreement
) -> None:
    proposal = _excuse(world, active, (P, PM), "proper-payments")
    with pytest.raises(Forbidden):
        _decide(world, proposal, (P, PM), "accepted")
    with pytest.raises(Forbidden):
        _decide(world, proposal, (P, FL), "accepted")  # the proposer's own side
    [review] = world.open_tasks(active, "proposal_review")
    with pytest.raises(Forbidden):
        world.complete(review, "accepted", by=world.who(P, PM))
    with pytest.raises(Forbidden):
        _decide(world, proposal, (C, Role.TECHNICAL_LEAD), "accepted")
    # The customer's Functional Lead may decide too, through the task as through the proposal.
    world.complete(review, "accepted", by=world.who(C, FL))
    world.session.rollback()
    stored = world.session.get(Proposal, proposal.id)
    assert stored is not None
    assert (stored.state, stored.decided_by_id) == ("accepted", world.who(C, FL).user_id)
    with pytest.raises(NotAllowedNow):
        _decide(world, proposal, (C, PM), "rejected", comment="too late")


def test_an_overdue_review_is_reminded_like_any_task(world: World, active: Agreement) -> None:
    proposal = _excuse(world, active, (P, PM), "proper-payments")
    [review] = world.open_tasks(active, "proposal_review")
    world.session.rollback()
    commands.sweep_reminders(world.session, now=datetime(2026, 12, 31, 15, 0, tzinfo=UTC))
    world.session.rollback()
    reminders = world.session.exec(
        select(OutboxMessage).where(col(OutboxMessage.dedupe_key).like(f"%:{review.id}:%"))
    ).all()
    assert reminders, "an overdue proposal review is reminded"
    assert proposal.state == "open"


def test_a_rejection_needs_a_comment_and_changes_nothing(world: World, active: Agreement) -> None:
    proposal = _excuse(world, active, (P, PM), "proper-payments")
    with pytest.raises(InvalidInput):
        _decide(world, proposal, (C, PM), "rejected")
    with pytest.raises(InvalidInput):
        _decide(world, proposal, (C, PM), "rejected", comment="   ")
    rejected = _decide(world, proposal, (C, PM), "rejected", comment="the data was on time")
    assert (rejected.state, rejected.comment) == ("rejected", "the data was on time")
    assert _status(world, active, "proper-payments") == "missed"
    assert world.session.exec(select(Excusal)).all() == []
    [task] = world.session.exec(select(Task).where(Task.proposal_id == proposal.id)).all()
    assert (task.state, task.outcome) == ("completed", "rejected")


def test_the_proposer_may_withdraw_an_open_proposal(world: World, active: Agreement) -> None:
    proposal = _excuse(world, active, (P, PM), "proper-payments")
    assert proposal.id is not None
    with pytest.raises(Forbidden):
        commands.withdraw_proposal(
            world.session, actor=world.who(C, PM), proposal_id=proposal.id, now=world.tick()
        )
    withdrawn = commands.withdraw_proposal(
        world.session, actor=world.who(P, PM), proposal_id=proposal.id, now=world.tick()
    )
    assert withdrawn.state == "withdrawn"
    assert world.open_tasks(active, "proposal_review") == []
    with pytest.raises(NotAllowedNow):
        _decide(world, proposal, (C, PM), "accepted")
    _excuse(world, active, (P, PM), "proper-payments")  # proposing again is possible


def test_an_accepted_excusal_cancels_the_corrective_action_and_a_withdrawal_reopens_it(
    world: World, active: Agreement
) -> None:
    _final(world, active)
    [action] = _actions(world, active)
    proposal = _excuse(world, active, (P, PM), INVOICE)
    assert [t.id for t in _actions(world, active)] == [action.id]  # inert until accepted
    _decide(world, proposal, (C, PM), "accepted")
    assert _actions(world, active) == []
    world.session.rollback()
    cancelled = world.session.get(Task, action.id)
    assert cancelled is not None
    assert cancelled.state == "cancelled"
    owner = world.session.get(CorrectiveAction, cancelled.corrective_action_id)
    assert owner is not None
    assert (owner.state, owner.cancel_reason) == (
        "cancelled",
        "excused, charged to the customer: customer data late",
    )
    assert _status(world, active, INVOICE) == "excused"

    # The customer proposes to withdraw it; the provider accepts; the miss counts again.
    excusal = world.session.exec(select(Excusal)).one()
    assert excusal.id is not None
    withdrawal = commands.propose_excusal_withdrawal(
        world.session, actor=world.who(C, PM), excusal_id=excusal.id, now=world.tick()
    )
    assert (withdrawal.kind, withdrawal.counterpart_side) == ("excusal_withdrawal", "provider")
    with pytest.raises(Conflict):
        commands.propose_excusal_withdrawal(
            world.session, actor=world.who(C, PM), excusal_id=excusal.id, now=world.tick()
        )
    assert _status(world, active, INVOICE) == "excused"  # still, until the provider accepts
    _decide(world, withdrawal, (P, PM), "accepted")
    [reopened] = _actions(world, active)
    assert reopened.id != action.id
    assert (reopened.side, reopened.role) == ("provider", "program_manager")
    assert _status(world, active, INVOICE) == "missed"
    world.session.rollback()
    kept = world.session.get(Excusal, excusal.id)
    assert kept is not None
    assert kept.withdrawn_at is not None
    assert kept.withdrawn_by_id == world.who(C, PM).user_id
    with pytest.raises(NotAllowedNow):
        commands.propose_excusal_withdrawal(
            world.session, actor=world.who(C, PM), excusal_id=excusal.id, now=world.tick()
        )
    # After a withdrawal the same window may be excused again.
    again = _excuse(world, active, (C, PM), INVOICE)
    _decide(world, again, (P, FL), "accepted")
    assert _status(world, active, INVOICE) == "excused"
    assert _actions(world, active) == []
    assert audit.verify(world.session).ok


def test_an_amendment_waits_for_the_other_side(world: World, active: Agreement) -> None:
    _final(world, active)
    frozen = _period(world, active)
    store(world.session, _id(active), [o("customer-ar-response", local(2026, 11, 9), 90.0)])
    proposal = commands.amend_period(
        world.session,
        actor=world.who(P, PM),
        agreement_id=_id(active),
        period="2026-11",
        reason="late AR data",
        now=world.tick(),
    )
    assert (proposal.kind, proposal.state) == ("amendment", "open")
    assert world.session.exec(select(PeriodAmendment)).all() == []
    assert _period(world, active).amendments == 0
    missed = next(c for c in proposal.effect["changes"] if c["what"] == "missed")
    assert (missed["before"], missed["after"]) == ("2", "3")
    _decide(world, proposal, (C, FL), "accepted")
    period = _period(world, active)
    assert period.amendments == 1
    assert period.final_hash == frozen.final_hash
    amendment = world.session.exec(select(PeriodAmendment)).one()
    assert (amendment.number, amendment.created_by_id) == (1, world.who(P, PM).user_id)
    assert period.results_hash == amendment.content_hash
    world.session.exec(select(OutboxMessage).where(OutboxMessage.topic == "period.amended")).one()


# ---- gap resolutions ---------------------------------------------------------------------


@pytest.fixture
def in_gap_analysis(world: World) -> Agreement:
    agreement = world.create()
    world.to_gap_analysis(agreement)
    return agreement


def _gaps(world: World, agreement: Agreement) -> list[Gap]:
    world.session.rollback()
    return list(
        world.session.exec(
            select(Gap).where(Gap.agreement_id == agreement.id).order_by(col(Gap.id))
        )
    )


def _resolve(world: World, gap: Gap, by: tuple[Side, Role], resolution: str, **kw: Any) -> Any:
    assert gap.id is not None
    return commands.resolve_gap(
        world.session,
        actor=world.who(*by),
        gap_id=gap.id,
        resolution=resolution,
        now=world.tick(),
        **kw,
    )


def _metric(world: World, agreement: Agreement, key: str) -> dict[str, Any]:
    world.session.rollback()
    metric: dict[str, Any] = next(m for m in world.version(agreement).metrics if m["key"] == key)
    return metric


def test_customer_accepts_proposed_by_the_provider_waits_for_the_customer(
    world: World, in_gap_analysis: Agreement
) -> None:
    gap = _gaps(world, in_gap_analysis)[0]
    before = _metric(world, in_gap_analysis, gap.metric_key)
    proposal = _resolve(world, gap, (P, PM), "customer_accepts")
    assert isinstance(proposal, Proposal)
    assert proposal.counterpart_side == "customer"
    assert _gaps(world, in_gap_analysis)[0].resolution is None
    assert _metric(world, in_gap_analysis, gap.metric_key) == before
    with pytest.raises(NotAllowedNow):  # one resolution proposed at a time
        _resolve(world, gap, (C, PM), "customer_accepts")
    _decide(world, proposal, (C, FL), "accepted")
    resolved = _gaps(world, in_gap_analysis)[0]
    assert (resolved.resolution, resolved.resolved_by_id) == (
        "customer_accepts",
        world.who(P, PM).user_id,
    )
    after = _metric(world, in_gap_analysis, gap.metric_key)
    assert after["requirement"] == after["target"] == before["capability"]


def test_a_resolution_of_the_own_side_s_figure_applies_at_once(
    world: World, in_gap_analysis: Agreement
) -> None:
    first, second = _gaps(world, in_gap_analysis)[:2]
    assert isinstance(_resolve(world, first, (C, PM), "customer_accepts"), Gap)
    assert isinstance(_resolve(world, second, (P, FL), "provider_commits"), Gap)
    assert [g.resolution for g in _gaps(world, in_gap_analysis)[:2]] == [
        "customer_accepts",
        "provider_commits",
    ]
    assert world.session.exec(select(Proposal)).all() == []


def test_target_adjusted_always_waits_and_approval_waits_for_it(
    world: World, in_gap_analysis: Agreement
) -> None:
    gaps = _gaps(world, in_gap_analysis)
    for gap in gaps[1:]:
        _resolve(world, gap, (P, PM), "provider_commits")
    for kind in ("confirm_requirements", "confirm_capabilities", "lcce_review"):
        world.complete_all(in_gap_analysis, kind, "done")
    proposal = _resolve(world, gaps[0], (C, PM), "target_adjusted", agreed_target=99.0)
    assert isinstance(proposal, Proposal)
    assert proposal.counterpart_side == "provider"
    # An open proposal is an unresolved gap: approval is refused until it is decided.
    with pytest.raises(NotAllowedNow):
        world.fire(in_gap_analysis, "submit_for_approval", world.who(P, PM))
    _decide(world, proposal, (P, PM), "accepted")
    assert _metric(world, in_gap_analysis, gaps[0].metric_key)["target"] == 99.0
    world.fire(in_gap_analysis, "submit_for_approval", world.who(P, PM))
    assert world.version(in_gap_analysis).state == "approval"


def test_a_waiver_needs_a_program_manager_of_each_side(
    world: World, in_gap_analysis: Agreement
) -> None:
    gap = _gaps(world, in_gap_analysis)[0]
    with pytest.raises(Forbidden):
        _resolve(world, gap, (C, FL), "waived", note="not needed this year")
    proposal = _resolve(world, gap, (C, PM), "waived", note="not needed this year")
    assert isinstance(proposal, Proposal)
    with pytest.raises(Forbidden):  # a waiver is for the other side's Program Manager
        _decide(world, proposal, (P, FL), "accepted")
    _decide(world, proposal, (P, PM), "accepted")
    waived = _gaps(world, in_gap_analysis)[0]
    assert (waived.resolution, waived.resolution_note) == ("waived", "not needed this year")


def test_a_gap_proposal_lapses_when_its_version_leaves_gap_analysis(
    world: World, in_gap_analysis: Agreement
) -> None:
    gap = _gaps(world, in_gap_analysis)[0]
    proposal = _resolve(world, gap, (P, PM), "customer_accepts")
    assert isinstance(proposal, Proposal)
    [review] = world.open_tasks(in_gap_analysis, "proposal_review")

    world.fire(in_gap_analysis, "request_rework", world.who(C, PM), comment="start again")

    world.session.rollback()
    lapsed = world.session.get_one(Proposal, proposal.id)
    assert (lapsed.state, lapsed.comment) == (
        "withdrawn",
        "version 1 left gap analysis (request_rework)",
    )
    assert world.session.get_one(Task, review.id).state == "cancelled"
    assert world.open_tasks(in_gap_analysis, "proposal_review") == []
    event = world.session.exec(
        select(AuditEvent).where(AuditEvent.action == "proposal.lapse")
    ).one()
    assert json.loads(event.body)["data"]["proposal_id"] == proposal.id
    told = world.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "proposal.decided")
    ).one()
    assert told.payload["proposal"]["state"] == "withdrawn"
    with pytest.raises(NotAllowedNow):  # nothing left to decide
        _decide(world, proposal, (C, PM), "accepted")
