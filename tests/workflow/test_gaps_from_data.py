"""Gaps from measured data when a version enters gap analysis, on both databases.

The example SLA enters gap analysis on 2026-11-02 (New York), so the last 6 whole months are
2026-05 … 2026-10 and the last 6 whole quarters 2025-Q2 … 2026-Q3. Hand-computed:
- proper-payments (mean, ≥ 99.5, no requirement, so the target): 99.0, 99.6, 99.4, 99.5 (on
  target: met), 98.9, 99.7 → 3 of 6 missed → high; worst shortfall 99.5 - 98.9 = 0.6.
- invoice-payment-timeliness (≥ 98): only 2026-10 at 97.5 missed (2026-09 98.2 met; 2026-04 at
  10 and 2026-11 at 50 are outside the 6 windows) → 1 of 6 → low.
- fbwt-difference (max, ≤ 2): 2026-06 max(1.0, 2.5) = 2.5 and 2026-08 3.0 missed → medium.
- payroll-accuracy (quarterly, ≥ 99.8): 2026-Q3 99.7 missed (2025-Q1 at 0 is 7 quarters back)
  → low.
- customer-satisfaction: no data → no gap.
- core-app-availability already has a requirement-vs-capability gap (99.9 vs 99.5, high); its
  2026-10 mean 99.8 misses the requirement 99.9 → the evidence joins that gap, no second gap.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from tests.helpers import World, make_world
from tests.workflow.test_compliance_report import HIGHER, LOWER, local, metric, o
from tests.workflow.test_compliance_sql import store
from workflow.compliance import Observation, WindowAggregate
from workflow.compliance.what_if import measured_shortfall
from workflow.compliance.windows import window_for_day
from workflow.content import Aggregation
from workflow.models import AuditEvent, Gap


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def monthly(key: str, values: list[float], first_month: int = 5) -> list[Observation]:
    return [o(key, local(2026, first_month + i, 15, 12), v) for i, v in enumerate(values)]


DATA = [
    *monthly("proper-payments", [99.0, 99.6, 99.4, 99.5, 98.9, 99.7]),
    o("invoice-payment-timeliness", local(2026, 4, 30, 23, 0), 10.0),
    o("invoice-payment-timeliness", local(2026, 9, 10), 98.2),
    o("invoice-payment-timeliness", local(2026, 10, 31, 23, 0), 97.5),
    o("invoice-payment-timeliness", local(2026, 11, 1, 0, 30), 50.0),
    o("fbwt-difference", local(2026, 6, 1), 1.0),
    o("fbwt-difference", local(2026, 6, 30), 2.5),
    o("fbwt-difference", local(2026, 8, 3), 3.0),
    o("fbwt-difference", local(2026, 9, 3), 2.0),
    o("payroll-accuracy", local(2026, 8, 1), 99.7),
    o("payroll-accuracy", local(2025, 3, 1), 0.0),
    o("core-app-availability", local(2026, 10, 2), 99.8),
]


def test_entering_gap_analysis_adds_gaps_from_measured_data(world: World) -> None:
    agreement = world.create()
    assert agreement.id is not None
    store(world.session, agreement.id, DATA)
    world.to_gap_analysis(agreement)
    version = world.version(agreement)
    gaps = world.session.exec(
        select(Gap).where(Gap.version_id == version.id).order_by(col(Gap.id))
    ).all()
    assert [(g.metric_key, g.source, g.severity) for g in gaps] == [
        ("payroll-posting-timeliness", "computed", "medium"),
        ("core-app-availability", "computed", "high"),
        ("payroll-accuracy", "measured", "low"),
        ("proper-payments", "measured", "high"),
        ("invoice-payment-timeliness", "measured", "low"),
        ("fbwt-difference", "measured", "medium"),
    ]
    by_key = {g.metric_key: g for g in gaps}
    proper = by_key["proper-payments"].description
    assert "missed the target 99.5 percent in 3 of the last 6 months (6 with data)" in proper
    assert "2026-05 99, 2026-07 99.4, 2026-09 98.9; worst shortfall 0.6" in proper
    assert "2026-10 97.5" in by_key["invoice-payment-timeliness"].description
    assert "2026-06 2.5, 2026-08 3; worst shortfall 1" in by_key["fbwt-difference"].description
    assert "of the last 6 quarters" in by_key["payroll-accuracy"].description
    merged = by_key["core-app-availability"].description
    assert merged.startswith("Core")  # the requirement-vs-capability text first
    assert "missed the requirement 99.9 percent in 1 of the last 6 months" in merged
    assert "customer-satisfaction" not in by_key
    bodies = world.session.exec(
        select(AuditEvent.body).where(AuditEvent.agreement_id == agreement.id)
    ).all()
    entered = [b for b in bodies if '"to_state":"gap_analysis"' in b.replace(" ", "")]
    assert len(entered) == 1
    assert '"source":"measured"' in entered[0].replace(" ", "")


def test_no_data_adds_only_the_computed_gaps(world: World) -> None:
    agreement = world.create()
    world.to_gap_analysis(agreement)
    version = world.version(agreement)
    gaps = world.session.exec(select(Gap).where(Gap.version_id == version.id)).all()
    assert sorted(g.source for g in gaps) == ["computed", "computed"]


def test_a_miss_beyond_the_warning_band_is_high_even_once() -> None:
    # ≥ 99.5 with warning 99.8: band 0.3. One month at 99.1 misses by 0.4 > 0.3 → high;
    # one month at 99.3 misses by 0.2 → low.
    availability = metric("a", HIGHER, 99.5, Aggregation.MEAN, warning=99.8)
    windows = [
        window_for_day(local(2026, m, 1).date(), availability.window, "America/New_York")
        for m in range(5, 11)
    ]
    far = measured_shortfall(availability, windows, {"2026-07": WindowAggregate(1, mean=99.1)})
    near = measured_shortfall(availability, windows, {"2026-07": WindowAggregate(1, mean=99.3)})
    assert far is not None
    assert (far.severity, far.worst, far.band) == ("high", 0.4, 0.3)
    assert near is not None
    assert near.severity == "low"
    lower = metric("b", LOWER, 2.0, Aggregation.MAX)
    assert measured_shortfall(lower, windows, {"2026-07": WindowAggregate(1, max=2.0)}) is None
