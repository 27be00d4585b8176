"""What-if on a hand-computed dataset, through the SQL path, on both databases.

One monthly metric, availability (mean, ≥ 99.5, warning 99.8, credit 5%); annual cost 120,000,
10% at risk: month fee 10,000.00, a miss owes 5% = 500.00 (under the 1,000.00 cap).
Recorded means (New York time):
  2027-01 (99.8 + 100.0) / 2 = 99.9   2027-02 99.6   2027-03 no data   2027-04 99.2   2027-05 98.0
Current target 99.5 (warning 99.8): met, warning, no data, missed, missed → 2 misses, 1,000.00.
Stricter 99.7 (band width 0.3 kept: warning 100.0): warning, missed, no data, missed, missed
  → 3 misses, 1,500.00.
Looser 99.0 (warning 99.3): met, met, no data, warning, missed → 1 miss, 500.00.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import Session

from states import Role
from tests.helpers import C, P, World, make_world
from tests.proposals import accept
from tests.workflow.test_compliance_report import HIGHER, TERMS, local, metric, o, utc
from tests.workflow.test_compliance_sql import as_stored, store
from workflow import commands
from workflow.compliance import RemedyPolicy, Status, VersionRecord
from workflow.compliance.what_if import with_target
from workflow.content import Aggregation
from workflow.errors import InvalidInput, NotFound
from workflow.models import Agreement
from workflow.queries.what_if import version_what_if

AVAILABILITY = metric("availability", HIGHER, 99.5, Aggregation.MEAN, warning=99.8, credit=5)
VERSION = VersionRecord(1, utc(2026, 12, 1, 15), None, (AVAILABILITY,), TERMS)
OBSERVATIONS = [
    o("availability", local(2027, 1, 1, 0, 0), 99.8),
    o("availability", local(2027, 1, 31, 23, 59), 100.0),
    o("availability", local(2027, 2, 14, 12), 99.6),
    o("availability", local(2027, 4, 10, 12), 99.2),
    o("availability", local(2027, 5, 31, 23, 0), 98.0),
]
LABELS = ["2027-01", "2027-02", "2027-03", "2027-04", "2027-05"]
M, W, N, X = Status.MET, Status.WARNING, Status.NO_DATA, Status.MISSED
FEE_SHARE = Decimal("500.00")
NIL = Decimal("0.00")


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def stored(world: World) -> Agreement:
    agreement = world.create()
    assert agreement.id is not None
    as_stored(world, agreement, [VERSION])
    store(world.session, agreement.id, OBSERVATIONS)
    return agreement


def test_the_warning_band_keeps_its_width() -> None:
    assert with_target(AVAILABILITY, 99.7).warning == 100.0
    assert with_target(AVAILABILITY, 99.0).warning == 99.3
    assert with_target(metric("x", HIGHER, 1.0, Aggregation.MEAN), 2.0).warning is None


def test_a_stricter_and_a_looser_target_over_recorded_history(world: World) -> None:
    agreement = stored(world)
    assert agreement.id is not None
    fl = world.who(C, Role.FUNCTIONAL_LEAD)
    stricter = version_what_if(world.session, fl, agreement.id, 1, "availability", 99.7)
    assert [w.window for w in stricter.windows] == LABELS
    assert [w.actual for w in stricter.windows] == [99.9, 99.6, None, 99.2, 98.0]
    assert [w.observations for w in stricter.windows] == [2, 1, 0, 1, 1]
    assert [w.status_now for w in stricter.windows] == [M, W, N, X, X]
    assert [w.status_proposed for w in stricter.windows] == [W, X, N, X, X]
    assert [w.credit_now for w in stricter.windows] == [NIL, NIL, NIL, FEE_SHARE, FEE_SHARE]
    assert [w.credit_proposed for w in stricter.windows] == [NIL, FEE_SHARE, NIL] + [FEE_SHARE] * 2
    totals = stricter.totals
    assert (totals.missed_now, totals.missed_proposed) == (2, 3)
    assert (totals.credits_now, totals.credits_proposed) == (Decimal("1000.00"), Decimal("1500.00"))
    assert (stricter.target_proposed, stricter.warning_proposed) == (99.7, 100.0)
    assert stricter.note is None

    looser = version_what_if(world.session, fl, agreement.id, 1, "availability", 99.0)
    assert [w.status_proposed for w in looser.windows] == [M, M, N, W, X]
    assert (looser.totals.missed_proposed, looser.totals.warning_proposed) == (1, 1)
    assert looser.totals.credits_proposed == Decimal("500.00")
    assert looser.totals.credits_now == Decimal("1000.00")


def test_an_excused_miss_owes_nothing_under_either_target(world: World) -> None:
    agreement = stored(world)
    assert agreement.id is not None
    proposal = commands.excuse_miss(
        world.session,
        actor=world.who(C, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,
        metric="availability",
        window="2027-05",
        party="customer",
        reason="data centre move requested by the customer",
        now=utc(2027, 6, 5),
    )
    accept(world, proposal, utc(2027, 6, 5))  # by the provider
    got = version_what_if(
        world.session, world.who(P, Role.PROGRAM_MANAGER), agreement.id, 1, "availability", 99.7
    )
    may = got.windows[-1]
    assert (may.status_now, may.status_proposed) == (Status.EXCUSED, Status.EXCUSED)
    assert (may.credit_now, may.credit_proposed) == (NIL, NIL)
    assert (got.totals.credits_now, got.totals.credits_proposed) == (
        Decimal("500.00"),
        Decimal("1000.00"),
    )


def test_no_data_unknown_metric_and_corrective_action(world: World) -> None:
    agreement = world.create()
    assert agreement.id is not None
    as_stored(world, agreement, [VERSION])
    fl = world.who(C, Role.FUNCTIONAL_LEAD)
    empty = version_what_if(world.session, fl, agreement.id, 1, "availability", 99.7)
    assert empty.windows == ()
    assert empty.note is not None
    assert "no observations" in empty.note
    assert (empty.totals.windows, empty.totals.credits_proposed) == (0, Decimal("0.00"))
    with pytest.raises(InvalidInput) as refused:
        version_what_if(world.session, fl, agreement.id, 1, "nope", 99.7)
    assert [e["field"] for e in refused.value.errors] == ["metric"]
    with pytest.raises(NotFound):
        version_what_if(world.session, fl, agreement.id, 9, "availability", 99.7)
    agreement.remedy_policy = RemedyPolicy.CORRECTIVE_ACTION.value
    world.session.add(agreement)
    world.session.commit()
    store(world.session, agreement.id, OBSERVATIONS)
    got = version_what_if(world.session, fl, agreement.id, 1, "availability", 99.7)
    assert got.totals.missed_proposed == 3
    assert got.totals.credits_proposed is None
    assert all(w.credit_proposed is None for w in got.windows)
