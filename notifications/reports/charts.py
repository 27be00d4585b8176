"""Trend charts for the compliance report that still render inside an email.

Email clients strip scripts and `<style>` blocks, Gmail and Outlook do not draw inline SVG, and
an image would have to be hosted or attached, so a chart is built from nested tables with inline
styles: each window is a column of table rows whose pixel heights come from the values
(`notifications.reports.geometry`).

Each column is two cells side by side, a gap and the bar's slot: the target line fills both, so
it runs unbroken across the chart and steps where a new version's target applies; the warning
line fills only the bar's slot, which reads as a dashed line.
"""

from __future__ import annotations

import re
from html import escape
from itertools import groupby

from notifications.reports.geometry import (
    PLOT_HEIGHT,
    PLOT_WIDTH,
    Column,
    Paint,
    Scale,
    TrendChart,
    centred_rows,
    column_paint,
    trend_chart,
)
from notifications.reports.look import (
    FONT,
    INK,
    LOOKS,
    MUTED,
    RULE,
    TARGET,
    WARNING_LINE,
    compact,
    is_percent,
)
from workflow.compliance import MetricReport, WindowResult
from workflow.content import Window

PAD = 6  # half a label's line above and below the plot, so end ticks' labels centre on them
LABEL_LINE = 2 * PAD
NAMES_FROM = 26  # column width (px) from which a month's short name fits; below, its initial
LABEL = re.compile(r"\b\d{4}-(?:\d\d|Q\d)\b")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _cell(height: int, colour: str | None, extra: str = "") -> str:
    # Attributes rather than styles: every client honours them, and they are shorter.
    fill = "" if colour is None else f' bgcolor="{colour}"'
    return f'<td height="{height}"{fill}{extra}></td>'


def bar_width(column_width: int) -> int:
    return column_width * 3 // 5


def _column_html(chart: TrendChart, column: Column) -> str:
    return painted_column(column_paint(chart, column), chart.column_width, column.title)


def painted_column(runs: list[tuple[int, Paint]], width: int, title: str) -> str:
    bar = bar_width(width)
    rows: list[str] = []
    for i, (height, (gap, fill)) in enumerate(runs):
        if i == 0:  # the first row fixes both cells' widths for the rows below
            rows.append(
                _cell(height, gap, f' width="{width - bar}"')
                + _cell(height, fill, f' width="{bar}"')
            )
        elif gap == fill:
            rows.append(_cell(height, gap, ' colspan="2"'))
        else:
            rows.append(_cell(height, gap) + _cell(height, fill))
    return (
        f'<td title="{escape(title)}" valign="top" style="padding:{PAD}px 0">'
        f'<table role="presentation" cellpadding="0" cellspacing="0" width="{width}" '
        'style="font-size:0;line-height:0;mso-line-height-rule:exactly">'
        f"<tr>{'</tr><tr>'.join(rows)}</tr></table></td>"
    )


def _axis_html(chart: TrendChart, label_width: int) -> str:
    return scale_html(chart.scale, chart.metric.unit, label_width)


def scale_html(scale: Scale, unit: str, label_width: int) -> str:
    """Tick labels, each on a line centred on its tick's row."""
    suffix = "%" if is_percent(unit) else ""
    rows: list[str] = []
    at = 0  # px from the top of the top pad
    for tick in reversed(scale.ticks):
        start = centred_rows(scale.row(tick), 1, scale.height)[0] + PAD - LABEL_LINE // 2
        if start > at:
            rows.append(f'<tr><td style="height:{start - at}px"></td></tr>')
        label = f"{tick:,.{scale.decimals}f}{suffix}"
        rows.append(
            f'<tr><td style="height:{LABEL_LINE}px;font-size:10px;line-height:{LABEL_LINE}px;'
            f'color:{MUTED};text-align:right;padding-right:6px;white-space:nowrap">'
            f"{escape(label)}</td></tr>"
        )
        at = start + LABEL_LINE
    return (
        f'<td style="padding:0;vertical-align:top;width:{label_width}px">'
        '<table role="presentation" cellpadding="0" cellspacing="0" '
        f'style="border-collapse:collapse;width:{label_width}px;mso-line-height-rule:exactly">'
        f"{''.join(rows)}</table></td>"
    )


def period_label(w: WindowResult, column_width: int) -> str:
    """`May` (or `M` when narrow) for a month, `Q2` for a quarter; the year is on its own row."""
    if w.kind is Window.QUARTER:
        return w.window[5:]
    name = MONTHS[int(w.window[5:7]) - 1]
    return name if column_width >= NAMES_FROM else name[0]


