"""Trend charts of the compliance report, built from table cells so that they survive email.

Most numbers come from the hand-computed agreement of `test_compliance_report` (availability
99.825 / 99.7 / 99.85 / no data against 99.5 then 99.9; incident p95 hours 9.6 / 5 / 11.55 /
1.95 against ≤ 8). A value v sits `(high - v) / (high - low) · height` px below the plot's top,
rounded half up; each expected row has that arithmetic next to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from notifications.reports.charts import trend_chart_html
from notifications.reports.geometry import (
    COLUMN_MAX,
    COLUMN_MIN,
    Paint,
    chart_scale,
    column_paint,
    trend_chart,
)
from notifications.reports.look import AXIS, LOOKS, TARGET, WARNING_LINE
from tests.workflow.test_compliance_report import report
from workflow.compliance import MetricReport, RemedyPolicy, Status, WindowResult
from workflow.content import Aggregation, Direction, Window

HIGHER = Direction.HIGHER_IS_BETTER
LOWER = Direction.LOWER_IS_BETTER
RED, GREEN, AMBER = (LOOKS[s].bar for s in (Status.MISSED, Status.MET, Status.WARNING))
GREY = LOOKS[Status.NO_TARGET].bar
BLANK: Paint = (None, None)


def metric_of(key: str) -> MetricReport:
    return next(m for m in report(RemedyPolicy.SERVICE_CREDITS).metrics if m.key == key)


def window(
    label: str,
    actual: float | None,
    target: float | None = None,
    status: Status = Status.MET,
    *,
    warning: float | None = None,
    direction: Direction = HIGHER,
) -> WindowResult:
    kind = Window.QUARTER if "Q" in label else Window.MONTH
    moment = datetime(2027, 1, 1, tzinfo=UTC)  # charts never read the instants
    return WindowResult(
        label,
        kind,
        moment,
        moment,
        1,
        Aggregation.MEAN,
        direction,
        target,
        warning,
        actual,
        0 if actual is None else 1,
        status,
        None,
        None,
    )


def months(first_year: int, count: int) -> list[str]:
    return [f"{first_year + i // 12}-{i % 12 + 1:02d}" for i in range(count)]


def metric(windows: list[WindowResult], unit: str = "u") -> MetricReport:
    return MetricReport("m", "M", unit, tuple(windows))


# A small DOM, enough to find a chart's cells and read their attributes.
@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def all(self, tag: str) -> list[Node]:
        found = [self] if self.tag == tag else []
        for child in self.children:
            found += child.all(tag)
        return found

    def content(self) -> str:
        return self.text + "".join(c.content() for c in self.children)

    def lines(self) -> list[str]:
        """The text on each line of a cell, lines being split by `<br>`."""
        lines = [""]
        for child in self.children:
            if child.tag == "br":
                lines.append("")
            else:
                lines[-1] += child.content()
        return lines


class Tree(HTMLParser):
    VOID = frozenset({"br", "meta", "img", "link", "hr", "input", "col"})

    def __init__(self, html: str) -> None:
        super().__init__()
        self.root = Node("root", {})
        self.stack = [self.root]
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        while self.stack[-1].tag != tag:
            self.stack.pop()
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(Node("#text", {}, text=data))


def rendered_runs(column: Node) -> list[tuple[int, Paint]]:
    """A rendered column read back as (height, (gap colour, bar colour)) runs."""
    runs: list[tuple[int, Paint]] = []
    for row in column.all("tr"):
        cells = row.all("td")
        colours = tuple(c.attrs.get("bgcolor") for c in cells)
        paint = (colours[0], colours[0]) if len(cells) == 1 else (colours[0], colours[1])
        assert len({c.attrs["height"] for c in cells}) == 1
        runs.append((int(cells[0].attrs["height"]), paint))
    return runs


def columns(html: str) -> dict[str, Node]:
    """The chart's columns by window label (each column's cell has a title)."""
    return {
        td.attrs["title"].split(":")[0]: td
        for td in Tree(html).root.all("td")
        if "title" in td.attrs
    }


def test_a_cut_axis_for_availability_and_the_target_line_follows_the_version() -> None:
    chart = trend_chart(metric_of("availability"), height=120)
    scale = chart.scale
    # values 99.5 … 99.95: zero would leave over 99 % of the axis empty, so it is cut;
    # span 0.45 / 4 = 0.1125 → step 0.2; floor(99.5 / 0.2) · 0.2 = 99.4,
    # ceil(99.95 / 0.2) · 0.2 = 100
    assert (scale.low, scale.high, scale.step) == (99.4, 100.0, 0.2)
    assert scale.ticks == (99.4, 99.6, 99.8, 100.0)
    assert not scale.from_zero
    # y = (100 - v) / 0.6 · 120 = (100 - v) · 200
    geometry = [(c.window.window, c.bar, c.target, c.warning) for c in chart.columns]
    assert geometry == [
        ("2027-05", (35, 120), (99, 101), 40),  # 99.825 → 35; target 99.5 → 100; warning 99.8 → 40
        ("2027-06", (60, 120), (99, 101), 40),  # 99.7 → 60
        ("2027-07", (30, 120), (19, 21), 10),  # v2: 99.85 → 30; target 99.9 → 20; 99.95 → 10
        ("2027-08", None, (19, 21), 10),  # no data: no bar, the lines go on
    ]
    assert chart.summary == (
        "Availability (u) per month, 2027-05 to 2027-08; higher is better. "
        "Target ≥ 99.5 u, warning below 99.8 u in 2027-05 to 2027-06; "
        "target ≥ 99.9 u, warning below 99.95 u in 2027-07 to 2027-08. "
        "1 met, 1 warning, 1 missed, 1 missing data. Axis 99.4 to 100, not starting at zero."
    )


def test_the_july_column_is_painted_row_by_row_and_rendered_as_painted() -> None:
    m = metric_of("availability")
    chart = trend_chart(m, height=120)
    july = chart.columns[2]
    expected = [
        (10, BLANK),  # rows 0-9
        (1, (None, WARNING_LINE)),  # row 10: the warning line, drawn over the bar's slot only
        (8, BLANK),  # rows 11-18
        (2, (TARGET, TARGET)),  # rows 19-20: the target line, across the gap too
        (9, BLANK),  # rows 21-29
        (89, (None, RED)),  # rows 30-118: missed
        (1, (AXIS, AXIS)),  # row 119: the axis floor (99.4 → 120, kept inside the plot)
    ]
    assert column_paint(chart, july) == expected
    assert sum(height for height, _ in expected) == 120
    html = trend_chart_html(m, height=120)
    assert rendered_runs(columns(html)["2027-07"]) == expected


def test_lower_is_better_from_zero_with_an_excused_miss() -> None:
    chart = trend_chart(metric_of("incident.resolution"), height=120)
    # 1.95 ≤ 11.55 / 2, so the axis starts at zero; 11.55 / 4 = 2.89 → step 5; ceil(11.55 / 5) = 3
    assert (chart.scale.low, chart.scale.high, chart.scale.step) == (0.0, 15.0, 5.0)
    assert chart.scale.from_zero
    # y = (15 - v) · 8: 9.6 → 43.2, 5 → 80, 11.55 → 27.6, 1.95 → 104.4;
    # target 8 → 56 (2 px: 55-56), warning 6 → 72
    assert [c.bar for c in chart.columns] == [(43, 120), (80, 120), (28, 120), (104, 120)]
    assert {c.target for c in chart.columns} == {(55, 57)}
    assert {c.warning for c in chart.columns} == {72}
    assert chart.columns[0].title == (
        "2027-05: actual 9.6 u; target ≤ 8 u, warning above 6 u (version 1); "
        "excused (missed, attributed to customer)"
    )
    assert chart.summary == (
        "Incident.Resolution (u) per month, 2027-05 to 2027-08; lower is better. "
        "Target ≤ 8 u, warning above 6 u throughout. 2 met, 1 missed, 1 excused. Axis 0 to 15."
    )


def test_windows_without_a_target_have_no_target_line() -> None:
    chart = trend_chart(metric_of("backlog"), height=100)
    # values 7, 11 and the target 10: cut (7 > 11 / 2); step 1; the floor 7 is the smallest
    # value, so one step more below keeps its bar visible: 6 … 11, y = (11 - v) · 20
    assert (chart.scale.low, chart.scale.high) == (6.0, 11.0)
    assert [(c.bar, c.target) for c in chart.columns] == [
        (None, None),  # May: no target and no data
        ((80, 100), None),  # June: 7, no target (v1 lacks the metric)
        ((0, 100), (19, 21)),  # July: 11 against ≤ 10
        (None, (19, 21)),  # August: no data
    ]
    june = column_paint(chart, chart.columns[1])
    assert (19, (None, GREY)) in june  # rows 80-98; row 99 is the axis floor (6 → 100, kept in)
    assert "No target in 2027-05 to 2027-06; target ≤ 10 u in 2027-07 to 2027-08" in chart.summary


def test_negative_values_hang_below_zero() -> None:
    m = metric(
        [
            window("2027-01", -3.0, 0.0, Status.MISSED),
            window("2027-02", 2.0, 0.0),
            window("2027-03", 0.0, 0.0),
        ]
    )
    chart = trend_chart(m, height=150)
    # -3 … 2: span 5 / 4 = 1.25 → step 2; floor(-1.5) · 2 = -4, ceil(1) · 2 = 2; y = (2 - v) · 25
    assert chart.scale.ticks == (-4.0, -2.0, 0.0, 2.0)
    assert chart.scale.baseline == 0.0
    assert [c.bar for c in chart.columns] == [
        (50, 125),  # from zero (50) down to -3 (125)
        (0, 50),  # from 2 (0) up to zero
        (48, 50),  # exactly zero: a 2 px stub, so its colour still shows
    ]
    assert chart.columns[0].target == (49, 51)
    assert chart.summary.endswith("2 met, 1 missed. Axis -4 to 2.")


def test_equal_values_are_equal_bars_from_zero() -> None:
    chart = trend_chart(metric([window(w, 5.0, 5.0) for w in months(2027, 3)]), height=120)
    # lo = hi = 5: the axis is 0 … 5, rounded out with step 2 to 0 … 6; 5 → (6 - 5) · 20 = 20
    assert (chart.scale.low, chart.scale.high) == (0.0, 6.0)
    assert {c.bar for c in chart.columns} == {(20, 120)}
    zeros = trend_chart(metric([window(w, 0.0) for w in months(2027, 2)]), height=120)
    assert (zeros.scale.low, zeros.scale.high) == (0.0, 1.0)
    assert {c.bar for c in zeros.columns} == {(118, 120)}


def test_nothing_to_scale_and_all_negative_values() -> None:
    empty = chart_scale([])
    assert (empty.low, empty.high) == (0.0, 1.0)
    # -10 … -4: zero costs less than half the axis, so it is kept at the top
    assert (chart_scale([-10.0, -4.0]).low, chart_scale([-10.0, -4.0]).high) == (-10.0, 0.0)
    # -100 … -90: cut, a step above the largest value
    assert (chart_scale([-100.0, -90.0]).low, chart_scale([-100.0, -90.0]).high) == (-100.0, -85.0)
    chart = trend_chart(metric([window("2027-01", -90.0), window("2027-02", -100.0)]), height=150)
    # bars hang from the top (the end nearest zero, -85): y = (-85 - v) / 15 · 150
    assert [c.bar for c in chart.columns] == [(0, 50), (0, 150)]


def test_one_window_gets_a_full_width_column() -> None:
    one = metric([window("2027-Q3", 12.0, 15.0, direction=LOWER)], unit="findings")
    chart = trend_chart(one)
    assert chart.column_width == COLUMN_MAX
    assert chart.shows_values
    assert chart.summary.startswith("M (findings) per quarter, 2027-Q3; lower is better.")
    under, year = Tree(trend_chart_html(one)).root.all("table")[1].children[-2:]
    assert under.all("td")[1].lines() == ["12", "✓", "Q3"]  # value, status, period
    assert year.all("td")[1].content() == "2027"


def test_two_years_of_months_are_narrow_columns_with_initials_and_a_row_per_year() -> None:
    long = metric([window(w, 99.0, 98.0) for w in months(2026, 24)], unit="%")
    chart = trend_chart(long)
    assert chart.column_width == 540 // 24 == 22
    assert not chart.shows_values  # 22 px is too narrow for "99"; the titles and grid have it
    tree = Tree(trend_chart_html(long))
    rows = tree.root.all("table")[1].children  # the chart table inside the captioned one
    under, year_row = rows[-2], rows[-1]
    assert [td.lines() for td in under.all("td")[1:4]] == [["✓", "J"], ["✓", "F"], ["✓", "M"]]
    assert "".join(td.lines()[1] for td in under.all("td")[1:13]) == "JFMAMJJASOND"
    assert [(td.attrs.get("colspan"), td.content()) for td in year_row.all("td")[1:]] == [
        ("12", "2026"),
        ("12", "2027"),
    ]
    assert len(columns(trend_chart_html(long))) == 24
    three_years = trend_chart(metric([window(w, 1.0) for w in months(2026, 36)]))
    assert three_years.column_width == COLUMN_MIN  # 540 // 36 = 15: the chart widens instead


def test_percentages_are_written_with_a_percent_sign() -> None:
    m = metric([window("2027-01", 99.95, 99.9, warning=99.95)], unit="%")
    chart = trend_chart(m)
    assert chart.columns[0].title == (
        "2027-01: actual 99.95%; target ≥ 99.9%, warning below 99.95% (version 1); met"
    )
    # 99.9 … 99.95: step 0.02, the floor 99.9 is the smallest value so one step more below
    assert (chart.scale.low, chart.scale.high) == (99.88, 99.96)
    axis_labels = [td.content() for td in Tree(trend_chart_html(m)).root.all("td")]
    assert {"99.88%", "99.90%", "99.96%"} <= set(axis_labels)


@pytest.mark.parametrize("key", ["availability", "incident.resolution", "backlog", "survey.score"])
def test_every_column_has_a_title_and_a_status_symbol(key: str) -> None:
    m = metric_of(key)
    html = trend_chart_html(m)
    found = columns(html)
    assert list(found) == [w.window for w in m.windows]
    for w in m.windows:
        title = found[w.window].attrs["title"]
        assert "actual" in title
        assert ("; target " in title) == (w.target is not None)
        assert title.endswith(LOOKS[w.status].label) or "excused (" in title
    text = Tree(html).root.content()
    for w in m.windows:
        assert LOOKS[w.status].symbol in text


def test_a_cut_axis_leaves_the_shortest_bar_visible() -> None:
    # 95.08 … 99: step 1 (3.92 / 4 = 0.98); the floor 95 is only 0.08 below the smallest value,
    # under a quarter step, so the axis starts a step lower
    scale = chart_scale([95.08, 99.0])
    assert (scale.low, scale.high, scale.step) == (94.0, 99.0, 1.0)
    assert chart_scale([95.3, 99.0]).low == 95.0  # 0.3 is room enough
