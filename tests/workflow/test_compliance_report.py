"""A hand-computed agreement-year slice: as-of targets, an excusal, the credit cap, no data.

The agreement (New York time, annual cost 120,000, 10% at risk):
- v1, in force from 2026-12-01 to 2027-06-15 16:00 UTC: availability (mean, ≥ 99.5, warning
  99.8, 5%), incident.resolution (p95 hours, ≤ 8, warning 6, 8%);
- v2, from 2027-06-15 16:00 UTC: availability stricter (≥ 99.9, warning 99.95), incident the
  same, and two new metrics: backlog (monthly sum, ≤ 10, no credit) and survey.score
  (quarterly, last value, ≥ 4.0, 2%).

Month fee 120000 / 12 = 10,000.00, cap 10% = 1,000.00; quarter fee 120000 / 4 = 30,000.00,
cap 3,000.00. The report covers 2027-05-01 … 2027-08-31.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from states import Role, Side
from workflow.compliance import (
    Attribution,
    ChargedCounts,
    ComplianceReport,
    CorrectiveAction,
    Excusal,
    ExcusedCounts,
    Observation,
    RemedyPolicy,
    ReportPeriod,
    Status,
    TaskRecord,
    VersionRecord,
    agreement_time_zone,
    compliance_report,
)
from workflow.content import Aggregation, Category, Direction, Metric, Party, Terms, Window

NY = ZoneInfo("America/New_York")
HIGHER = Direction.HIGHER_IS_BETTER
LOWER = Direction.LOWER_IS_BETTER


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


def metric(
    key: str,
    direction: Direction,
    target: float,
    aggregation: Aggregation,
    *,
    warning: float | None = None,
    credit: float | None = None,
    window: Window = Window.MONTH,
) -> Metric:
    return Metric(
        key=key,
        name=key.title(),
        category=Category.PERFORMANCE,
        unit="u",
        direction=direction,
        target=target,
        warning=warning,
        aggregation=aggregation,
        window=window,
        responsible_party=Party.PROVIDER,
        service_credit_percent=credit,
    )


TERMS = Terms(
    time_zone="America/New_York",
    annual_cost=Decimal("120000"),
    at_risk_percent=Decimal("10"),
)
INCIDENT = metric("incident.resolution", LOWER, 8.0, Aggregation.P95, warning=6.0, credit=8)
V1 = VersionRecord(
    1,
    utc(2026, 12, 1, 15),
    utc(2027, 6, 15, 16),
    (
        metric("availability", HIGHER, 99.5, Aggregation.MEAN, warning=99.8, credit=5),
        INCIDENT,
    ),
    TERMS,
)
V2 = VersionRecord(
    2,
    utc(2027, 6, 15, 16),
    None,
    (
        metric("availability", HIGHER, 99.9, Aggregation.MEAN, warning=99.95, credit=5),
        INCIDENT,
        metric("backlog", LOWER, 10.0, Aggregation.SUM),
        metric("survey.score", HIGHER, 4.0, Aggregation.LAST, credit=2, window=Window.QUARTER),
    ),
    TERMS,
)


def o(key: str, at: datetime, value: float, weight: float | None = None) -> Observation:
    return Observation(key, at, value, weight)


OBSERVATIONS = [
    # April: outside the report
    o("availability", local(2027, 4, 30, 23, 59), 10.0),
    # May (v1). availability (99.6·1000 + 99.9·3000) / 4000 = 399300 / 4000 = 99.825 ≥ 99.8: met
    o("availability", local(2027, 5, 1, 0, 0), 99.6, 1000),
    o("availability", local(2027, 5, 20, 12), 99.9, 3000),
    # incident [2,4,6,8,10]: h = 4·0.95 = 3.8 → 8 + 0.8·2 = 9.6 > 8: missed, excused below
    *(
        o("incident.resolution", local(2027, 5, d), float(v))
        for d, v in enumerate((2, 4, 6, 8, 10), start=3)
    ),
    # June (v1 still: v2 came on the 15th). availability (99.7 + 99.7) / 2 = 99.7:
    # ≥ 99.5 but < 99.8, warning (under v2's 99.9 it would have been a miss)
    o("availability", local(2027, 6, 2, 8), 99.7),
    o("availability", local(2027, 6, 30, 23, 30), 99.7),  # 03:30 UTC on 1 July: still June
    # incident [5]: 5 ≤ 6: met
    o("incident.resolution", local(2027, 6, 20), 5.0),
    # backlog 3 + 4 = 7, but v1 has no backlog metric: no target
    o("backlog", local(2027, 6, 21), 3.0),
    o("backlog", local(2027, 6, 22), 4.0),
    # July (v2). availability (99.8 + 99.9) / 2 = 99.85 < 99.9: missed, 5% of 10000 = 500
    o("availability", local(2027, 7, 1, 0, 0), 99.8),
    o("availability", local(2027, 7, 31, 23, 59), 99.9),
    # incident [3,7,9,12]: h = 3·0.95 = 2.85 → 9 + 0.85·3 = 11.55 > 8: missed, 8% = 800
    o("incident.resolution", local(2027, 7, 2), 7.0),
    o("incident.resolution", local(2027, 7, 3), 9.0),
    o("incident.resolution", local(2027, 7, 4), 12.0),
    o("incident.resolution", local(2027, 7, 5), 3.0),
    # backlog 4 + 5 + 2 = 11 > 10: missed, no credit percent → 0
    o("backlog", local(2027, 7, 6), 4.0),
    o("backlog", local(2027, 7, 7), 5.0),
    o("backlog", local(2027, 7, 8), 2.0),
    # August: availability and backlog have nothing (no data); incident [1, 2]:
    # h = 0.95 → 1 + 0.95·1 = 1.95 ≤ 6: met
    o("incident.resolution", local(2027, 8, 10), 1.0),
    o("incident.resolution", local(2027, 8, 11), 2.0),
    # survey Q2 (v1 governs: no target), last of [3.5, 3.8] = 3.8
    o("survey.score", local(2027, 5, 10), 3.5),
    o("survey.score", local(2027, 6, 20), 3.8),
    # survey Q3 (v2): last of [4.5, 3.9] = 3.9 < 4.0: missed, 2% of 30000 = 600; the quarter
    # is evaluated whole, September included although the report stops in August
    o("survey.score", local(2027, 7, 15), 4.5),
    o("survey.score", local(2027, 9, 30, 23), 3.9),
    o("survey.score", local(2027, 10, 1, 0, 30), 5.0),  # Q4: outside
    o("unknown.metric", local(2027, 5, 5), 1.0),  # no version defines it: ignored
]

EXCUSALS = [
    Excusal("incident.resolution", "2027-05", Attribution.CUSTOMER, "ticket data arrived late"),
    Excusal("availability", "2027-05", Attribution.THIRD_PARTY, "met anyway"),  # unused
    Excusal("availability", "2026-01", Attribution.PROVIDER, "outside the report"),  # ignored
]

PERIOD = ReportPeriod(date(2027, 5, 1), date(2027, 8, 31))
# After the third quarter closes: its survey window is judged whole (provisional before).
NOW = utc(2027, 10, 2, 12)


def report(policy: RemedyPolicy, tasks: list[TaskRecord] | None = None) -> ComplianceReport:
    return compliance_report(
        [V2, V1], OBSERVATIONS, EXCUSALS, PERIOD, remedy_policy=policy, now=NOW, tasks=tasks or []
    )


def table(result: ComplianceReport) -> dict[str, list[tuple[object, ...]]]:
    return {
        m.key: [(w.window, w.version, w.target, w.actual, w.status, w.credit) for w in m.windows]
        for m in result.metrics
    }


D = Decimal
MET, WARN, MISS = Status.MET, Status.WARNING, Status.MISSED
EXC, MISSING, NOTARGET = Status.EXCUSED, Status.MISSING_DATA, Status.NO_TARGET


def test_service_credits_per_metric_and_window() -> None:
    result = report(RemedyPolicy.SERVICE_CREDITS)
    assert result.time_zone == "America/New_York"
    assert table(result) == {
        "availability": [
            ("2027-05", 1, 99.5, 99.825, MET, D("0.00")),
            ("2027-06", 1, 99.5, 99.7, WARN, D("0.00")),
            ("2027-07", 2, 99.9, 99.85, MISS, D("500.00")),
            ("2027-08", 2, 99.9, None, MISSING, D("0.00")),
        ],
        "incident.resolution": [
            ("2027-05", 1, 8.0, 9.6, EXC, D("0.00")),
            ("2027-06", 1, 8.0, 5.0, MET, D("0.00")),
            ("2027-07", 2, 8.0, 11.55, MISS, D("800.00")),
            ("2027-08", 2, 8.0, 1.95, MET, D("0.00")),
        ],
        "backlog": [
            ("2027-05", 1, None, None, NOTARGET, D("0.00")),
            ("2027-06", 1, None, 7.0, NOTARGET, D("0.00")),
            ("2027-07", 2, 10.0, 11.0, MISS, D("0.00")),
            ("2027-08", 2, 10.0, None, MISSING, D("0.00")),
        ],
        "survey.score": [
            ("2027-Q2", 1, None, 3.8, NOTARGET, D("0.00")),
            ("2027-Q3", 2, 4.0, 3.9, MISS, D("600.00")),
        ],
    }


def test_the_window_cap_limits_credits() -> None:
    result = report(RemedyPolicy.SERVICE_CREDITS)
    credits = [(c.window, c.version, c.fee, c.cap, c.owed, c.credit) for c in result.window_credits]
    assert credits == [
        ("2027-05", 1, D("10000.00"), D("1000.00"), D("0.00"), D("0.00")),
        ("2027-06", 1, D("10000.00"), D("1000.00"), D("0.00"), D("0.00")),
        # 500 + 800 + 0 = 1300 owed, capped at 10% of 10000 = 1000
        ("2027-07", 2, D("10000.00"), D("1000.00"), D("1300.00"), D("1000.00")),
        ("2027-08", 2, D("10000.00"), D("1000.00"), D("0.00"), D("0.00")),
        ("2027-Q2", 1, D("30000.00"), D("3000.00"), D("0.00"), D("0.00")),
        ("2027-Q3", 2, D("30000.00"), D("3000.00"), D("600.00"), D("600.00")),
    ]
    assert result.totals.credits == D("1600.00")  # 1000 + 600
    assert result.corrective_actions == ()


def test_totals_count_every_status() -> None:
    totals = report(RemedyPolicy.SERVICE_CREDITS).totals
    # 14 rows: 4 metrics x 4 months, survey x 2 quarters
    assert (totals.met, totals.warning, totals.missed, totals.excused) == (3, 1, 4, 1)
    assert (totals.missing_data, totals.provisional, totals.no_target) == (2, 0, 3)
    assert totals.no_data == 0  # only reports stored before missing_data have it
    # every metric here is the provider's: its 4 misses and 2 windows without data
    assert totals.charged == ChargedCounts(customer=0, provider=6)
    assert totals.excused_by_party == ExcusedCounts(customer=1, provider=0, third_party=0)


def test_an_excusal_keeps_its_party_and_reason_and_an_unneeded_one_is_reported() -> None:
    result = report(RemedyPolicy.SERVICE_CREDITS)
    may = next(m for m in result.metrics if m.key == "incident.resolution").windows[0]
    assert may.status is Status.EXCUSED
    assert may.excusal == EXCUSALS[0]
    assert result.unused_excusals == (EXCUSALS[1],)


def test_corrective_action_lists_each_unexcused_miss_and_owes_no_money() -> None:
    result = report(RemedyPolicy.CORRECTIVE_ACTION)
    pm = (Side.PROVIDER, Role.PROGRAM_MANAGER)
    assert result.corrective_actions == (
        CorrectiveAction("availability", "2027-07", 99.9, 99.85, *pm),
        CorrectiveAction("incident.resolution", "2027-07", 8.0, 11.55, *pm),
        CorrectiveAction("backlog", "2027-07", 10.0, 11.0, *pm),
        CorrectiveAction("survey.score", "2027-Q3", 4.0, 3.9, *pm),
    )
    assert result.totals.corrective_actions == 4
    assert result.totals.credits is None
    assert result.window_credits == ()
    assert all(w.credit is None for m in result.metrics for w in m.windows)


def test_without_an_annual_cost_or_a_cap() -> None:
    no_cost = VersionRecord(1, utc(2027, 1, 1), None, V2.metrics, Terms(time_zone="UTC"))
    result = compliance_report(
        [no_cost], OBSERVATIONS, [], PERIOD, remedy_policy=RemedyPolicy.SERVICE_CREDITS, now=NOW
    )
    assert result.totals.credits is None
    uncapped = VersionRecord(
        1, utc(2027, 1, 1), None, V2.metrics, Terms(annual_cost=Decimal("120000"))
    )
    result = compliance_report(
        [uncapped],
        OBSERVATIONS,
        [],
        ReportPeriod(date(2027, 7, 1), date(2027, 7, 31)),
        remedy_policy=RemedyPolicy.SERVICE_CREDITS,
        now=NOW,
        zone="America/New_York",
    )
    july = next(c for c in result.window_credits if c.window == "2027-07")
    assert (july.cap, july.owed, july.credit) == (None, D("1300.00"), D("1300.00"))


def test_a_customer_excused_miss_counts_against_customer_responsiveness() -> None:
    tasks = [
        TaskRecord(
            Side.CUSTOMER,
            Role.FUNCTIONAL_LEAD,
            utc(2027, 5, 3, 13),
            date(2027, 5, 7),
            "completed",
            utc(2027, 5, 4, 1),
        ),
    ]
    rows = report(RemedyPolicy.SERVICE_CREDITS, tasks).responsiveness
    customer = next(r for r in rows if r.side is Side.CUSTOMER and r.role is None)
    provider = next(r for r in rows if r.side is Side.PROVIDER and r.role is None)
    assert (customer.excused_misses, customer.completed, customer.median_hours) == (1, 1, 12.0)
    assert provider.excused_misses == 0


def test_an_empty_agreement_reports_nothing_owed() -> None:
    result = compliance_report(
        [], [], [], PERIOD, remedy_policy=RemedyPolicy.SERVICE_CREDITS, now=NOW
    )
    assert result.metrics == ()
    assert result.time_zone == "America/New_York"  # the business zone by default
    assert result.totals.credits is None


def test_the_time_zone_comes_from_the_newest_version_and_must_be_known() -> None:
    older = VersionRecord(1, utc(2027, 1, 1), utc(2027, 2, 1), (), Terms(time_zone="Asia/Tokyo"))
    newer = VersionRecord(2, utc(2027, 2, 1), None, (), Terms(time_zone="Europe/Paris"))
    assert agreement_time_zone([newer, older]) == "Europe/Paris"
    bad = VersionRecord(1, utc(2027, 1, 1), None, (), Terms(time_zone="Eastern Time"))
    with pytest.raises(ValueError, match="unknown time zone"):
        compliance_report(
            [bad], [], [], PERIOD, remedy_policy=RemedyPolicy.SERVICE_CREDITS, now=NOW
        )


def test_two_excusals_for_one_window_are_refused() -> None:
    twice = [EXCUSALS[0], EXCUSALS[0]]
    with pytest.raises(ValueError, match="two excusals"):
        compliance_report(
            [V1], [], twice, PERIOD, remedy_policy=RemedyPolicy.SERVICE_CREDITS, now=NOW
        )
    with pytest.raises(ValueError, match="reason"):
        Excusal("m", "2027-05", Attribution.CUSTOMER, "  ")


def test_the_report_serialises_to_json() -> None:
    dumped = TypeAdapter(ComplianceReport).dump_python(
        report(RemedyPolicy.SERVICE_CREDITS), mode="json"
    )
    july = dumped["metrics"][0]["windows"][2]
    assert july["window"] == "2027-07"
    assert july["status"] == "missed"
    assert july["credit"] == "500.00"
    assert july["start"] == "2027-07-01T04:00:00Z"
    assert dumped["totals"]["credits"] == "1600.00"
