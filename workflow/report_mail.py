"""A final period report as an email carries it: the HTML report's body, and text lines."""

from __future__ import annotations

import re

from workflow.compliance import ComplianceReport
from workflow.reports import to_html

_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL)


def report_fragment(
    report: ComplianceReport, *, title: str = "", trend: ComplianceReport | None = None
) -> str:
    """The report page's body, to sit inside an email's own layout (already escaped HTML)."""
    page = to_html(report, title=title, trend=trend)
    found = _BODY.search(page)
    return found.group(1).strip() if found else page


def status_lines(report: ComplianceReport) -> list[str]:
    """One plain-text line per metric and window: what the text part of the email lists."""
    lines = []
    for metric in report.metrics:
        for w in metric.windows:
            figures = [] if w.actual is None else [f"actual {w.actual:g}"]
            figures += [] if w.target is None else [f"target {w.target:g}"]
            lines.append(
                f"{metric.key} {w.window}: {w.status.value.replace('_', ' ')}"
                + (f" ({', '.join(figures)})" if figures else "")
            )
    return lines
