"""Correcting observations (domain.md, "Joint accountability": data corrections), on both
databases.

November 2026 of the example SLA: proper-payments has one reading, 99.0 on 12 November
(missed against 99.5). The customer disputes it; the provider finds the file was short,
corrects the reading to 99.7 and resubmits: the report now says met, the period shows
old → new for the disputed metric, and the observation keeps both values with who and why.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
from sqlmodel import Session, col, select

from states import Role
from tests.helpers import C, P, World, make_world
from tests.proposals import accept
from tests.workflow.commands.test_periods import DEC_1, NOVEMBER
from tests.workflow.test_compliance_report import local, o
from tests.workflow.test_compliance_sql import store
from workflow import audit, commands
from workflow.errors import Forbidden, InvalidInput, NotAllowedNow
from workflow.models import (
    Agreement,
    AuditEvent,
    Measurement,
    MeasurementCorrection,
    PeriodAmendment,
    ReportingPeriod,
)
from workflow.queries.corrections import observation_history
from workflow.queries.periods import period_detail

PM_P, FL_C = (P, Role.PROGRAM_MANAGER), (C, Role.FUNCTIONAL_LEAD)
TWELFTH = local(2026, 11, 12)  # proper-payments' November reading


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


def correct(world: World, agreement: Agreement, by: Any, *rows: tuple[str, Any, float, str]) -> Any:
    assert agreement.id is not None
    return commands.correct_observations(
        world.session,
        actor=world.who(*by),
        agreement_id=agreement.id,
        corrections=[
            commands.CorrectionInput(metric, at.isoformat(), value, reason)
            for metric, at, value, reason in rows
        ],
        now=world.tick(),
    )


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


def value_of(world: World, metric: str = "proper-payments") -> float:
    world.session.rollback()
    return world.session.exec(
        select(Measurement.value).where(Measurement.metric_key == metric)
    ).one()


def status_of(period: ReportingPeriod, metric: str) -> str:
    assert period.results is not None
    [m] = [m for m in period.results["metrics"] if m["key"] == metric]
    return str(m["windows"][0]["status"])


def test_a_correction_during_a_dispute_changes_the_resubmitted_report_and_keeps_history(
    world: World, active: Agreement
) -> None:
    assert active.id is not None
    world.now = DEC_1
    commands.open_due_periods(world.session, now=DEC_1)
    fire(world, active, "submit", PM_P)
    fire(
        world,
        active,
        "dispute",
        FL_C,
        disputes=[{"metric": "proper-payments", "reason": "The 12 November file was short."}],
    )
    done = correct(world, active, PM_P, ("proper-payments", TWELFTH, 99.7, "full file reloaded"))
    assert (done.applied, done.proposed) == (1, 0)
    assert value_of(world) == 99.7
    resubmitted = fire(world, active, "resubmit", PM_P, comment="Corrected the reading.")
    assert status_of(resubmitted, "proper-payments") == "met"

    pm = world.who(*PM_P)
    detail = period_detail(world.session, pm, active.id, "2026-11")
    [change] = detail.resubmission_changes
    assert (change.metric, change.window) == ("proper-payments", "2026-11")
    assert (change.old_status, change.old_actual) == ("missed", 99.0)
    assert (change.new_status, change.new_actual) == ("met", 99.7)
    [shown] = detail.corrections
    assert (shown.old_value, shown.value, shown.reason) == (99.0, 99.7, "full file reloaded")
    assert shown.corrected_by is not None

    history = observation_history(world.session, pm, active.id, "proper-payments", TWELFTH)
    assert [(h.value, h.reason) for h in history.history] == [
        (99.0, "uploaded (json batch 1)"),
        (99.7, "full file reloaded"),
    ]
    assert history.history[1].set_by is not None
    assert history.history[1].set_by.name == pm.name
    event = world.session.exec(
        select(AuditEvent).where(AuditEvent.action == "measurement.corrected")
    ).one()
    assert event.actor_id == pm.user_id
    assert audit.verify(world.session).ok


def test_an_unknown_observation_is_named_and_nothing_is_written(
    world: World, active: Agreement
) -> None:
    with pytest.raises(InvalidInput) as refused:
        correct(
            world,
            active,
            PM_P,
            ("proper-payments", TWELFTH, 99.7, "reloaded"),
            ("proper-payments", local(2026, 11, 13), 99.7, "no such reading"),
            ("no-such-metric", TWELFTH, 1.0, "x"),
            ("prompt-payment", local(2026, 11, 20), 99.0, "   "),
        )
    fields = {e["field"]: e["message"] for e in refused.value.errors}
    assert fields["corrections.1"].startswith("no observation of 'proper-payments' at 2026-11-13")
    assert fields["corrections.2"].startswith("no observation of 'no-such-metric'")
    assert fields["corrections.3.reason"] == "required"
    assert "corrections.0" not in fields
    assert value_of(world) == 99.0  # the good one was not applied either
    assert world.session.exec(select(MeasurementCorrection)).all() == []
    assert (
        world.session.exec(
            select(AuditEvent).where(AuditEvent.action == "measurement.corrected")
        ).all()
        == []
    )


def test_the_provider_or_the_data_provider_corrects(world: World, active: Agreement) -> None:
    # Before any period opened, the provider corrects directly.
    assert correct(world, active, PM_P, ("proper-payments", TWELFTH, 99.2, "typo")).applied == 1
    # The customer provides customer-ar-response's data, not proper-payments'.
    with pytest.raises(Forbidden, match="the provider provides proper-payments"):
        correct(world, active, FL_C, ("proper-payments", TWELFTH, 99.9, "ours"))
    assert active.id is not None
    store(world.session, active.id, [o("customer-ar-response", local(2026, 11, 9), 90.0)])
    done = correct(world, active, FL_C, ("customer-ar-response", local(2026, 11, 9), 95.0, "x"))
    assert done.applied == 1
    assert value_of(world, "customer-ar-response") == 95.0
    # A Business Owner holds no role that corrects data.
    with pytest.raises(Forbidden):
        correct(world, active, (P, Role.BUSINESS_OWNER), ("proper-payments", TWELFTH, 99.3, "x"))


def test_a_period_under_review_refuses_corrections(world: World, active: Agreement) -> None:
    world.now = DEC_1
    commands.open_due_periods(world.session, now=DEC_1)
    correct(world, active, PM_P, ("proper-payments", TWELFTH, 99.1, "open: allowed"))
    fire(world, active, "submit", PM_P)
    with pytest.raises(NotAllowedNow, match="2026-11 is submitted") as refused:
        correct(world, active, PM_P, ("proper-payments", TWELFTH, 99.7, "too late"))
    assert "dispute them to reopen" in str(refused.value)
    assert value_of(world) == 99.1


def test_a_correction_of_a_final_report_is_an_amendment_proposal_inert_until_accepted(
    world: World, active: Agreement
) -> None:
    world.now = DEC_1
    commands.open_due_periods(world.session, now=DEC_1)
    fire(world, active, "submit", PM_P)
    fire(world, active, "accept", FL_C)
    done = correct(world, active, PM_P, ("proper-payments", TWELFTH, 99.7, "full file reloaded"))
    assert (done.applied, done.proposed) == (0, 1)
    [proposal] = done.proposals
    assert (proposal.kind, proposal.state, proposal.counterpart_side) == (
        "amendment",
        "open",
        "customer",
    )
    assert proposal.effect["changes"] == [
        {
            "what": f"proper-payments at {TWELFTH.astimezone(UTC).isoformat()}",
            "before": "99",
            "after": "99.7 (full file reloaded)",
        }
    ]
    # Inert: nothing changed, no amendment.
    assert value_of(world) == 99.0
    assert world.session.exec(select(MeasurementCorrection)).all() == []
    assert world.session.exec(select(PeriodAmendment)).all() == []

    accept(world, proposal)
    assert value_of(world) == 99.7
    correction = world.session.exec(select(MeasurementCorrection)).one()
    assert (correction.old_value, correction.proposal_id) == (99.0, proposal.id)
    amendment = world.session.exec(select(PeriodAmendment)).one()
    assert amendment.number == 1
    world.session.rollback()
    row = world.session.exec(select(ReportingPeriod)).one()
    assert status_of(row, "proper-payments") == "met"
    assert row.final_hash != row.results_hash  # the final report stays on record
    actions = list(
        world.session.exec(
            select(AuditEvent.action)
            .where(col(AuditEvent.action).in_(("measurement.corrected", "period.amended")))
            .order_by(col(AuditEvent.seq))
        )
    )
    assert actions == ["measurement.corrected", "period.amended"]


def test_corrections_of_final_and_open_periods_go_apart(world: World, active: Agreement) -> None:
    world.now = DEC_1
    commands.open_due_periods(world.session, now=DEC_1)
    fire(world, active, "submit", PM_P)
    fire(world, active, "accept", FL_C)
    december = local(2026, 12, 1, 0, 30)  # invoice-payment-timeliness, December's window
    with pytest.raises(NotAllowedNow, match="send them apart"):
        correct(
            world,
            active,
            PM_P,
            ("proper-payments", TWELFTH, 99.7, "final"),
            ("invoice-payment-timeliness", december, 11.0, "not final"),
        )
    assert value_of(world) == 99.0
    assert (
        correct(
            world, active, PM_P, ("invoice-payment-timeliness", december, 11.0, "not final")
        ).applied
        == 1
    )
