"""Trend charts for the compliance report that still render inside an email.

Email clients strip scripts and `<style>` blocks, Gmail and Outlook do not draw inline SVG, and
an image would have to be hosted or attached, so a chart is built from nested tables with inline
styles: each window is a column of table rows whose pixel heights come from the values. The
geometry (`trend_chart`) is computed apart from the markup (`trend_chart_html`) so that it can
be checked with plain numbers.

Each column is two cells side by side, a gap and the bar's slot: the target line fills both, so
it runs unbroken across the chart and steps where a new version's target applies; the warning
line fills only the bar's slot, which reads as a dashed line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from itertools import groupby

from workflow.compliance import MetricReport, Status, WindowResult
from workflow.compliance.what_if import WhatIf, WhatIfWindow
from workflow.content import Direction, Window

PLOT_HEIGHT = 160  # px
PLOT_WIDTH = 540  # px for the columns; the axis labels come on top
COLUMN_MAX = 80  # a short report keeps bar-shaped bars
COLUMN_MIN = 16  # a long one grows wider rather than unreadable
PAD = 6  # half a label's line above and below the plot, so end ticks' labels centre on them
LABEL_LINE = 2 * PAD
VALUES_FROM = 40  # column width (px) from which each window's value fits under its bar
NAMES_FROM = 26  # column width (px) from which a month's short name fits; below, its initial

FONT = "-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
INK = "#172B4D"
MUTED = "#5E6C84"
RULE = "#DFE1E6"
AXIS = "#A5ADBA"
TARGET = "#172B4D"
WARNING_LINE = "#B35900"
PROPOSED_LINE = "#0052CC"  # a what-if's proposed target, beside the current one (TARGET)


@dataclass(frozen=True, slots=True)
class StatusLook:
    """How a status is shown: a symbol and a word as well as colour, for colour-blind readers."""

    symbol: str
    label: str
    bar: str  # the column's fill
    ink: str  # text in that status, dark enough on white
    tint: str  # a cell background in the status grid


LOOKS: dict[Status, StatusLook] = {
    Status.MET: StatusLook("✓", "met", "#36B37E", "#006644", "#E3FCEF"),
    Status.WARNING: StatusLook("!", "warning", "#FFAB00", "#974F0C", "#FFF7D6"),
    Status.MISSED: StatusLook("✗", "missed", "#DE350B", "#BF2600", "#FFEBE6"),
    Status.EXCUSED: StatusLook("E", "excused", "#8777D9", "#403294", "#EAE6FF"),
    Status.NO_DATA: StatusLook("\N{EN DASH}", "no data", "#C1C7D0", "#5E6C84", "#F4F5F7"),
    Status.NO_TARGET: StatusLook("○", "no target", "#97A0AF", "#42526E", "#FFFFFF"),
}

LABEL = re.compile(r"\b\d{4}-(?:\d\d|Q\d)\b")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def is_percent(unit: str) -> bool:
    return "%" in unit or unit.strip().lower() in {"percent", "percentage", "pct"}


def number(value: float, decimals: int = 6) -> str:
    """`value` with thousands separators and without trailing zeros (actuals have 6 dp)."""
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def quantity(value: float, unit: str) -> str:
    return f"{number(value)}%" if is_percent(unit) else f"{number(value)} {unit}"


def _compact(value: float) -> str:
    """A value short enough for the row under a bar; the bar's title has it in full."""
    size = abs(value)
    if size >= 1_000_000:
        return number(value / 1_000_000, 1) + "M"
    if size >= 10_000:
        return number(value / 1_000, 1) + "k"
    return number(value, 3)


