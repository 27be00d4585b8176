"""What a report evaluates before judging: its windows, the versions judging them, aggregates.

`plan_report` fixes the zone, each kind's windows over the period, the version governing each
window and each metric's newest definition; `WindowAggregate` holds one metric's aggregates in
one window, computed here from observations or by the database (`workflow.queries.compliance`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from workflow.calendar import BUSINESS_TIME_ZONE, time_zone
from workflow.compliance.aggregation import Observation, aggregate
from workflow.compliance.versions import VersionRecord, version_for_window
from workflow.compliance.windows import TimeWindow, windows_between
from workflow.content import Aggregation, Metric, Window


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    """The report's local calendar days, both included."""

    first_day: date
    last_day: date

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise ValueError("the period ends before it starts")


def agreement_time_zone(versions: Sequence[VersionRecord]) -> str:
    """The zone named by the newest version that names one; the business zone otherwise."""
    for version in sorted(versions, key=lambda v: (v.activated_at, v.number), reverse=True):
        if version.terms.time_zone:
            return version.terms.time_zone
    return BUSINESS_TIME_ZONE


def _newest_definitions(governing: Iterable[VersionRecord | None]) -> dict[str, Metric]:
    """Each metric key's definition in the newest governing version that has it, in order."""
    versions = {v.number: v for v in governing if v is not None}
    ordered = sorted(versions.values(), key=lambda v: (v.activated_at, v.number), reverse=True)
    definitions: dict[str, Metric] = {}
    for version in ordered:
        for metric in version.metrics:
            definitions.setdefault(metric.key, metric)
    return definitions


@dataclass(frozen=True, slots=True)
class WindowAggregate:
    """Every aggregation of one metric's observations in one window, each rounded (6 dp).

    Built from observations here (`of`) or from the database's aggregates
    (`workflow.queries.compliance`); `count` counts every observation, weightless or not.
    A field is None when there is nothing to aggregate (or it was not asked for).
    """

    count: int
    mean: float | None = None
    p95: float | None = None
    min: float | None = None
    max: float | None = None
    sum: float | None = None
    last: float | None = None

    @classmethod
    def of(cls, observations: Sequence[Observation]) -> WindowAggregate:
        return cls(
            count=len(observations),
            mean=aggregate(Aggregation.MEAN, observations),
            p95=aggregate(Aggregation.P95, observations),
            min=aggregate(Aggregation.MIN, observations),
            max=aggregate(Aggregation.MAX, observations),
            sum=aggregate(Aggregation.SUM, observations),
            last=aggregate(Aggregation.LAST, observations),
        )

    def value(self, aggregation: Aggregation) -> float | None:
        if self.count == 0:
            return None
        return {
            Aggregation.MEAN: self.mean,
            Aggregation.P95: self.p95,
            Aggregation.MIN: self.min,
            Aggregation.MAX: self.max,
            Aggregation.SUM: self.sum,
            Aggregation.LAST: self.last,
        }[aggregation]


NO_OBSERVATIONS = WindowAggregate(count=0)


@dataclass(frozen=True, slots=True)
class ReportPlan:
    """What a report needs aggregated: each metric's windows and the versions judging them."""

    zone: str
    windows: dict[Window, list[TimeWindow]]
    governing: dict[str, VersionRecord | None]  # by window label
    definitions: dict[str, Metric]  # each metric's newest definition, in report order

    def metric_windows(self, key: str) -> list[TimeWindow]:
        return self.windows[self.definitions[key].window]

    def aggregation(self, key: str, window: TimeWindow) -> Aggregation:
        """How `key` is aggregated in `window`: the judging version's way, else the newest."""
        version = self.governing[window.label]
        metric = version.metric(key) if version is not None else None
        return (metric or self.definitions[key]).aggregation

    def cells(self) -> list[tuple[str, TimeWindow]]:
        """Every (metric key, window) pair the report evaluates."""
        return [(key, w) for key in self.definitions for w in self.metric_windows(key)]


def plan_report(
    versions: Sequence[VersionRecord], period: ReportPeriod, *, zone: str | None = None
) -> ReportPlan:
    """The zone, windows, judging versions and metric definitions of a report on `period`."""
    zone = zone or agreement_time_zone(versions)
    time_zone(zone)  # refuse an unknown zone before anything else
    windows = {
        kind: windows_between(period.first_day, period.last_day, kind, zone) for kind in Window
    }
    governing = {w.label: version_for_window(versions, w) for kind in Window for w in windows[kind]}
    return ReportPlan(zone, windows, governing, _newest_definitions(governing.values()))
