"""Workbooks for catalogue tests: the real FMCF-9 file, and small ones built with openpyxl."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

# A copy of shared/data/fibf's workbook, so the tests need nothing outside the repository.
FMCF9 = (
    Path(__file__).resolve().parent
    / "data/fibf/FMCF-9_ FM Provider Service Measures_FY 2024 Release.xlsx"
)
FMCF9_NAME = FMCF9.name

# An HR-style layout: a notes sheet first, the header on row 4, other column names, a percent-
# formatted cell, a reused ID, a footnote row without an ID, blank lines, an unreadable target.
HR_HEADER = [
    "Measure ID",
    "Measure Name",
    "Measure Description",
    "Measure Target",
    "Measure Category",
    "Measure Type",
    "Responsible Party",
    "Accountable Party",
    "Measurement Frequency",
    "Calculation",
    "Notes",
]
HR_ROWS: list[list[object]] = [
    [
        "HCM.010.001",
        "Onboarding timeliness",
        "Percentage (%) of new hires onboarded on time",
        0.95,
        "Customer Facing",
        "Timeliness",
        "Service Provider",
        "Service Customer",
        "Quarterly",
        "on time / all",
        "pilot",
    ],
    [
        "HCM.010.002",
        "Personnel action errors",
        "Percentage (%) of actions with errors",
        "≥ 2%",
        "Provider Operations",
        "Quality",
        "Service Provider",
        None,
        "Monthly",
        None,
        None,
    ],
    [
        "HCM.010.002",
        "Payroll data corrections",
        "Number of corrections",
        "< 60 days",
        "Provider Operations",
        "Timeliness",
        "Service Customer",
        None,
        "Monthly",
        None,
        None,
    ],
    [None, "* targets are reviewed every year"],  # a footnote in the name column
    [
        "HCM.020.001",
        "Position descriptions current",
        "Yes when all are current",
        "Yes",
        "Oversight Reporting",
        "Compliance",
        "Service Customer",
        None,
        "Annually",
        None,
        None,
    ],
    [
        "HCM.020.002",
        "Classification appeals",
        "Count of appeals",
        "TBD by Agency",
        "Oversight Reporting",
        "Volume",
        "Service Provider",
        None,
        "Monthly",
        None,
        None,
    ],
]


def hr_workbook(rows: list[list[object]] | None = None) -> bytes:
    book = Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "Read me"
    notes.append(["How to use this workbook"])
    sheet = book.create_sheet("HR Service Measures")
    sheet.append(["HR Service Measures"])
    sheet.append(["Release FY 2025"])
    sheet.append([])
    sheet.append(HR_HEADER)
    for row in rows if rows is not None else HR_ROWS:
        sheet.append(row)
    sheet.append([])
    sheet["D5"].number_format = "0%"  # HCM.010.001's 0.95 shows as 95%
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def headerless_workbook() -> bytes:
    """One sheet whose best header row lacks a target column."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Measure ID", "Measure Name", "Comment"])
    sheet.append(["X.1", "Something", "no target here"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# Hand-built packages: the parts a workbook needs and nothing else, so that a test can put
# whatever it likes in them (openpyxl writes neither shared strings nor hostile XML).
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_SHEET_TYPE = f"{_REL}/worksheet"


def _cell(ref: str, value: object) -> str:
    if isinstance(value, int):  # an index into the shared strings
        return f'<c r="{ref}" t="s"><v>{value}</v></c>'
    if isinstance(value, float):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def sheet_xml(rows: Sequence[Sequence[object]]) -> bytes:
    """A worksheet part; a str cell is inline text, an int a shared-string index, a float a
    number."""
    body = "".join(
        f'<row r="{r}">'
        + "".join(_cell(f"{get_column_letter(c)}{r}", v) for c, v in enumerate(row, 1))
        + "</row>"
        for r, row in enumerate(rows, 1)
    )
    return f'<worksheet xmlns="{_MAIN}"><sheetData>{body}</sheetData></worksheet>'.encode()


def shared_strings_xml(strings: Sequence[str]) -> bytes:
    items = "".join(f"<si><t>{escape(s)}</t></si>" for s in strings)
    return f'<sst xmlns="{_MAIN}" count="{len(strings)}">{items}</sst>'.encode()


def package(sheets: dict[str, bytes], parts: dict[str, bytes] | None = None) -> bytes:
    """An .xlsx of these sheets (name → worksheet part) plus any other parts."""
    names = list(sheets)
    content_types = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>'
        + "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(1, len(names) + 1)
        )
        + (
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            if "xl/sharedStrings.xml" in (parts or {})
            else ""
        )
        + "</Types>"
    )
    workbook = (
        f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
        + "".join(
            f'<sheet name="{escape(n)}" sheetId="{i}" r:id="rId{i}"/>'
            for i, n in enumerate(names, 1)
        )
        + "</sheets></workbook>"
    )
    rels = (
        f'<Relationships xmlns="{_PKG_REL}">'
        + "".join(
            f'<Relationship Id="rId{i}" Type="{_SHEET_TYPE}" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(names) + 1)
        )
        + "</Relationships>"
    )
    root_rels = (
        f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
        f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", content_types)
        z.writestr("_rels/.rels", root_rels)
        z.writestr("xl/workbook.xml", workbook)
        z.writestr("xl/_rels/workbook.xml.rels", rels)
        for i, name in enumerate(names, 1):
            z.writestr(f"xl/worksheets/sheet{i}.xml", sheets[name])
        for name, data in (parts or {}).items():
            z.writestr(name, data)
    return out.getvalue()


def with_parts(content: bytes, parts: dict[str, bytes]) -> bytes:
    """The workbook with these parts replaced (or added)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(content)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            if info.filename not in parts:
                dst.writestr(info.filename, src.read(info))
        for name, data in parts.items():
            dst.writestr(name, data)
    return out.getvalue()


def part(content: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        return z.read(name)


HR_SHEET = "xl/worksheets/sheet2.xml"  # "HR Service Measures" in hr_workbook()

# The "billion laughs": ten entities, each ten of the one before.
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY lol0 "lol">'
    + b"".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">'.encode() for i in range(1, 10))
    + f'<worksheet xmlns="{_MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'
    "&lol9;</t></is></c></row></sheetData></worksheet>".encode()
)
