"""The compliance report as an HTML page: the metric-by-window status grid, then a trend chart
per metric (`notifications.reports.charts`), built to survive email clients; and the page's
body alone, for an email's or a web page's own layout."""

from __future__ import annotations

import re
from html import escape

from notifications import formats
from notifications.reports.charts import legend_html, trend_chart_html
from notifications.reports.look import FONT, INK, LOOKS, MUTED, bar_title, number
from workflow.compliance import ComplianceReport, Status
from workflow.content import Party

_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL)
_CELL = "padding:6px 8px;border:1px solid #DFE1E6"


def _grid(report: ComplianceReport) -> str:
    labels: list[str] = []
    for metric in report.metrics:
        for row in metric.windows:
            if row.window not in labels:
                labels.append(row.window)
    labels.sort(key=lambda label: (len(label), label))  # months first, then quarters
    head = "".join(
        f'<th scope="col" style="{_CELL};background:#F4F5F7;font-size:12px">{escape(label)}</th>'
        for label in labels
    )
    body: list[str] = []
    for metric in report.metrics:
        cells = {w.window: w for w in metric.windows}
        tds: list[str] = []
        for label in labels:
            w = cells.get(label)
            if w is None:
                tds.append(f'<td style="{_CELL}"></td>')
                continue
            look = LOOKS[w.status]
            actual = "" if w.actual is None else number(w.actual)
            target = "" if w.target is None else f" / {number(w.target)}"
            tds.append(
                f'<td style="{_CELL};background:{look.tint};white-space:nowrap" '
                f'title="{escape(bar_title(w, metric.unit))}">'
                f'<span style="color:{look.ink};font-weight:bold">{escape(look.symbol)} '
                f"{escape(look.label)}</span>"
                f'<br><span style="font-size:11px;color:{MUTED}">{escape(actual + target)}'
                "</span></td>"
            )
        body.append(
            f'<tr><th scope="row" style="{_CELL};text-align:left;font-size:13px">'
            f"{escape(metric.name)}<br>"
            f'<span style="font-size:11px;font-weight:normal;color:{MUTED}">'
            f"{escape(metric.key)} ({escape(metric.unit)})</span></th>" + "".join(tds) + "</tr>"
        )
    return (
        '<table cellpadding="0" cellspacing="0" style="border-collapse:collapse;font-size:13px;'
        f'font-family:{FONT};margin:0 0 28px 0">'
        '<caption style="caption-side:top;text-align:left;font-size:12px;'
        f'color:{MUTED};padding:0 0 8px 0">Status of each metric in each window: actual / '
        "target.</caption>"
        f'<thead><tr><th scope="col" style="{_CELL};background:#F4F5F7;text-align:left;'
        f'font-size:12px">Metric</th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


# Who a shortfall is charged to, in words (domain.md, "Joint accountability").
CHARGED = {
    Party.PROVIDER: "the provider",
    Party.CUSTOMER: "the customer",
    Party.SHARED: "both sides",
    None: "nobody (a third party)",
}
_CHARGEABLE = (Status.MISSED, Status.MISSING_DATA, Status.EXCUSED)


def _charges(report: ComplianceReport) -> str:
    """Each miss, window without data and excused miss, with who it is charged to."""
    items = [
        (metric, row)
        for metric in report.metrics
        for row in metric.windows
        if row.status in _CHARGEABLE
    ]
    if not items:
        return ""
    lines = []
    for metric, row in items:
        look = LOOKS[row.status]
        # Written as the pages write a metric's figures: its unit, the target's precision.
        written = {"unit": metric.unit, "target": row.target, "warning": row.warning}
        figures = ""
        if row.actual is not None and row.target is not None:
            actual, target = (
                formats.measured(row.actual, written),
                formats.figure(row.target, written),
            )
            figures = f": {actual} against {target}"
        lines.append(
            f'<li style="margin:0 0 4px 0">{escape(metric.name)}, {escape(row.window)}: '
            f'<span style="color:{look.ink};font-weight:bold">{escape(look.label)}</span>'
            f"{escape(figures)} · charged to <strong>{escape(CHARGED[row.charged_to])}</strong>"
            + (f" ({escape(row.excusal.reason)})" if row.excusal is not None else "")
            + "</li>"
        )
    return (
        f'<h2 style="font-size:16px;margin:0 0 10px 0;color:{INK}">Who each shortfall is '
        f'charged to</h2><ul style="margin:0 0 22px 0;padding-left:20px;font-size:13px">'
        + "".join(lines)
        + "</ul>"
    )


def to_html(report: ComplianceReport, *, title: str, trend: ComplianceReport | None = None) -> str:
    """A self-contained page: the metric-by-window status grid, a trend chart per metric and the
    totals (inline styles, tables only, no scripts or images, so it renders inside an email).

    `trend`, when given, is a longer report whose windows the charts show instead (a period's
    report has one window per metric, too few for a trend)."""
    t = report.totals
    totals = (
        f"met {t.met} · warning {t.warning} · missed {t.missed} · excused {t.excused} · "
        f"missing data {t.missing_data} · provisional {t.provisional} · no target {t.no_target}"
        + (f" · no data {t.no_data}" if t.no_data else "")
        + f" · charged to the provider {t.charged.provider}, to the customer {t.charged.customer}"
        + ("" if t.credits is None else f" · credits {t.credits}")
        + (f" · corrective actions {t.corrective_actions}" if t.corrective_actions else "")
    )
    period = f"{report.period.first_day.isoformat()} to {report.period.last_day.isoformat()}"
    policy = report.remedy_policy.value.replace("_", " ")
    h2 = f'style="font-size:16px;margin:0 0 10px 0;color:{INK}"'
    charts = ""
    charted = trend or report
    if charted.metrics:
        span = (
            ""
            if trend is None
            else f'<p style="margin:0 0 10px 0;font-size:13px;color:{MUTED}">'
            f"{escape(trend.period.first_day.isoformat())} to "
            f"{escape(trend.period.last_day.isoformat())}, "
            "as recorded when this report was made.</p>"
        )
        charts = f"<h2 {h2}>Trends</h2>{span}{legend_html()}" + "".join(
            trend_chart_html(m) for m in charted.metrics if m.windows
        )
    heading = (
        f'<h1 style="font-size:22px;margin:0 0 4px 0;color:{INK}">{escape(title)}</h1>'
        if title
        else ""
    )
    # The page's look sits on a div, not on <body>: an email that embeds only the body's
    # content (`report_fragment`) keeps it.
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(title)}</title></head><body style="margin:0;padding:24px">'
        f'<div style="color:{INK};font-family:{FONT}">{heading}'
        f'<p style="margin:0 0 6px 0;font-size:13px;color:{MUTED}">'
        f"{escape(period)} ({escape(report.time_zone)}) · {escape(policy)}</p>"
        f'<p style="margin:0 0 22px 0;font-size:13px">{escape(totals)}</p>'
        f"<h2 {h2}>Status by window</h2>{_grid(report)}{_charges(report)}{charts}"
        "</div></body></html>"
    )


def report_fragment(
    report: ComplianceReport, *, title: str = "", trend: ComplianceReport | None = None
) -> str:
    """The report page's body, to sit inside an email's own layout (already escaped HTML)."""
    page = to_html(report, title=title, trend=trend)
    found = _BODY.search(page)
    return found.group(1).strip() if found else page
