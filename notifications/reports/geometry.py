"""The geometry of a trend chart, apart from its markup so that it can be checked with numbers.

Each window is a column of rows whose pixel heights come from the values: an axis from round
numbers (`chart_scale`), a bar from the baseline to the actual, a 2 px target line and a 1 px
warning line (`trend_chart`), then each column painted row by row (`column_paint`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

from notifications.reports.look import (
    AXIS,
    LOOKS,
    TARGET,
    WARNING_LINE,
    bar_title,
    number,
    target_text,
)
from workflow.compliance import MetricReport, WindowResult
from workflow.content import Window

PLOT_HEIGHT = 160  # px
PLOT_WIDTH = 540  # px for the columns; the axis labels come on top
COLUMN_MAX = 80  # a short report keeps bar-shaped bars
COLUMN_MIN = 16  # a long one grows wider rather than unreadable
VALUES_FROM = 40  # column width (px) from which each window's value fits under its bar


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


def centred_rows(row: int, thickness: int, height: int) -> tuple[int, int]:
    """`thickness` rows centred on `row`, moved inside the plot at its edges."""
    start = min(max(row - thickness // 2, 0), height - thickness)
    return start, start + thickness


def bar_rows(scale: Scale, actual: float) -> tuple[int, int]:
    """From the baseline to `actual`; at least 2 px, so a zero still shows its status colour."""
    base, end = scale.row(scale.baseline), scale.row(actual)
    top, bottom = min(base, end), max(base, end)
    if bottom - top >= 2:
        return top, bottom
    if actual >= scale.baseline and base >= 2:
        return base - 2, base
    return centred_rows(base + 1, 2, scale.height)


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
        (target_text(first, metric.unit), [first, *rest])
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
            bar=None if w.actual is None else bar_rows(scale, w.actual),
            target=None if w.target is None else centred_rows(scale.row(w.target), 2, height),
            warning=None if w.warning is None else centred_rows(scale.row(w.warning), 1, height)[0],
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
    rows[centred_rows(scale.row(scale.baseline), 1, scale.height)[0]] = (AXIS, AXIS)
    if column.warning is not None:
        rows[column.warning] = (rows[column.warning][0], WARNING_LINE)
    if column.target is not None:
        for row in range(*column.target):
            rows[row] = (TARGET, TARGET)
    return [(len(list(run)), paint) for paint, run in groupby(rows)]
