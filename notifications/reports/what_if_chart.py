"""A what-if (a proposed target tried on recorded data) as an email-safe chart, built like the
trend charts (`notifications.reports.charts`): the actuals as bars, both targets as lines."""

from __future__ import annotations

from html import escape
from itertools import groupby

from notifications.reports.charts import (
    bar_width,
    painted_column,
    scale_html,
    unbroken_labels,
)
from notifications.reports.geometry import (
    COLUMN_MAX,
    COLUMN_MIN,
    PLOT_HEIGHT,
    PLOT_WIDTH,
    VALUES_FROM,
    Paint,
    Scale,
    bar_rows,
    centred_rows,
    chart_scale,
)
from notifications.reports.look import (
    AXIS,
    FONT,
    INK,
    LOOKS,
    MUTED,
    PROPOSED_LINE,
    TARGET,
    compact,
    number,
    quantity,
)
from workflow.compliance.what_if import WhatIf, WhatIfWindow
from workflow.content import Direction, Window


def _what_if_title(w: WhatIfWindow, unit: str) -> str:
    actual = "no data" if w.actual is None else quantity(w.actual, unit)
    now, then = LOOKS[w.status_now].label, LOOKS[w.status_proposed].label
    return f"{w.window}: actual {actual}; current target: {now}; proposed target: {then}"


def _what_if_paint(scale: Scale, w: WhatIfWindow, lines: list[tuple[int, str]]) -> list[Paint]:
    """Like `column_paint`, the bar coloured by its status under the proposed target."""
    rows: list[Paint] = [(None, None)] * scale.height
    if w.actual is not None:
        for row in range(*bar_rows(scale, w.actual)):
            rows[row] = (None, LOOKS[w.status_proposed].bar)
    rows[centred_rows(scale.row(scale.baseline), 1, scale.height)[0]] = (AXIS, AXIS)
    for value_row, colour in lines:
        for row in range(*centred_rows(value_row, 2, scale.height)):
            rows[row] = (colour, colour)
    return rows


def what_if_chart_html(result: WhatIf, name: str, unit: str, *, height: int = PLOT_HEIGHT) -> str:
    """A what-if as an email-safe chart: the actuals as bars (coloured by their status under
    the proposed target, each window's two statuses as symbols under it) with the current
    target as a dark line and the proposed one as a blue line (drawn on top where they meet)."""
    windows = result.windows
    if not windows:
        raise ValueError(f"{result.metric} has no windows to chart")
    values = [w.actual for w in windows if w.actual is not None]
    scale = chart_scale([*values, result.target_now, result.target_proposed], height=height)
    width = min(COLUMN_MAX, max(COLUMN_MIN, PLOT_WIDTH // len(windows)))
    lines = [
        (scale.row(result.target_now), TARGET),
        (scale.row(result.target_proposed), PROPOSED_LINE),
    ]
    plot, under = [], []
    gap = width - bar_width(width)
    for w in windows:
        runs = [(len(list(run)), paint) for paint, run in groupby(_what_if_paint(scale, w, lines))]
        plot.append(painted_column(runs, width, _what_if_title(w, unit)))
        now, then = LOOKS[w.status_now], LOOKS[w.status_proposed]
        symbols = (
            f'<b style="color:{now.ink}">{escape(now.symbol)}</b>'
            f'<b style="color:{then.ink}">{escape(then.symbol)}</b>'
        )
        short = w.window[5:] if result.window_kind is Window.QUARTER else w.window[2:]
        value = "" if w.actual is None or width < VALUES_FROM else escape(compact(w.actual))
        under.append(
            f'<td style="padding:3px 0 0 {gap}px;white-space:nowrap">'
            f'<span style="color:{INK}">{value}</span><br>{symbols}<br>{escape(short)}</td>'
        )
    widest = max(len(f"{t:,.{scale.decimals}f}%") for t in scale.ticks)
    label_width = max(44, 6 * widest + 12)
    axis = f"Axis {number(scale.low)} to {number(scale.high)}"
    higher = result.direction is not Direction.LOWER_IS_BETTER
    sign = "≥" if higher else "≤"
    t = result.totals
    summary = (
        f"Per {'quarter' if result.window_kind is Window.QUARTER else 'month'}, "
        f"{windows[0].window} to {windows[-1].window}. Current target {sign} "
        f"{quantity(result.target_now, unit)} (dark line): {t.missed_now} missed; proposed "
        f"{sign} {quantity(result.target_proposed, unit)} (blue line): {t.missed_proposed} "
        f"missed. Under each bar: its status now, then under the proposed target. "
        + (axis if scale.from_zero else axis + ", not starting at zero")
        + "."
    )
    chart_table = (
        '<table role="presentation" cellpadding="0" cellspacing="0" style="border-collapse:'
        f'collapse;font-size:10px;line-height:14px;color:{MUTED};text-align:center">'
        f"<tr>{scale_html(scale, unit, label_width)}{''.join(plot)}</tr>"
        f"<tr><td></td>{''.join(under)}</tr></table>"
    )
    total = label_width + max(PLOT_WIDTH, len(windows) * width)
    return (
        f'<table cellpadding="0" cellspacing="0" width="{total}" '
        f'style="border-collapse:collapse;font-family:{FONT};margin:0 0 30px 0">'
        '<caption style="caption-side:top;text-align:left;font-size:12px;line-height:18px;'
        f'color:{MUTED};padding:0 0 10px 0">'
        f'<strong style="font-size:14px;color:{INK}">{escape(name)}</strong> '
        f"{escape(result.metric)} · {escape(unit)}<br>{unbroken_labels(escape(summary))}"
        f"</caption><tr><td>{chart_table}</td></tr></table>"
    )
