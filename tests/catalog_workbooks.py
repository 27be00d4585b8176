"""Workbooks for catalogue tests: the real FMCF-9 file, and small ones built with openpyxl."""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import Workbook

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
