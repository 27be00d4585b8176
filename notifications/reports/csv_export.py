"""The compliance report as CSV, safe to open in a spreadsheet.

One row per metric and window. A text cell that a spreadsheet would read as a formula
(starting with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with `'`, so a metric
name or an excusal reason typed by someone cannot run in the reader's spreadsheet. Numbers the
report computed are written as numbers (a negative actual stays `-1.5`): they are not text and
cannot hold a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal

from workflow.compliance import ComplianceReport, Status

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS = (
    "metric",
    "name",
    "unit",
    "window",
    "kind",
    "start",
    "end",
    "version",
    "aggregation",
    "direction",
    "target",
    "warning",
    "actual",
    "observations",
    "status",
    "excused_to",
    "excusal_reason",
    "credit",
)

Cell = str | int | float | Decimal | None


def neutralise(text: str) -> str:
    """`text` made inert for spreadsheets: a leading formula character gets a `'` before it."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    return str(value)


def csv_rows(report: ComplianceReport) -> Iterable[list[Cell]]:
    for metric in report.metrics:
        for w in metric.windows:
            yield [
                metric.key,
                metric.name,
                metric.unit,
                w.window,
                w.kind.value,
                w.start.isoformat().replace("+00:00", "Z"),
                w.end.isoformat().replace("+00:00", "Z"),
                w.version,
                w.aggregation.value,
                None if w.direction is None else w.direction.value,
                w.target,
                w.warning,
                w.actual,
                w.observations,
                w.status.value,
                None if w.excusal is None or w.status is not Status.EXCUSED else w.excusal.party,
                None if w.excusal is None or w.status is not Status.EXCUSED else w.excusal.reason,
                w.credit,
            ]


def to_csv(report: ComplianceReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in csv_rows(report):
        writer.writerow([_cell(c) for c in row])
    return out.getvalue()
