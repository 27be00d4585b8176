"""The database path of the compliance report agrees with the pure reference, on both databases.

The hand-computed agreement of `test_compliance_report` is stored (versions, observations,
excusals through `excuse_miss`) and reported by `agreement_compliance_report`, which aggregates
in SQL; the result must equal `compliance_report` on the same data, number for number. A
pseudo-random dataset checks every aggregation (weighted mean, p95, min, max, sum, last) beyond
the hand-built one, including zero weights and another agreement's rows in the same windows.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from states import Role
from tests.helpers import C, P, World, make_world
from tests.proposals import accept
from tests.workflow.test_compliance_report import (
    EXCUSALS,
    NOW,
    OBSERVATIONS,
    PERIOD,
    V1,
    V2,
    report,
    utc,
)
from workflow import commands
from workflow.compliance import (
    Observation,
    RemedyPolicy,
    ReportPeriod,
    Status,
    VersionRecord,
    compliance_report,
    judge_report,
    plan_report,
)
from workflow.content import Aggregation, Terms, Window
from workflow.errors import Conflict, Forbidden, InvalidInput
from workflow.models import Agreement, AgreementVersion, AuditEvent, Measurement, MeasurementBatch
from workflow.queries.compliance import agreement_compliance_report, sql_aggregates


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def store(session: Session, agreement_id: int, observations: list[Observation]) -> None:
    batch = MeasurementBatch(agreement_id=agreement_id, source="json", started_at=NOW)
    session.add(batch)
    session.flush()
    assert batch.id is not None
    session.add_all(
        Measurement(
            agreement_id=agreement_id,
            metric_key=o.metric_key,
            observed_at=o.observed_at,
            value=o.value,
            weight=o.weight,
            batch_id=batch.id,
            ingested_at=NOW,
        )
        for o in observations
    )
    session.commit()


def as_stored(world: World, agreement: Agreement, records: list[VersionRecord]) -> None:
    """Rewrite the agreement's versions into `records` (activated, ended) and its policy."""
    session = world.session
    first = world.version(agreement, 1)
    for record in records:
        version = (
            first
            if record.number == 1
            else AgreementVersion(
                agreement_id=first.agreement_id,
                number=record.number,
                modification_number=record.number - 1,
                content_hash=first.content_hash,
                drafting_side=first.drafting_side,
                created_by_id=first.created_by_id,
                state="active",
            )
        )
        version.metrics = [m.model_dump(mode="json", exclude_none=True) for m in record.metrics]
        version.terms = record.terms.model_dump(mode="json", exclude_none=True)
        version.activated_at = record.activated_at
        version.state = "superseded" if record.ended_at else "active"
        version.state_changed_at = record.ended_at or record.activated_at
        session.add(version)
    agreement.remedy_policy = RemedyPolicy.SERVICE_CREDITS.value
    session.add(agreement)
    session.commit()


@pytest.fixture
def stored_agreement(world: World) -> Agreement:
    agreement = world.create()
    other = world.create()
    as_stored(world, agreement, [V1, V2])
    assert agreement.id is not None
    assert other.id is not None
    store(world.session, agreement.id, OBSERVATIONS)
    # another agreement's rows in the same windows must not count
    store(world.session, other.id, [Observation("availability", utc(2027, 7, 9), 0.0)])
    for excusal in EXCUSALS:  # each proposed by the customer, accepted by the provider
        proposal = commands.excuse_miss(
            world.session,
            actor=world.who(C, Role.PROGRAM_MANAGER),
            agreement_id=agreement.id,
            metric=excusal.metric_key,
            window=excusal.window,
            party=excusal.party.value,
            reason=excusal.reason,
            now=NOW,
        )
        accept(world, proposal, NOW)
    return agreement


def test_the_sql_report_equals_the_reference(world: World, stored_agreement: Agreement) -> None:
    assert stored_agreement.id is not None
    got = agreement_compliance_report(
        world.session,
        world.who(P, Role.FUNCTIONAL_LEAD),
        stored_agreement.id,
        PERIOD.first_day,
        PERIOD.last_day,
        now=NOW,
    )
    expected = report(RemedyPolicy.SERVICE_CREDITS)
    assert got == expected
    may = got.metrics[1].windows[0]
    assert (may.window, may.actual, may.status) == ("2027-05", 9.6, Status.EXCUSED)
    assert got.totals.excused_by_party.customer == 1


def test_excusals_are_audited_unique_and_checked(world: World, stored_agreement: Agreement) -> None:
    agreement_id = stored_agreement.id
    assert agreement_id is not None
    events = world.session.exec(
        select(AuditEvent).where(AuditEvent.action == "excusal.added")
    ).all()
    assert len(events) == 3
    args: dict[str, Any] = {
        "agreement_id": agreement_id,
        "metric": "incident.resolution",
        "window": "2027-05",
        "party": "provider",
        "reason": "again",
        "now": NOW,
    }
    with pytest.raises(Conflict):
        commands.excuse_miss(world.session, actor=world.who(P, Role.BUSINESS_OWNER), **args)
    with pytest.raises(Forbidden):
        commands.excuse_miss(world.session, actor=world.who(P, Role.PMO_TEAM), **args)
    bad = {**args, "metric": "nope", "window": "2027-13", "party": "nobody", "reason": " "}
    with pytest.raises(InvalidInput) as refused:
        commands.excuse_miss(world.session, actor=world.who(C, Role.BUSINESS_OWNER), **bad)
    fields = {e["field"] for e in refused.value.errors}
    assert fields == {"metric", "window", "party", "reason"}


def random_observations(seed: int) -> list[Observation]:
    rng = random.Random(seed)
    start = utc(2027, 1, 1)
    found: dict[tuple[str, datetime], Observation] = {}
    for key in ("m.mean", "m.p95", "m.min", "m.max", "m.sum", "m.last", "q.p95"):
        for _ in range(rng.randint(150, 300)):
            at = start + timedelta(minutes=rng.randrange(0, 364 * 24 * 60))
            weight = rng.choice([None, 0.0, 1.0, rng.uniform(0, 50)])
            found[key, at] = Observation(
                key, at, round(rng.uniform(-50, 150), rng.randint(0, 9)), weight
            )
    return list(found.values())


def test_every_aggregation_matches_the_reference_on_random_data(world: World) -> None:
    agreement = world.create()
    assert agreement.id is not None
    metrics = tuple(
        V2.metrics[0].model_copy(
            update={
                "key": f"{prefix}.{aggregation.value}",
                "aggregation": aggregation,
                "window": Window.QUARTER if prefix == "q" else Window.MONTH,
            }
        )
        for prefix, aggregation in [("m", a) for a in Aggregation] + [("q", Aggregation.P95)]
    )
    versions = [VersionRecord(1, utc(2026, 12, 1), None, metrics, Terms(time_zone="Asia/Kolkata"))]
    observations = random_observations(7)
    store(world.session, agreement.id, observations)
    period = ReportPeriod(date(2027, 1, 1), date(2027, 12, 31))
    plan = plan_report(versions, period)
    aggregates = sql_aggregates(world.session, agreement.id, plan)
    assert sum(a.count for a in aggregates.values()) == len(observations)
    got = judge_report(
        plan, aggregates, [], period, remedy_policy=RemedyPolicy.CORRECTIVE_ACTION, now=NOW
    )
    expected = compliance_report(
        versions, observations, [], period, remedy_policy=RemedyPolicy.CORRECTIVE_ACTION, now=NOW
    )
    assert got == expected
    assert {m.key for m in got.metrics} == {m.key for m in metrics}
