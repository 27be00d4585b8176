"""What-if over recorded history, and measured shortfalls for gap analysis, aggregated in SQL.

Both build a one-metric-kind `ReportPlan` (no governing versions: the version under study
judges every window) and hand it to `sql_aggregates`, so the numbers are those of the
compliance report; the rules are in `workflow.compliance.what_if`.

The zone is the studied version's `time_zone`, else the agreement's (`agreement_time_zone` of
its activated versions), else the business zone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from workflow.access import Actor
from workflow.calendar import local_date
from workflow.compliance import (
    RemedyPolicy,
    ReportPlan,
    TimeWindow,
    VersionRecord,
    agreement_time_zone,
    windows_between,
)
from workflow.compliance.what_if import (
    LOOKBACK_WINDOWS,
    MeasuredShortfall,
    WhatIf,
    measured_shortfall,
    what_if,
)
from workflow.compliance.windows import window_for_day
from workflow.content import Metric, Terms, Window
from workflow.errors import InvalidInput
from workflow.models import Excusal, Measurement
from workflow.permissions import version_by_number
from workflow.queries.agreements import visible_agreement
from workflow.queries.compliance import load_versions, sql_aggregates

_M: sa.Table = Measurement.__table__  # type: ignore[attr-defined]


def study_zone(session: Session, agreement_id: int, terms: Terms) -> str:
    """The studied version's zone, else the agreement's (see the module docstring)."""
    return terms.time_zone or agreement_time_zone(load_versions(session, agreement_id))


def _plan(
    zone: str, windows: dict[Window, list[TimeWindow]], metrics: Sequence[Metric]
) -> ReportPlan:
    governing: dict[str, VersionRecord | None] = {
        w.label: None for kind in Window for w in windows.get(kind, [])
    }
    return ReportPlan(
        zone,
        {kind: windows.get(kind, []) for kind in Window},
        governing,
        {m.key: m for m in metrics},
    )


def last_windows(
    before: datetime, kind: Window, zone: str, n: int = LOOKBACK_WINDOWS
) -> list[TimeWindow]:
    """The `n` whole windows of `kind` before the one holding `before`, oldest first."""
    current = window_for_day(local_date(before, zone), kind, zone)
    found: list[TimeWindow] = []
    day = current.first_day
    for _ in range(n):
        window = window_for_day(day.fromordinal(day.toordinal() - 1), kind, zone)
        found.append(window)
        day = window.first_day
    return found[::-1]


def measured_shortfalls(
    session: Session, agreement_id: int, metrics: Sequence[Metric], before: datetime, zone: str
) -> dict[str, MeasuredShortfall]:
    """Each metric that missed its requirement (else target) in the 6 windows before `before`.

    One grouped aggregate query for every metric (plus the probes `sql_aggregates` makes for
    `last` and, on SQLite, p95 windows).
    """
    if not metrics:
        return {}
    windows = {kind: last_windows(before, kind, zone) for kind in {m.window for m in metrics}}
    aggregates = sql_aggregates(session, agreement_id, _plan(zone, windows, metrics))
    found: dict[str, MeasuredShortfall] = {}
    for metric in metrics:
        mine = windows[metric.window]
        by_label = {label: a for (key, label), a in aggregates.items() if key == metric.key}
        shortfall = measured_shortfall(metric, mine, by_label)
        if shortfall is not None:
            found[metric.key] = shortfall
    return found


def version_what_if(
    session: Session,
    actor: Actor,
    agreement_id: int,
    number: int,
    metric_key: str,
    target: float,
) -> WhatIf:
    """Version `number`'s metric replayed over every window with observations, under its
    current target and under `target`. NotFound to non-parties; InvalidInput for an unknown
    metric or a target that is not a finite number."""
    agreement = visible_agreement(session, actor, agreement_id)
    version = version_by_number(session, agreement, number)
    metric = _metric_to_replay(version.metrics, number, metric_key, target)
    terms = Terms.model_validate(version.terms)
    zone = study_zone(session, agreement_id, terms)
    span = _observed_span(session, agreement_id, metric.key)
    policy = RemedyPolicy(agreement.remedy_policy)
    if span is None:
        return what_if(
            metric,
            target,
            [],
            {},
            version=number,
            terms=terms,
            remedy_policy=policy,
            zone=zone,
            note=f"no observations of {metric.key} are recorded: nothing to replay",
        )
    first, last = span
    windows = windows_between(local_date(first, zone), local_date(last, zone), metric.window, zone)
    aggregates = sql_aggregates(
        session, agreement_id, _plan(zone, {metric.window: windows}, [metric])
    )
    return what_if(
        metric,
        target,
        windows,
        {label: a for (_, label), a in aggregates.items()},
        version=number,
        terms=terms,
        remedy_policy=policy,
        zone=zone,
        excused=_excused_windows(session, agreement_id, metric.key),
    )


def _metric_to_replay(
    metrics: list[dict[str, Any]], number: int, metric_key: str, target: float
) -> Metric:
    """The version's metric `metric_key`; InvalidInput naming every problem with the request."""
    metric = next((Metric.model_validate(m) for m in metrics if m.get("key") == metric_key), None)
    errors = []
    if metric is None:
        errors.append(
            {"field": "metric", "message": f"version {number} has no metric {metric_key}"}
        )
    if not math.isfinite(target):
        errors.append({"field": "target", "message": "must be a finite number"})
    if metric is None or errors:
        raise InvalidInput("cannot replay that metric", errors)
    return metric


def _observed_span(
    session: Session, agreement_id: int, metric_key: str
) -> tuple[datetime, datetime] | None:
    """When the first and the last observation of the metric were made; None if never."""
    first, last = session.execute(
        sa.select(sa.func.min(_M.c.observed_at), sa.func.max(_M.c.observed_at)).where(
            _M.c.agreement_id == agreement_id, _M.c.metric_key == metric_key
        )
    ).one()
    return None if first is None else (first, last)


def _excused_windows(session: Session, agreement_id: int, metric_key: str) -> frozenset[str]:
    return frozenset(
        session.exec(
            select(Excusal.window).where(
                Excusal.agreement_id == agreement_id,
                Excusal.metric_key == metric_key,
                col(Excusal.withdrawn_at).is_(None),
            )
        ).all()
    )
