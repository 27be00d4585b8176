"""Uploads as streams of `RawRow`s: a CSV file read incrementally, or a JSON array.

The CSV reader never holds more than one line (capped at `MAX_LINE_CHARS`) and one chunk of
the caller's rows: a million-row file streams through in constant memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import IO, Any

from workflow.errors import InvalidInput
from workflow.measurements.rules import RawRow

CSV_COLUMNS = ("metric", "observed_at", "value", "weight")
_REQUIRED = CSV_COLUMNS[:3]
# A measurement line is ~60 characters; anything this long is not one (and is not kept).
MAX_LINE_CHARS = 64 * 1024


class _Lines:
    """The text's lines for csv.reader, each capped; overlong lines become empty ones."""

    def __init__(self, text: IO[str]) -> None:
        self.text = text
        self.number = 0
        self.overlong: list[int] = []

    def __iter__(self) -> Iterator[str]:
        readline = self.text.readline
        while True:
            line = readline(MAX_LINE_CHARS)
            if not line:
                return
            self.number += 1
            if len(line) == MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
                # Skip the rest of the line without holding it.
                while (rest := readline(MAX_LINE_CHARS)) and not rest.endswith(("\n", "\r")):
                    pass
                self.overlong.append(self.number)
                line = "\n"
            yield line


def csv_rows(stream: IO[bytes]) -> Iterator[RawRow]:
    """The rows of a CSV upload, header checked at once (InvalidInput before any row).

    UTF-8 (a BOM is skipped); undecodable bytes become U+FFFD so that the row they are in
    is refused with its line, not the whole upload. Blank lines are skipped.
    """
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    lines = _Lines(text)
    reader = csv.reader(iter(lines))
    header = next(reader, None)
    if header is None:
        raise InvalidInput("the CSV upload is empty", [{"field": "header", "message": "missing"}])
    index = _header_index(header)
    return _rows(reader, lines, index)


def _header_index(header: Sequence[str]) -> tuple[int, int, int, int | None]:
    names = [h.strip().lower() for h in header]
    problems = [
        {"field": "header", "message": f"unknown column {n!r}"}
        for n in names
        if n not in CSV_COLUMNS
    ]
    problems += [
        {"field": "header", "message": f"column {n!r} is missing"}
        for n in _REQUIRED
        if n not in names
    ]
    problems += [
        {"field": "header", "message": f"column {n!r} appears twice"}
        for n in CSV_COLUMNS
        if names.count(n) > 1
    ]
    if problems:
        raise InvalidInput(
            "the CSV header must be metric,observed_at,value[,weight]; got "
            + ",".join(header)[:200],
            problems,
        )
    weight = names.index("weight") if "weight" in names else None
    return names.index("metric"), names.index("observed_at"), names.index("value"), weight


def _rows(reader: Any, lines: _Lines, index: tuple[int, int, int, int | None]) -> Iterator[RawRow]:
    metric_at, time_at, value_at, weight_at = index
    width = 3 if weight_at is None else 4
    previous_end = 1  # the header's line
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RawRow(previous_end + 1, None, None, None, problem=f"unreadable CSV: {exc}")
            previous_end = reader.line_num
            continue
        line, previous_end = previous_end + 1, reader.line_num
        if lines.overlong:
            for number in lines.overlong:
                yield RawRow(number, None, None, None, problem="line too long")
            lines.overlong.clear()
            if not fields:
                continue
        if not fields:
            continue
        if len(fields) != width:
            if len(fields) == width - 1 and weight_at == width - 1:
                fields.append("")  # a trailing empty weight written without its comma
            else:
                yield RawRow(
                    line,
                    None,
                    None,
                    None,
                    problem=f"expected {width} fields as in the header, got {len(fields)}",
                )
                continue
        yield RawRow(
            line,
            fields[metric_at],
            fields[time_at],
            fields[value_at],
            None if weight_at is None else fields[weight_at],
        )


def json_rows(observations: Sequence[Any]) -> Iterator[RawRow]:
    """The observations of a JSON batch; `line` is the array index."""
    for i, item in enumerate(observations):
        if not isinstance(item, dict):
            yield RawRow(i, None, None, None, problem="each observation must be an object")
            continue
        unknown = sorted(set(item) - set(CSV_COLUMNS))
        if unknown:
            yield RawRow(i, None, None, None, problem=f"unknown fields: {', '.join(unknown)}")
            continue
        yield RawRow(
            i, item.get("metric"), item.get("observed_at"), item.get("value"), item.get("weight")
        )
