"""What makes one measurement row acceptable, checked without touching the database.

A row is accepted when its metric is a metric of some non-withdrawn version of the agreement,
its time is RFC 3339 *with* an offset (a naive time is ambiguous across the zones of the two
parties) inside the period of performance of a version that has the metric, its value is a
finite number and its weight, when given, a finite number ≥ 0: exactly what
`workflow.compliance.Observation` accepts, so every stored row can be aggregated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from workflow.calendar import BUSINESS_TIME_ZONE, start_of_day

# RFC 3339 date-time (section 5.6), separator `T`, `t` or a space, fraction up to 9 digits.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})"
)
_NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
# Longest metric key a version may hold (content.MetricKey); longer text cannot be one.
_MAX_KEY = 80


class RawRow(NamedTuple):
    """One row as the upload gave it: CSV strings, or whatever a JSON object held.

    `line` is the CSV line the row starts on (the header is line 1) or the JSON array index;
    `problem` is set when the row could not even be split into its fields.
    """

    line: int
    metric: Any
    observed_at: Any
    value: Any
    weight: Any = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    reason: str
    metric: str | None = None

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"line": self.line}
        if self.metric is not None:
            found["metric"] = self.metric
        found["reason"] = self.reason
        return found


@dataclass(frozen=True, slots=True)
class Period:
    """A version's period of performance as UTC instants (`end` excluded; None: open)."""

    first_day: date | None
    last_day: date | None
    start: datetime | None
    end: datetime | None

    def contains(self, moment: datetime) -> bool:
        return (self.start is None or self.start <= moment) and (
            self.end is None or moment < self.end
        )

    def label(self) -> str:
        first = self.first_day.isoformat() if self.first_day else "open"
        last = self.last_day.isoformat() if self.last_day else "open"
        return f"{first} to {last}"


def _day(value: Any) -> date | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def period_of(terms: Mapping[str, Any]) -> Period:
    """The period of performance of stored terms, local days in the agreement's zone."""
    zone = str(terms.get("time_zone") or BUSINESS_TIME_ZONE)
    first, last = _day(terms.get("period_start")), _day(terms.get("period_end"))
    try:
        start = start_of_day(first, zone) if first else None
        end = start_of_day(last + timedelta(days=1), zone) if last else None
    except ValueError:  # an unknown zone name in old terms: the business zone decides
        start = start_of_day(first) if first else None
        end = start_of_day(last + timedelta(days=1)) if last else None
    return Period(first, last, start, end)


class IngestRules:
    """The checks for one agreement, built once per upload; `check` runs once per row."""

    def __init__(self, periods: dict[str, tuple[Period, ...]]) -> None:
        self.periods = periods
        self._labels = {
            key: ", ".join(dict.fromkeys(p.label() for p in found))
            for key, found in periods.items()
        }

    def check(self, row: RawRow) -> tuple[str, datetime, float, float | None] | Rejection:
        """The row's (metric, observed_at, value, weight), or why it is refused."""
        if row.problem is not None:
            return Rejection(row.line, row.problem)
        metric = row.metric
        if not isinstance(metric, str) or not metric.strip():
            return Rejection(row.line, "metric is missing")
        metric = metric.strip()
        periods = self.periods.get(metric)
        if periods is None:
            shown = metric if len(metric) <= _MAX_KEY else metric[:_MAX_KEY] + "…"
            return Rejection(row.line, f"unknown metric {shown!r}", shown)
        observed_at = parse_time(row.observed_at)
        if isinstance(observed_at, str):
            return Rejection(row.line, observed_at, metric)
        value = parse_number(row.value, "value")
        if isinstance(value, str):
            return Rejection(row.line, value, metric)
        weight: float | None = None
        if row.weight is not None and row.weight != "":
            parsed = parse_number(row.weight, "weight")
            if isinstance(parsed, str):
                return Rejection(row.line, parsed, metric)
            weight = parsed
            if weight < 0:
                return Rejection(row.line, f"weight must not be negative (got {weight!r})", metric)
        if not any(p.contains(observed_at) for p in periods):
            return Rejection(
                row.line,
                f"observed_at {observed_at.isoformat()} is outside the period of performance "
                f"({self._labels[metric]})",
                metric,
            )
        return metric, observed_at, value, weight


def parse_time(text: Any) -> datetime | str:
    """An aware datetime from RFC 3339 text, or the reason it is not one."""
    if not isinstance(text, str) or not text.strip():
        return "observed_at is missing" if text in (None, "") else "observed_at must be a string"
    text = text.strip()
    if _RFC3339.fullmatch(text) is None:
        if _NAIVE.fullmatch(text) is not None:
            return (
                f"observed_at {text!r} has no UTC offset; send RFC 3339 with an offset, "
                "e.g. 2026-10-05T14:00:00Z or 2026-10-05T10:00:00-04:00"
            )
        return f"observed_at {_short(text)!r} is not an RFC 3339 date-time"
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError:  # well-formed but impossible, e.g. month 13 or hour 25
        return f"observed_at {text!r} is not a valid date-time"


def parse_number(raw: Any, name: str) -> float | str:
    """A finite float from a JSON number or numeric text, or the reason it is not one."""
    if isinstance(raw, bool):
        return f"{name} must be a number, not {str(raw).lower()}"
    if isinstance(raw, float | int):
        number = float(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        if not text:
            return f"{name} is missing"
        try:
            # float() accepts "1_000"; a measurement file that writes that is broken.
            number = float(text) if "_" not in text else math.nan
        except ValueError:
            return f"{name} {_short(text)!r} is not a number"
        if "_" in text:
            return f"{name} {_short(text)!r} is not a number"
    elif raw is None:
        return f"{name} is missing"
    else:
        return f"{name} must be a number"
    if not math.isfinite(number):
        return f"{name} must be a finite number (got {raw!r})"
    return number


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:60] + "…"


def rules_for_versions(
    versions: Iterable[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]],
) -> IngestRules:
    """Rules from the (terms, metrics) of every version whose measurements count."""
    periods: dict[str, list[Period]] = {}
    for terms, metrics in versions:
        period = period_of(terms)
        for metric in metrics:
            found = periods.setdefault(str(metric["key"]), [])
            if period not in found:
                found.append(period)
    return IngestRules({key: tuple(found) for key, found in periods.items()})
