"""The compliance report: every metric in every window of a date range, with remedies.

Windows are those of the metric's newest definition in the range (a metric moved from monthly
to quarterly is reported quarterly throughout); each window holds the days of the range it
touches and is always evaluated whole. Targets, fees and caps come from the version governing
the window (`versions.version_for_window`); a metric that version lacks shows `no_target`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from workflow.calendar import start_of_day
from workflow.compliance.aggregation import Observation
from workflow.compliance.attribution import (
    ChargedCounts,
    action_sides,
    charged_to,
    earns_credit,
)
from workflow.compliance.excusals import Excusal, ExcusedCounts, count_by_party, index_excusals
from workflow.compliance.plan import (
    NO_OBSERVATIONS,
    ReportPeriod,
    ReportPlan,
    WindowAggregate,
    plan_report,
)
from workflow.compliance.remedies import (
    CorrectiveAction,
    RemedyPolicy,
    capped,
    percent_of,
    window_fee,
)
from workflow.compliance.responsiveness import ResponsivenessRow, TaskRecord, responsiveness
from workflow.compliance.status import Status, judge
from workflow.compliance.versions import VersionRecord
from workflow.compliance.windows import TimeWindow, window_of
from workflow.content import Aggregation, Direction, Metric, Party, Window

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class WindowResult:
    """One metric in one window."""

    window: str
    kind: Window
    start: datetime
    end: datetime
    version: int | None  # the governing version's number
    aggregation: Aggregation
    direction: Direction | None
    target: float | None
    warning: float | None
    actual: float | None
    observations: int
    status: Status
    excusal: Excusal | None
    credit: Decimal | None  # this miss's credit before the window's cap; None: no credits apply
    # Who the miss (or the missing data) is charged to; None when nothing is owed. Reports
    # stored before attribution read back as None.
    charged_to: Party | None = None


@dataclass(frozen=True, slots=True)
class MetricReport:
    key: str
    name: str
    unit: str
    windows: tuple[WindowResult, ...]


@dataclass(frozen=True, slots=True)
class WindowCredit:
    """Service credits of one window across its metrics, capped at the at-risk amount."""

    window: str
    kind: Window
    version: int
    fee: Decimal
    cap: Decimal | None
    owed: Decimal  # the sum of the misses' credits
    credit: Decimal  # what is actually credited: owed, at most cap


@dataclass(frozen=True, slots=True)
class Totals:
    met: int
    warning: int
    missed: int
    excused: int
    no_data: int  # only in reports stored before missing_data and provisional
    no_target: int
    credits: Decimal | None  # None unless the policy is service credits and a fee is known
    corrective_actions: int
    excused_by_party: ExcusedCounts
    missing_data: int = 0
    provisional: int = 0
    charged: ChargedCounts = field(default_factory=ChargedCounts)


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    period: ReportPeriod
    time_zone: str
    remedy_policy: RemedyPolicy
    metrics: tuple[MetricReport, ...]
    window_credits: tuple[WindowCredit, ...]
    corrective_actions: tuple[CorrectiveAction, ...]
    unused_excusals: tuple[Excusal, ...]  # excusals for windows that were not missed
    responsiveness: tuple[ResponsivenessRow, ...]
    totals: Totals


def compliance_report(
    versions: Sequence[VersionRecord],
    observations: Iterable[Observation],
    excusals: Iterable[Excusal],
    period: ReportPeriod,
    *,
    remedy_policy: RemedyPolicy,
    now: datetime,
    tasks: Sequence[TaskRecord] = (),
    zone: str | None = None,
) -> ComplianceReport:
    """Compliance per metric and window of `period`, with remedies, totals and responsiveness."""
    plan = plan_report(versions, period, zone=zone)
    buckets: dict[tuple[str, str], list[Observation]] = defaultdict(list)
    for observation in observations:
        definition = plan.definitions.get(observation.metric_key)
        if definition is not None:
            label = window_of(observation.observed_at, definition.window, plan.zone).label
            if label in plan.governing:
                buckets[observation.metric_key, label].append(observation)
    aggregates = {cell: WindowAggregate.of(found) for cell, found in buckets.items()}
    return judge_report(
        plan, aggregates, excusals, period, remedy_policy=remedy_policy, now=now, tasks=tasks
    )


def judge_report(
    plan: ReportPlan,
    aggregates: Mapping[tuple[str, str], WindowAggregate],
    excusals: Iterable[Excusal],
    period: ReportPeriod,
    *,
    remedy_policy: RemedyPolicy,
    now: datetime,
    tasks: Sequence[TaskRecord] = (),
) -> ComplianceReport:
    """The report from pre-aggregated windows, keyed by (metric key, window label).

    The one implementation of the rules: `compliance_report` aggregates observations in
    Python and comes here; the database path aggregates in SQL and comes here too.
    """
    reports, by_window, used, unused = _judge_windows(
        plan, aggregates, index_excusals(excusals), remedy_policy, now
    )
    window_credits = _window_credits(plan.windows, plan.governing, by_window, remedy_policy)
    actions = corrective_actions(reports, remedy_policy)
    excused_by_party = count_by_party(used)
    rows = [row for report in reports for row in report.windows]
    span_start = start_of_day(period.first_day, plan.zone)
    span_end = start_of_day(period.last_day + timedelta(days=1), plan.zone)
    return ComplianceReport(
        period=period,
        time_zone=plan.zone,
        remedy_policy=remedy_policy,
        metrics=tuple(reports),
        window_credits=tuple(window_credits),
        corrective_actions=tuple(actions),
        unused_excusals=tuple(unused),
        responsiveness=tuple(
            responsiveness(
                tasks,
                start=span_start,
                end=span_end,
                now=now,
                excused=excused_by_party,
                charged=charged_counts(rows),
            )
        ),
        totals=totals_of(rows, window_credits, actions, excused_by_party),
    )


def _judge_windows(
    plan: ReportPlan,
    aggregates: Mapping[tuple[str, str], WindowAggregate],
    excusal_index: Mapping[tuple[str, str], Excusal],
    policy: RemedyPolicy,
    now: datetime,
) -> tuple[list[MetricReport], dict[str, list[WindowResult]], list[Excusal], list[Excusal]]:
    """Every metric judged in each of its windows; the rows also by window label, and the
    excusals that excused a miss (used) and those that did not (unused)."""
    used: list[Excusal] = []
    unused: list[Excusal] = []
    reports: list[MetricReport] = []
    by_window: dict[str, list[WindowResult]] = defaultdict(list)
    for key, definition in plan.definitions.items():
        rows: list[WindowResult] = []
        for window in plan.windows[definition.window]:
            row = _evaluate(
                key,
                definition,
                window,
                plan.governing[window.label],
                aggregates.get((key, window.label), NO_OBSERVATIONS),
                excusal_index.get((key, window.label)),
                policy,
                now,
            )
            if row.excusal is not None:
                (used if row.status is Status.EXCUSED else unused).append(row.excusal)
            rows.append(row)
            by_window[window.label].append(row)
        reports.append(MetricReport(key, definition.name, definition.unit, tuple(rows)))
    return reports, by_window, used, unused


def corrective_actions(
    reports: Sequence[MetricReport], policy: RemedyPolicy
) -> list[CorrectiveAction]:
    """An action per side that owes one for each unexcused miss (`attribution.action_sides`)."""
    return [
        CorrectiveAction(report.key, row.window, row.target, row.actual, side=side)
        for report in reports
        for row in report.windows
        if row.status is Status.MISSED and row.target is not None and row.actual is not None
        for side in action_sides(row.charged_to, policy)
    ]


def charged_counts(rows: Iterable[WindowResult]) -> ChargedCounts:
    return ChargedCounts.of((row.status, row.charged_to) for row in rows)


def totals_of(
    rows: Sequence[WindowResult],
    window_credits: Sequence[WindowCredit],
    actions: Sequence[CorrectiveAction],
    excused_by_party: ExcusedCounts,
) -> Totals:
    statuses = [row.status for row in rows]
    return Totals(
        met=statuses.count(Status.MET),
        warning=statuses.count(Status.WARNING),
        missed=statuses.count(Status.MISSED),
        excused=statuses.count(Status.EXCUSED),
        no_data=statuses.count(Status.NO_DATA),
        no_target=statuses.count(Status.NO_TARGET),
        credits=sum((c.credit for c in window_credits), ZERO) if window_credits else None,
        corrective_actions=len(actions),
        excused_by_party=excused_by_party,
        missing_data=statuses.count(Status.MISSING_DATA),
        provisional=statuses.count(Status.PROVISIONAL),
        charged=charged_counts(rows),
    )


def _evaluate(
    key: str,
    definition: Metric,
    window: TimeWindow,
    version: VersionRecord | None,
    found: WindowAggregate,
    excusal: Excusal | None,
    policy: RemedyPolicy,
    now: datetime,
) -> WindowResult:
    metric = version.metric(key) if version is not None else None
    aggregation = (metric or definition).aggregation
    actual = found.value(aggregation)
    status = _status(metric, actual, excusal, closed=window.end <= now)
    charge = charged_to(status, metric, excusal)
    credit: Decimal | None = None
    annual_cost = version.terms.annual_cost if version is not None else None
    if policy is RemedyPolicy.SERVICE_CREDITS and annual_cost is not None:
        credit = ZERO
        if (
            status is Status.MISSED
            and earns_credit(charge)
            and metric is not None
            and metric.service_credit_percent
        ):
            credit = percent_of(window_fee(annual_cost, window.kind), metric.service_credit_percent)
    return WindowResult(
        window=window.label,
        kind=window.kind,
        start=window.start,
        end=window.end,
        version=version.number if version is not None else None,
        aggregation=aggregation,
        direction=metric.direction if metric is not None else None,
        target=metric.target if metric is not None else None,
        warning=metric.warning if metric is not None else None,
        actual=actual,
        observations=found.count,
        status=status,
        excusal=excusal,
        credit=credit,
        charged_to=charge,
    )


def _status(
    metric: Metric | None, actual: float | None, excusal: Excusal | None, *, closed: bool
) -> Status:
    """The window's status: provisional until it closes; missing data once closed without any;
    an excusal in force turns a miss of either kind into `excused`."""
    status = judge(metric, actual)
    if status is Status.NO_TARGET:
        return status
    if not closed:
        return Status.PROVISIONAL
    if status is Status.NO_DATA:
        status = Status.MISSING_DATA
    if status in (Status.MISSED, Status.MISSING_DATA) and excusal is not None:
        return Status.EXCUSED
    return status


def _window_credits(
    windows: dict[Window, list[TimeWindow]],
    governing: dict[str, VersionRecord | None],
    by_window: dict[str, list[WindowResult]],
    policy: RemedyPolicy,
) -> list[WindowCredit]:
    if policy is not RemedyPolicy.SERVICE_CREDITS:
        return []
    credits: list[WindowCredit] = []
    for kind in Window:
        for window in windows[kind]:
            version = governing[window.label]
            rows = by_window.get(window.label, [])
            if version is None or version.terms.annual_cost is None or not rows:
                continue
            fee = window_fee(version.terms.annual_cost, kind)
            at_risk = version.terms.at_risk_percent
            cap = None if at_risk is None else percent_of(fee, at_risk)
            owed = sum((row.credit or ZERO for row in rows), ZERO)
            credits.append(
                WindowCredit(
                    window.label, kind, version.number, fee, cap, owed, capped([owed], cap)
                )
            )
    return credits