@dataclass(frozen=True, slots=True)
class Scale:
    """A value axis from `low` (the plot's bottom row) to `high` (its top), ticked by `step`."""

    low: float
    high: float
    step: float
    height: int

    def y(self, value: float) -> float:
        """Distance in px from the plot's top."""
        return (self.high - value) / (self.high - self.low) * self.height

    def row(self, value: float) -> int:
        return math.floor(self.y(value) + 0.5)

    @property
    def ticks(self) -> tuple[float, ...]:
        count = round((self.high - self.low) / self.step)
        return tuple(_clean(self.low + i * self.step) for i in range(count + 1))

    @property
    def baseline(self) -> float:
        """Where bars start: zero, or the axis end nearest to it when zero is off the axis."""
        return min(max(0.0, self.low), self.high)

    @property
    def from_zero(self) -> bool:
        return self.low <= 0.0 <= self.high

    @property
    def decimals(self) -> int:
        return max(0, -math.floor(math.log10(self.step) + 1e-9))


def _clean(value: float) -> float:
    """Undo binary noise such as 99.4000000001 from multiplying steps."""
    return round(value, 9) + 0.0  # + 0.0 turns -0.0 into 0.0


def _nice_step(span: float) -> float:
    """1, 2 or 5 times a power of ten, giving about four intervals over `span`."""
    raw = span / 4
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0):
        if raw <= factor * magnitude * (1 + 1e-9):
            return _clean(factor * magnitude)
    return _clean(10 * magnitude)


def chart_scale(values: Sequence[float], *, height: int = PLOT_HEIGHT) -> Scale:
    """An axis holding every value, its ends on round numbers.

    Bars read best from zero, so the axis includes zero unless that would leave more than half
    of it empty: a 99.5 % target against a 99.9 % actual would then be two equal bars. A cut
    axis says so in the chart's summary and tick labels, and ends at least a quarter step beyond
    the extreme value so that the shortest bar still shows.
    """
    if not values:
        return Scale(0.0, 1.0, 0.25, height)
    lo, hi = min(values), max(values)
    if 0 < lo <= hi / 2:
        lo = 0.0
    if lo / 2 <= hi < 0:
        hi = 0.0
    if lo == hi:  # every value equal: show them as equal bars from zero
        lo, hi = (0.0, 1.0) if lo == 0 else (min(lo, 0.0), max(hi, 0.0))
    step = _nice_step(hi - lo)
    low = _clean(math.floor(_clean(lo / step)) * step)
    high = _clean(math.ceil(_clean(hi / step)) * step)
    if low > 0 and min(values) - low < step / 4:
        low = _clean(low - step)
    if high < 0 and high - max(values) < step / 4:
        high = _clean(high + step)
    return Scale(low, high, step, height)


@dataclass(frozen=True, slots=True)
class Column:
    """One window's column; rows are px from the plot's top, end excluded."""

    window: WindowResult
    bar: tuple[int, int] | None  # (top, bottom); None: no actual
    target: tuple[int, int] | None  # the 2 px target line; None: no target this window
    warning: int | None  # the 1 px warning line's row
    title: str


@dataclass(frozen=True, slots=True)
class TrendChart:
    metric: MetricReport
    scale: Scale
    columns: tuple[Column, ...]
    column_width: int
    summary: str

    @property
    def shows_values(self) -> bool:
        return self.column_width >= VALUES_FROM


