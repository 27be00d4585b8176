"""Attribution (domain.md, "Joint accountability"): who a miss is charged to and what it costs.

One agreement in New York time, annual cost 120,000 (month fee 10,000.00, 10% at risk), three
monthly metrics of 5% credit each, one per responsible party, reported for March and April
2027 on 2 May; April's availability window has no data, and the quarterly survey's second
quarter is still running.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from states import Role, Side
from workflow.compliance import (
    Attribution,
    ChargedCounts,
    ComplianceReport,
    CorrectiveAction,
    Excusal,
    Observation,
    RemedyPolicy,
    ReportPeriod,
    Status,
    VersionRecord,
    compliance_report,
)
from workflow.content import Aggregation, Category, Direction, Metric, Party, Terms, Window

NY = ZoneInfo("America/New_York")
D = Decimal


def metric(
    key: str, party: Party, *, data: Party | None = None, window: Window = Window.MONTH
) -> Metric:
    return Metric(
        key=key,
        name=key.replace("-", " ").title(),
        category=Category.PERFORMANCE,
        unit="%",
        direction=Direction.HIGHER_IS_BETTER,
        target=95.0,
        aggregation=Aggregation.MEAN,
        window=window,
        responsible_party=party,
        data_provider=data,
        service_credit_percent=5,
    )


VERSION = VersionRecord(
    1,
    datetime(2027, 1, 1, 5, tzinfo=UTC),
    None,
    (
        metric("availability", Party.PROVIDER),
        # the customer answers the provider's questions; the provider measures how fast
        metric("customer-ar-response", Party.CUSTOMER, data=Party.PROVIDER),
        metric("joint-release-quality", Party.SHARED),
        metric("survey", Party.PROVIDER, window=Window.QUARTER),
    ),
    Terms(time_zone="America/New_York", annual_cost=D("120000"), at_risk_percent=D("10")),
)


def at(month: int, day: int) -> datetime:
    return datetime(2027, month, day, 12, tzinfo=NY)


OBSERVATIONS = [
    Observation("availability", at(3, 10), 90.0),  # March: missed
    Observation("customer-ar-response", at(3, 10), 80.0),  # missed, the customer's
    Observation("joint-release-quality", at(3, 10), 70.0),  # missed, both sides'
    Observation("customer-ar-response", at(4, 10), 99.0),  # April: met; availability: none
    Observation("joint-release-quality", at(4, 10), 99.0),
    Observation("survey", at(4, 20), 50.0),  # Q2 runs to 30 June: not judged yet
]
NOW = datetime(2027, 5, 2, 12, tzinfo=UTC)


def report(
    policy: RemedyPolicy, excusals: tuple[Excusal, ...] = (), *, now: datetime = NOW
) -> ComplianceReport:
    return compliance_report(
        [VERSION],
        OBSERVATIONS,
        excusals,
        ReportPeriod(date(2027, 3, 1), date(2027, 4, 30)),
        remedy_policy=policy,
        now=now,
    )


def cells(result: ComplianceReport) -> dict[tuple[str, str], tuple[Status, Party | None, object]]:
    return {
        (m.key, w.window): (w.status, w.charged_to, w.credit)
        for m in result.metrics
        for w in m.windows
    }


def test_each_miss_is_charged_to_the_metric_s_responsible_party_and_only_provider_misses_cost() -> (
    None
):
    table = cells(report(RemedyPolicy.SERVICE_CREDITS))
    assert table[("availability", "2027-03")] == (Status.MISSED, Party.PROVIDER, D("500.00"))
    # a customer miss never costs the provider money
    assert table[("customer-ar-response", "2027-03")] == (Status.MISSED, Party.CUSTOMER, D("0"))
    # a shared miss is the provider's too
    assert table[("joint-release-quality", "2027-03")] == (
        Status.MISSED,
        Party.SHARED,
        D("500.00"),
    )
    assert table[("customer-ar-response", "2027-04")] == (Status.MET, None, D("0"))


def test_a_customer_miss_opens_a_customer_action_under_either_policy() -> None:
    pm = Role.PROGRAM_MANAGER
    customer_ar = CorrectiveAction("customer-ar-response", "2027-03", 95.0, 80.0, Side.CUSTOMER, pm)
    credits = report(RemedyPolicy.SERVICE_CREDITS)
    # credits pay for the provider's part; the customer's part is always an action
    assert credits.corrective_actions == (
        customer_ar,
        CorrectiveAction("joint-release-quality", "2027-03", 95.0, 70.0, Side.CUSTOMER, pm),
    )
    actions = report(RemedyPolicy.CORRECTIVE_ACTION)
    assert actions.corrective_actions == (
        CorrectiveAction("availability", "2027-03", 95.0, 90.0, Side.PROVIDER, pm),
        customer_ar,
        CorrectiveAction("joint-release-quality", "2027-03", 95.0, 70.0, Side.PROVIDER, pm),
        CorrectiveAction("joint-release-quality", "2027-03", 95.0, 70.0, Side.CUSTOMER, pm),
    )
    assert actions.totals.credits is None


def test_a_closed_window_without_data_is_missing_data_charged_to_who_provides_the_data() -> None:
    table = cells(report(RemedyPolicy.SERVICE_CREDITS))
    assert table[("availability", "2027-04")] == (Status.MISSING_DATA, Party.PROVIDER, D("0"))


def test_a_window_still_running_is_provisional_whatever_its_data_say() -> None:
    result = report(RemedyPolicy.SERVICE_CREDITS)
    survey = next(m for m in result.metrics if m.key == "survey")
    assert [(w.window, w.actual, w.status, w.charged_to) for w in survey.windows] == [
        ("2027-Q1", None, Status.MISSING_DATA, Party.PROVIDER),
        ("2027-Q2", 50.0, Status.PROVISIONAL, None),
    ]
    assert result.totals.provisional == 1
    # once the quarter has closed the same data are a miss
    later = report(RemedyPolicy.SERVICE_CREDITS, now=datetime(2027, 7, 2, tzinfo=UTC))
    assert cells(later)[("survey", "2027-Q2")][:2] == (Status.MISSED, Party.PROVIDER)


def test_an_excusal_charges_its_named_party_and_covers_missing_data_too() -> None:
    excusals = (
        Excusal("availability", "2027-03", Attribution.CUSTOMER, "customer change freeze"),
        Excusal("availability", "2027-04", Attribution.THIRD_PARTY, "monitoring vendor outage"),
    )
    result = report(RemedyPolicy.SERVICE_CREDITS, excusals)
    table = cells(result)
    assert table[("availability", "2027-03")] == (Status.EXCUSED, Party.CUSTOMER, D("0"))
    assert table[("availability", "2027-04")] == (Status.EXCUSED, None, D("0"))
    assert result.unused_excusals == ()


def test_charges_count_in_each_side_s_responsiveness() -> None:
    result = report(RemedyPolicy.SERVICE_CREDITS)
    # provider: availability March and April, release quality March, survey Q1;
    # customer: AR response March, release quality March
    assert result.totals.charged == ChargedCounts(customer=2, provider=4)
    sides = {row.side: row.charged_misses for row in result.responsiveness if row.role is None}
    assert sides == {Side.CUSTOMER: 2, Side.PROVIDER: 4}
