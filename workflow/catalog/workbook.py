"""Reading an .xlsx workbook into measure rows, sheet by sheet, wherever the header sits."""

from __future__ import annotations

import io
import itertools
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook

from workflow.catalog.columns import HEADER_SEARCH_ROWS, Header, NoHeader, find_header
from workflow.catalog.package import LIMITS, PackageLimits, WorkbookTooLarge, check_package
from workflow.catalog.targets import CellValue, cell_text
from workflow.errors import InvalidInput

MAX_ID_LENGTH = 80


@dataclass(frozen=True)
class MeasureRow:
    """One measure as the workbook wrote it: text per field, the target cell untouched."""

    sheet: str
    row: int
    fields: dict[str, str | None]
    target: CellValue
    target_percent_format: bool
    raw: dict[str, str]

    @property
    def measure_id(self) -> str:
        return self.fields["measure_id"] or ""


@dataclass(frozen=True)
class SkippedRow:
    sheet: str
    row: int
    reason: str


@dataclass
class SheetRead:
    name: str
    header_row: int | None = None
    reason: str | None = None  # why the sheet was skipped
    measures: list[MeasureRow] = field(default_factory=list)
    skipped_rows: list[SkippedRow] = field(default_factory=list)


def read_workbook(content: bytes, limits: PackageLimits = LIMITS) -> list[SheetRead]:
    """Every sheet of the workbook, with its measures or the reason it holds none.

    Checked by `check_package` first; openpyxl's own failures on a damaged file (which
    are of every type) are the file's fault, not the server's.
    """
    check_package(content, limits)
    try:
        with warnings.catch_warnings():
            # openpyxl warns about data validation and other extensions it drops; we only read.
            warnings.simplefilter("ignore")
            book = load_workbook(
                io.BytesIO(content), read_only=True, data_only=True, keep_links=False
            )
    except Exception as exc:  # see the docstring
        raise _unreadable(exc) from None
    budget = _Budget(limits.measures)
    try:
        sheets = [_read_sheet(ws.title, _rows(ws), budget) for ws in book.worksheets]
        sheets += [SheetRead(cs.title.strip(), reason="a chart sheet") for cs in book.chartsheets]
    except InvalidInput:
        raise
    except Exception as exc:  # see the docstring
        raise _unreadable(exc) from None
    finally:
        book.close()
    return sheets


def _rows(ws: Any) -> Iterator[Sequence[Any]]:
    # The declared dimension may be a lie ("A1:XFD1048576"): openpyxl would pad every row
    # to it and add empty rows up to it. Without it, rows are as long as their last cell.
    ws.reset_dimensions()
    return ws.iter_rows()  # type: ignore[no-any-return]


def _unreadable(exc: Exception) -> InvalidInput:
    return InvalidInput(
        "not a readable .xlsx workbook",
        [{"field": "file", "message": f"{type(exc).__name__}: {exc}"[:300]}],
    )


@dataclass
class _Budget:
    """Measure rows the whole workbook may hold, and how many were read."""

    limit: int
    read: int = 0

    def take(self, sheet: str) -> None:
        self.read += 1
        if self.read > self.limit:
            message = f"more than {self.limit} measure rows in the workbook"
            raise WorkbookTooLarge(
                "the workbook is too large to import",
                [{"field": f"sheet {sheet}", "message": message}],
            )


def _read_sheet(name: str, rows: Iterator[Sequence[Any]], budget: _Budget) -> SheetRead:
    sheet = SheetRead(name=name.strip())
    head: list[Sequence[Any]] = []
    for cells in rows:
        head.append(cells)
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    found = find_header([[c.value for c in cells] for cells in head])
    if isinstance(found, NoHeader):
        sheet.reason = found.reason
        return sheet
    sheet.header_row = found.row
    below = head[found.row :]
    for offset, cells in enumerate(itertools.chain(below, rows)):
        if cells:  # rows missing from the file come as empty tuples
            _read_row(sheet, found, found.row + 1 + offset, cells, budget)
    if not sheet.measures:
        sheet.reason = f"a header on row {found.row} but no measure rows below it"
    return sheet


def _read_row(
    sheet: SheetRead, header: Header, number: int, cells: Sequence[Any], budget: _Budget
) -> None:
    def cell(index: int) -> Any:
        return cells[index] if index < len(cells) else None

    fields: dict[str, str | None] = {}
    for name, index in header.columns.items():
        c = cell(index)
        text = cell_text(c.value) if c is not None else ""
        fields[name] = text or None
    if not any(fields.values()):
        return  # blank lines and formatting-only rows below the table
    budget.take(sheet.name)
    if not fields["measure_id"]:
        sheet.skipped_rows.append(SkippedRow(sheet.name, number, "no measure ID"))
        return
    fields["measure_id"] = " ".join((fields["measure_id"] or "").split())
    if len(fields["measure_id"] or "") > MAX_ID_LENGTH:
        reason = f"measure ID longer than {MAX_ID_LENGTH} characters"
        sheet.skipped_rows.append(SkippedRow(sheet.name, number, reason))
        return
    target = cell(header.columns["target"])
    raw = {}
    for index, title in header.titles.items():
        c = cell(index)
        if c is not None and c.value is not None:
            raw[title] = cell_text(c.value)
    sheet.measures.append(
        MeasureRow(
            sheet=sheet.name,
            row=number,
            fields=fields,
            target=target.value if target is not None else None,
            target_percent_format="%" in str(getattr(target, "number_format", "") or ""),
            raw=raw,
        )
    )