def _line(row: int, thickness: int, height: int) -> tuple[int, int]:
    """`thickness` rows centred on `row`, moved inside the plot at its edges."""
    start = min(max(row - thickness // 2, 0), height - thickness)
    return start, start + thickness


def _bar(scale: Scale, actual: float) -> tuple[int, int]:
    """From the baseline to `actual`; at least 2 px, so a zero still shows its status colour."""
    base, end = scale.row(scale.baseline), scale.row(actual)
    top, bottom = min(base, end), max(base, end)
    if bottom - top >= 2:
        return top, bottom
    if actual >= scale.baseline and base >= 2:
        return base - 2, base
    return _line(base + 1, 2, scale.height)


def _threshold(w: WindowResult, value: float, unit: str) -> str:
    higher = w.direction is not Direction.LOWER_IS_BETTER
    return f"{'≥' if higher else '≤'} {quantity(value, unit)}"


def _target_text(w: WindowResult, unit: str) -> str:
    if w.target is None:
        return "no target"
    text = f"target {_threshold(w, w.target, unit)}"
    if w.warning is not None:
        side = "below" if w.direction is not Direction.LOWER_IS_BETTER else "above"
        text += f", warning {side} {quantity(w.warning, unit)}"
    return text


def bar_title(w: WindowResult, unit: str) -> str:
    """What a reader hovering over a column (or a screen reader) learns about that window."""
    actual = "no data" if w.actual is None else quantity(w.actual, unit)
    target = _target_text(w, unit)
    if w.version is not None:
        target += f" (version {w.version})"
    status = LOOKS[w.status].label
    if w.status is Status.EXCUSED and w.excusal is not None:
        status += f" (missed, attributed to {w.excusal.party.value.replace('_', ' ')})"
    return f"{w.window}: actual {actual}; {target}; {status}"


def _span(windows: Sequence[WindowResult]) -> str:
    first, last = windows[0].window, windows[-1].window
    return first if first == last else f"{first} to {last}"


def _summary(metric: MetricReport, scale: Scale) -> str:
    windows = metric.windows
    kind = "month" if windows[0].kind is Window.MONTH else "quarter"
    sentences = [f"{metric.name} ({metric.unit}) per {kind}, {_span(windows)}"]
    direction = next((w.direction for w in windows if w.direction is not None), None)
    if direction is not None:
        sentences[0] += f"; {direction.value.replace('_', ' ')}"
    runs = [
        (_target_text(first, metric.unit), [first, *rest])
        for _, (first, *rest) in groupby(windows, key=lambda w: (w.target, w.warning, w.direction))
    ]
    if len(runs) == 1:
        sentences.append(f"{runs[0][0].capitalize()} throughout")
    else:
        sentences.append(
            "; ".join(
                f"{text.capitalize() if i == 0 else text} in {_span(run)}"
                for i, (text, run) in enumerate(runs)
            )
        )
    statuses = [w.status for w in windows]
    sentences.append(
        ", ".join(f"{statuses.count(s)} {look.label}" for s, look in LOOKS.items() if s in statuses)
    )
    axis = f"Axis {number(scale.low)} to {number(scale.high)}"
    sentences.append(axis if scale.from_zero else axis + ", not starting at zero")
    return ". ".join(sentences) + "."


def trend_chart(
    metric: MetricReport, *, height: int = PLOT_HEIGHT, width: int = PLOT_WIDTH
) -> TrendChart:
    """The geometry of `metric`'s trend: one column per window, actual against target."""
    if not metric.windows:
        raise ValueError(f"{metric.key} has no windows to chart")
    values = [v for w in metric.windows for v in (w.actual, w.target, w.warning) if v is not None]
    scale = chart_scale(values, height=height)
    columns = tuple(
        Column(
            window=w,
            bar=None if w.actual is None else _bar(scale, w.actual),
            target=None if w.target is None else _line(scale.row(w.target), 2, height),
            warning=None if w.warning is None else _line(scale.row(w.warning), 1, height)[0],
            title=bar_title(w, metric.unit),
        )
        for w in metric.windows
    )
    column_width = min(COLUMN_MAX, max(COLUMN_MIN, width // len(columns)))
    return TrendChart(metric, scale, columns, column_width, _summary(metric, scale))


Paint = tuple[str | None, str | None]  # the gap before the bar, the bar; None: blank


def column_paint(chart: TrendChart, column: Column) -> list[tuple[int, Paint]]:
    """The column as (height px, paint) runs from the plot's top row to its bottom row.

    Painted back to front: bar, baseline, warning line, target line. No grid lines: each would
    split the column into three more rows, and a long report must stay under the size at which
    Gmail clips a message (about 100 kB); the tick labels and the values under the bars do
    their job.
    """
    scale = chart.scale
    rows: list[Paint] = [(None, None)] * scale.height
    if column.bar is not None:
        colour = LOOKS[column.window.status].bar
        for row in range(*column.bar):
            rows[row] = (None, colour)
    rows[_line(scale.row(scale.baseline), 1, scale.height)[0]] = (AXIS, AXIS)
    if column.warning is not None:
        rows[column.warning] = (rows[column.warning][0], WARNING_LINE)
    if column.target is not None:
        for row in range(*column.target):
            rows[row] = (TARGET, TARGET)
    return [(len(list(run)), paint) for paint, run in groupby(rows)]


def _cell(height: int, colour: str | None, extra: str = "") -> str:
    # Attributes rather than styles: every client honours them, and they are shorter.
    fill = "" if colour is None else f' bgcolor="{colour}"'
    return f'<td height="{height}"{fill}{extra}></td>'


def bar_width(column_width: int) -> int:
    return column_width * 3 // 5


def _column_html(chart: TrendChart, column: Column) -> str:
    return _painted_column(column_paint(chart, column), chart.column_width, column.title)


def _painted_column(runs: list[tuple[int, Paint]], width: int, title: str) -> str:
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
    return _scale_html(chart.scale, chart.metric.unit, label_width)


def _scale_html(scale: Scale, unit: str, label_width: int) -> str:
    """Tick labels, each on a line centred on its tick's row."""
    suffix = "%" if is_percent(unit) else ""
    rows: list[str] = []
    at = 0  # px from the top of the top pad
    for tick in reversed(scale.ticks):
        start = _line(scale.row(tick), 1, scale.height)[0] + PAD - LABEL_LINE // 2
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


def _unbroken_labels(text: str) -> str:
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
            value = "" if c.window.actual is None else escape(_compact(c.window.actual))
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
    summary = _unbroken_labels(escape(chart.summary))
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


def _what_if_title(w: WhatIfWindow, unit: str) -> str:
    actual = "no data" if w.actual is None else quantity(w.actual, unit)
    now, then = LOOKS[w.status_now].label, LOOKS[w.status_proposed].label
    return f"{w.window}: actual {actual}; current target: {now}; proposed target: {then}"


def _what_if_paint(scale: Scale, w: WhatIfWindow, lines: list[tuple[int, str]]) -> list[Paint]:
    """Like `column_paint`, the bar coloured by its status under the proposed target."""
    rows: list[Paint] = [(None, None)] * scale.height
    if w.actual is not None:
        for row in range(*_bar(scale, w.actual)):
            rows[row] = (None, LOOKS[w.status_proposed].bar)
    rows[_line(scale.row(scale.baseline), 1, scale.height)[0]] = (AXIS, AXIS)
    for value_row, colour in lines:
        for row in range(*_line(value_row, 2, scale.height)):
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
        plot.append(_painted_column(runs, width, _what_if_title(w, unit)))
        now, then = LOOKS[w.status_now], LOOKS[w.status_proposed]
        symbols = (
            f'<b style="color:{now.ink}">{escape(now.symbol)}</b>'
            f'<b style="color:{then.ink}">{escape(then.symbol)}</b>'
        )
        short = w.window[5:] if result.window_kind is Window.QUARTER else w.window[2:]
        value = "" if w.actual is None or width < VALUES_FROM else escape(_compact(w.actual))
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
        f"<tr>{_scale_html(scale, unit, label_width)}{''.join(plot)}</tr>"
        f"<tr><td></td>{''.join(under)}</tr></table>"
    )
    total = label_width + max(PLOT_WIDTH, len(windows) * width)
    return (
        f'<table cellpadding="0" cellspacing="0" width="{total}" '
        f'style="border-collapse:collapse;font-family:{FONT};margin:0 0 30px 0">'
        '<caption style="caption-side:top;text-align:left;font-size:12px;line-height:18px;'
        f'color:{MUTED};padding:0 0 10px 0">'
        f'<strong style="font-size:14px;color:{INK}">{escape(name)}</strong> '
        f"{escape(result.metric)} · {escape(unit)}<br>{_unbroken_labels(escape(summary))}"
        f"</caption><tr><td>{chart_table}</td></tr></table>"
    )
