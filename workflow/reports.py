"""The compliance report rendered for people: CSV (spreadsheet-safe) and an HTML status grid.

Both are plain functions of a `ComplianceReport`, so the API and an email can share them.

CSV: one row per metric and window. A text cell that a spreadsheet would read as a formula
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
from html import escape

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


_COLOURS = {
    Status.MET: "#c8e6c9",
    Status.WARNING: "#fff3c4",
    Status.MISSED: "#ffcdd2",
    Status.EXCUSED: "#d1c4e9",
    Status.NO_DATA: "#eeeeee",
    Status.NO_TARGET: "#ffffff",
}


def to_html(report: ComplianceReport, *, title: str) -> str:
    """A self-contained page: the metric-by-window status grid and the totals (inline styles,
    no scripts, so that it renders inside an email too)."""
    labels: list[str] = []
    for metric in report.metrics:
        for row in metric.windows:
            if row.window not in labels:
                labels.append(row.window)
    labels.sort(key=lambda label: (len(label), label))  # months first, then quarters
    head = "".join(f'<th style="padding:4px">{escape(label)}</th>' for label in labels)
    body: list[str] = []
    for metric in report.metrics:
        cells = {w.window: w for w in metric.windows}
        tds: list[str] = []
        for label in labels:
            w = cells.get(label)
            if w is None:
                tds.append("<td></td>")
                continue
            actual = "" if w.actual is None else f"{w.actual:g}"
            target = "" if w.target is None else f" / {w.target:g}"
            tds.append(
                f'<td style="padding:4px;background:{_COLOURS[w.status]}" '
                f'title="{escape(w.status.value)}">{escape(w.status.value.replace("_", " "))}'
                f"<br><small>{escape(actual + target)}</small></td>"
            )
        body.append(
            f'<tr><th style="text-align:left;padding:4px">{escape(metric.name)}'
            f"<br><small>{escape(metric.key)} ({escape(metric.unit)})</small></th>"
            + "".join(tds)
            + "</tr>"
        )
    t = report.totals
    totals = (
        f"met {t.met} · warning {t.warning} · missed {t.missed} · excused {t.excused} · "
        f"no data {t.no_data} · no target {t.no_target}"
        + ("" if t.credits is None else f" · credits {t.credits}")
        + (f" · corrective actions {t.corrective_actions}" if t.corrective_actions else "")
    )
    period = f"{report.period.first_day.isoformat()} to {report.period.last_day.isoformat()}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head>"
        '<body style="font-family:sans-serif">'
        f"<h1>{escape(title)}</h1>"
        f"<p>{escape(period)} ({escape(report.time_zone)}) · {escape(report.remedy_policy.value)}"
        "</p>"
        f'<table style="border-collapse:collapse" border="1"><thead><tr><th>metric</th>{head}'
        f"</tr></thead><tbody>{''.join(body)}</tbody></table>"
        f"<p>{escape(totals)}</p></body></html>"
    )
