"""A final period report as its email carries it, rendered when the email is sent.

The outbox row of `period.final` and `period.amended` holds the report as data
(`workflow.queries.periods.FinalReportData`); the HTML part gets the report page's body (status
grid and trend charts) and the text part one line per metric and window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from notifications import formats
from notifications.reports.page import report_fragment
from workflow.compliance import ComplianceReport
from workflow.queries.periods import FinalReportData


def status_lines(report: ComplianceReport) -> list[str]:
    """One plain-text line per metric and window: what the text part of the email lists, by
    the metric's name, with its figures at its precision and unit (as the pages write them)."""
    lines = []
    for metric in report.metrics:
        for w in metric.windows:
            written = {"unit": metric.unit, "target": w.target, "warning": w.warning}
            figures = [] if w.actual is None else [f"actual {formats.measured(w.actual, written)}"]
            figures += [] if w.target is None else [f"target {formats.figure(w.target, written)}"]
            lines.append(
                f"{metric.name or metric.key} {w.window}: {formats.words(w.status.value)}"
                + (f" ({', '.join(figures)})" if figures else "")
            )
    return lines


def final_report_parts(payload: Mapping[str, Any]) -> dict[str, Any]:
    """`report_html` (escaped) and `lines` for the templates, from the report data in `payload`.

    A row queued before reports were rendered at send time holds `report_html` and `lines`
    itself and no `report`; its own are used as they are."""
    if "report" not in payload:
        return {}
    data = FinalReportData.model_validate(
        {"report": payload["report"], "trend": payload.get("trend")}
    )
    title = f"{payload['agreement']['key']}: results of {payload['period']['label']}"
    return {
        "report_html": report_fragment(data.report, title=title, trend=data.trend),
        "lines": status_lines(data.report),
    }


# Topics whose templates need parts computed from the payload when the email is sent.
SEND_TIME_PARTS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "period.final": final_report_parts,
    "period.amended": final_report_parts,
}