def unbroken_labels(text: str) -> str:
    """Window labels kept on one line: browsers break `2027-05` at its hyphen."""
    return LABEL.sub(r'<span style="white-space:nowrap">\g<0></span>', text)


def trend_chart_html(metric: MetricReport, *, height: int = PLOT_HEIGHT) -> str:
    """`metric`'s trend chart as an email-safe table, captioned with a summary of it."""
    chart = trend_chart(metric, height=height)
    width, columns = chart.column_width, chart.columns
    gap = width - bar_width(width)  # text under a column starts after the gap: centred on the bar
    widest = max(len(f"{t:,.{chart.scale.decimals}f}%") for t in chart.scale.ticks)
    label_width = max(44, 6 * widest + 12)  # most charts then start their plots alike
    # Value, status symbol and period share one cell per column: one cell instead of three
    # keeps long reports small, and `<br>` lines line up across columns as rows would.
    under: list[str] = []
    for c in columns:
        look = LOOKS[c.window.status]
        lines = [
            f'<b style="font-size:11px;color:{look.ink}">{escape(look.symbol)}</b>',
            escape(period_label(c.window, width)),
        ]
        if chart.shows_values:
            value = "" if c.window.actual is None else escape(compact(c.window.actual))
            lines.insert(0, f'<span style="color:{INK}">{value}</span>')
        under.append(f'<td style="padding:3px 0 0 {gap}px">{"<br>".join(lines)}</td>')
    years = []
    for year, run in groupby(columns, key=lambda c: c.window.window[:4]):
        span = len(list(run))
        shown = year if span * width >= 30 else "\N{RIGHT SINGLE QUOTATION MARK}" + year[2:]
        years.append(f'<td colspan="{span}" style="border-top:1px solid {RULE}">{shown}</td>')
    plot = "".join(_column_html(chart, c) for c in columns)
    chart_table = (
        '<table role="presentation" cellpadding="0" cellspacing="0" style="border-collapse:'
        f'collapse;font-size:10px;line-height:14px;color:{MUTED};text-align:center">'
        f"<tr>{_axis_html(chart, label_width)}{plot}</tr>"
        + f"<tr><td></td>{''.join(under)}</tr><tr><td></td>{''.join(years)}</tr>"
        + "</table>"
    )
    # At least the full plot width, so that a short chart does not squeeze its caption.
    total = label_width + max(PLOT_WIDTH, len(columns) * width)
    summary = unbroken_labels(escape(chart.summary))
    return (
        f'<table cellpadding="0" cellspacing="0" width="{total}" '
        f'style="border-collapse:collapse;font-family:{FONT};margin:0 0 30px 0">'
        '<caption style="caption-side:top;text-align:left;font-size:12px;line-height:18px;'
        f'color:{MUTED};padding:0 0 10px 0">'
        f'<strong style="font-size:14px;color:{INK}">{escape(metric.name)}</strong> '
        f"{escape(metric.key)} · {escape(metric.unit)}<br>{summary}</caption>"
        f"<tr><td>{chart_table}</td></tr></table>"
    )


def legend_html() -> str:
    """The key to the charts: status colours with their symbols, and the two lines."""
    text = f"font-size:11px;color:{INK};padding:0 14px 0 5px;white-space:nowrap"
    swatches = "".join(
        f'<td style="width:14px;height:14px;background:{look.bar};color:#FFFFFF;font-size:10px;'
        f'line-height:14px;text-align:center;font-weight:bold">{escape(look.symbol)}</td>'
        f'<td style="{text}">{escape(look.label)}</td>'
        for look in LOOKS.values()
    )

    def sample(line: str) -> str:
        return (
            '<td style="padding:0"><table role="presentation" cellpadding="0" cellspacing="0" '
            'style="border-collapse:collapse;font-size:0;line-height:0">'
            f'<tr><td colspan="3" style="height:6px"></td></tr><tr>{line}</tr>'
            '<tr><td colspan="3" style="height:6px"></td></tr></table></td>'
        )

    target = sample(f'<td colspan="3" style="height:2px;width:24px;background:{TARGET}"></td>')
    dash = f'<td style="height:1px;width:9px;background:{WARNING_LINE}"></td>'
    warning = sample(f'{dash}<td style="height:1px;width:6px"></td>{dash}')
    return (
        '<table role="presentation" cellpadding="0" cellspacing="0" '
        f'style="border-collapse:collapse;font-family:{FONT};margin:0 0 18px 0"><tr>'
        f'{swatches}{target}<td style="{text}">target</td>'
        f'{warning}<td style="{text}">warning threshold</td></tr></table>'
    )
