"""A reporting period's report: the windows that close in the period, and only those.

A monthly period reports its month's monthly windows and, in the last month of a quarter, the
quarter's windows too; a quarterly period reports its quarter and its three months. A window
is reported once, in the period holding its last day, so no miss is credited twice. Compute
the underlying report from the first day of the quarter that holds the period's first day,
so that a quarter closing in the period is seen whole; this keeps only what closes here and
recounts the totals.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from workflow.calendar import time_zone
from workflow.compliance.excusals import Excusal, count_by_party
from workflow.compliance.plan import ReportPeriod
from workflow.compliance.report import ComplianceReport, MetricReport, totals_of
from workflow.compliance.responsiveness import with_charged
from workflow.compliance.status import Status
from workflow.compliance.windows import window_for_day
from workflow.content import Window


def report_start(first_day: date) -> date:
    """Where the underlying report must start: the first day of `first_day`'s quarter."""
    return date(first_day.year, 3 * ((first_day.month - 1) // 3) + 1, 1)


def closing_in(report: ComplianceReport, first_day: date, last_day: date) -> ComplianceReport:
    """`report` narrowed to the windows whose last local day lies in [first_day, last_day]."""
    zone = report.time_zone
    local = time_zone(zone)

    def closes_here(first: date, kind: Window) -> bool:
        return first_day <= window_for_day(first, kind, zone).last_day <= last_day

    metrics: list[MetricReport] = []
    for metric in report.metrics:
        kept = tuple(
            w for w in metric.windows if closes_here(w.start.astimezone(local).date(), w.kind)
        )
        if kept:
            metrics.append(replace(metric, windows=kept))
    labels = {w.window for m in metrics for w in m.windows}
    credits = tuple(c for c in report.window_credits if c.window in labels)
    actions = tuple(a for a in report.corrective_actions if a.window in labels)
    rows = [w for m in metrics for w in m.windows]
    used: list[Excusal] = [w.excusal for w in rows if w.excusal and w.status is Status.EXCUSED]
    return replace(
        report,
        period=ReportPeriod(first_day, last_day),
        metrics=tuple(metrics),
        window_credits=credits,
        corrective_actions=actions,
        unused_excusals=tuple(e for e in report.unused_excusals if e.window in labels),
        totals=(totals := totals_of(rows, credits, actions, count_by_party(used))),
        responsiveness=with_charged(report.responsiveness, totals.charged),
    )
