"""What-if and gaps from data: one metric's recorded windows judged against other thresholds.

Both are pure functions over pre-aggregated windows (`WindowAggregate`, from the database
path `workflow.queries.compliance.sql_aggregates` or from `WindowAggregate.of`), reusing the
status rule (`judge`) and the money rules (`window_fee`, `percent_of`, `capped`).

What-if. Every window is judged twice with the SAME metric definition (direction, aggregation,
window kind, credit percent) and the same version's terms: once with the version's current
target and once with the proposed one.
- The warning band keeps its width: proposed warning = proposed target + (warning - target),
  rounded to 6 decimals; no warning stays no warning.
- A missed window with an excusal on record (metric, window) is excused under either target:
  the excusal attributes the under-performance to a party, whichever threshold it crossed.
- Credits (service-credit agreements with an annual cost only, else None): a missed window owes
  fee * the metric's credit percent, capped at the window's at-risk amount. The cap is applied to
  this metric alone: other metrics' credits in the same window are not part of a what-if.

Gaps from data. Over the last 6 windows of the metric's kind before a date (whole windows only;
the one holding the date is excluded), a window misses when its actual is worse than the
customer's requirement (the target when there is no requirement), the `judge` comparison.
Severity: high when 3 or more of the 6 missed, or when the worst shortfall is larger than the
warning band's width (|warning - target|; no band, no such rule); medium when 2 missed; low when
1. Windows without data are not misses; no miss, no gap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from workflow.compliance.aggregation import round_actual
from workflow.compliance.plan import NO_OBSERVATIONS, WindowAggregate
from workflow.compliance.remedies import RemedyPolicy, capped, percent_of, window_fee
from workflow.compliance.report import ZERO
from workflow.compliance.status import Status, judge
from workflow.compliance.windows import TimeWindow
from workflow.content import Aggregation, Direction, Metric, Terms, Window

LOOKBACK_WINDOWS = 6


def with_target(metric: Metric, target: float) -> Metric:
    """`metric` judged against `target`, its warning band keeping its width."""
    warning = None
    if metric.warning is not None:
        warning = round_actual(target + (metric.warning - metric.target))
    return metric.model_copy(update={"target": target, "warning": warning})


@dataclass(frozen=True, slots=True)
class WhatIfWindow:
    window: str
    observations: int
    actual: float | None
    status_now: Status
    status_proposed: Status
    credit_now: Decimal | None
    credit_proposed: Decimal | None


@dataclass(frozen=True, slots=True)
class WhatIfTotals:
    windows: int
    no_data: int
    met_now: int
    met_proposed: int
    warning_now: int
    warning_proposed: int
    missed_now: int
    missed_proposed: int
    excused_now: int
    excused_proposed: int
    credits_now: Decimal | None
    credits_proposed: Decimal | None


@dataclass(frozen=True, slots=True)
class WhatIf:
    metric: str
    version: int
    time_zone: str
    window_kind: Window
    aggregation: Aggregation
    direction: Direction
    remedy_policy: RemedyPolicy
    target_now: float
    warning_now: float | None
    target_proposed: float
    warning_proposed: float | None
    windows: tuple[WhatIfWindow, ...]
    totals: WhatIfTotals
    note: str | None = None


def _credit(
    status: Status, metric: Metric, window: TimeWindow, terms: Terms, policy: RemedyPolicy
) -> Decimal | None:
    if policy is not RemedyPolicy.SERVICE_CREDITS or terms.annual_cost is None:
        return None
    if status is not Status.MISSED or not metric.service_credit_percent:
        return ZERO
    fee = window_fee(terms.annual_cost, window.kind)
    cap = None if terms.at_risk_percent is None else percent_of(fee, terms.at_risk_percent)
    return capped([percent_of(fee, metric.service_credit_percent)], cap)


def _status(metric: Metric, actual: float | None, excused: bool) -> Status:
    status = judge(metric, actual)
    return Status.EXCUSED if status is Status.MISSED and excused else status


def what_if(
    metric: Metric,
    proposed_target: float,
    windows: Sequence[TimeWindow],
    aggregates: Mapping[str, WindowAggregate],
    *,
    version: int,
    terms: Terms,
    remedy_policy: RemedyPolicy,
    zone: str,
    excused: frozenset[str] = frozenset(),
    note: str | None = None,
) -> WhatIf:
    """`metric` over `windows` (aggregates keyed by window label) under both targets."""
    proposed = with_target(metric, proposed_target)
    rows = [
        _replay_window(
            window,
            aggregates.get(window.label, NO_OBSERVATIONS),
            metric,
            proposed,
            excused=window.label in excused,
            terms=terms,
            remedy_policy=remedy_policy,
        )
        for window in windows
    ]
    money = remedy_policy is RemedyPolicy.SERVICE_CREDITS and terms.annual_cost is not None
    return WhatIf(
        metric=metric.key,
        version=version,
        time_zone=zone,
        window_kind=metric.window,
        aggregation=metric.aggregation,
        direction=metric.direction,
        remedy_policy=remedy_policy,
        target_now=metric.target,
        warning_now=metric.warning,
        target_proposed=proposed.target,
        warning_proposed=proposed.warning,
        windows=tuple(rows),
        totals=_totals(rows, money=money),
        note=note,
    )


def _replay_window(
    window: TimeWindow,
    found: WindowAggregate,
    metric: Metric,
    proposed: Metric,
    *,
    excused: bool,
    terms: Terms,
    remedy_policy: RemedyPolicy,
) -> WhatIfWindow:
    """One window judged, and its credit owed, under the current and the proposed target."""
    actual = found.value(metric.aggregation)
    now = _status(metric, actual, excused)
    then = _status(proposed, actual, excused)
    return WhatIfWindow(
        window=window.label,
        observations=found.count,
        actual=actual,
        status_now=now,
        status_proposed=then,
        credit_now=_credit(now, metric, window, terms, remedy_policy),
        credit_proposed=_credit(then, proposed, window, terms, remedy_policy),
    )


def _totals(rows: Sequence[WhatIfWindow], *, money: bool) -> WhatIfTotals:
    """Windows per status under each target; credits only where money is at stake."""

    def count(status: Status, proposed_side: bool) -> int:
        return sum(
            1 for r in rows if (r.status_proposed if proposed_side else r.status_now) is status
        )

    return WhatIfTotals(
        windows=len(rows),
        no_data=count(Status.NO_DATA, False),
        met_now=count(Status.MET, False),
        met_proposed=count(Status.MET, True),
        warning_now=count(Status.WARNING, False),
        warning_proposed=count(Status.WARNING, True),
        missed_now=count(Status.MISSED, False),
        missed_proposed=count(Status.MISSED, True),
        excused_now=count(Status.EXCUSED, False),
        excused_proposed=count(Status.EXCUSED, True),
        credits_now=sum((r.credit_now or ZERO for r in rows), ZERO) if money else None,
        credits_proposed=(sum((r.credit_proposed or ZERO for r in rows), ZERO) if money else None),
    )


@dataclass(frozen=True, slots=True)
class MeasuredShortfall:
    """A metric that missed its threshold in some of the last windows before a date."""

    metric: str
    threshold: float
    against: str  # "requirement" or "target"
    windows: int  # how many windows were looked at (6)
    with_data: int
    misses: tuple[tuple[str, float], ...]  # (window label, actual), oldest first
    worst: float  # the largest shortfall, in the metric's unit
    band: float | None  # the warning band's width
    severity: str

    def describe(self, metric: Metric) -> str:
        kind = "months" if metric.window is Window.MONTH else "quarters"
        listed = ", ".join(f"{label} {value:g}" for label, value in self.misses)
        beyond = ""
        if self.band is not None:
            side = "beyond" if self.worst > self.band else "within"
            beyond = f", {side} the warning band of {self.band:g}"
        return (
            f"Measured {metric.aggregation.value} of {metric.name} missed the {self.against} "
            f"{self.threshold:g} {metric.unit} in {len(self.misses)} of the last {self.windows} "
            f"{kind} ({self.with_data} with data): {listed}; worst shortfall "
            f"{self.worst:g}{beyond}."
        )


def measured_shortfall(
    metric: Metric, windows: Sequence[TimeWindow], aggregates: Mapping[str, WindowAggregate]
) -> MeasuredShortfall | None:
    """How `metric` fared in `windows` against the requirement (else the target); None if fine."""
    threshold = metric.requirement if metric.requirement is not None else metric.target
    against = "requirement" if metric.requirement is not None else "target"
    judged = metric.model_copy(update={"target": threshold, "warning": None})
    misses: list[tuple[str, float]] = []
    with_data = 0
    for window in windows:
        actual = aggregates.get(window.label, NO_OBSERVATIONS).value(metric.aggregation)
        if actual is None:
            continue
        with_data += 1
        if judge(judged, actual) is Status.MISSED:
            misses.append((window.label, actual))
    if not misses:
        return None
    worst = max(round_actual(abs(actual - threshold)) for _, actual in misses)
    band = None if metric.warning is None else round_actual(abs(metric.warning - metric.target))
    if len(misses) >= 3 or (band is not None and worst > band):
        severity = "high"
    else:
        severity = "medium" if len(misses) == 2 else "low"
    return MeasuredShortfall(
        metric.key,
        threshold,
        against,
        len(windows),
        with_data,
        tuple(misses),
        worst,
        band,
        severity,
    )
