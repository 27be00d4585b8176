"""Reading FIBF workbooks without a database: target forms, the percent rule, header names."""

from __future__ import annotations

from decimal import Decimal

import pytest

from workflow.catalog.columns import Header, NoHeader, field_of, find_header
from workflow.catalog.metric import direction_for, metric_key, party_for, window_for
from workflow.catalog.targets import parse_target
from workflow.content import Direction, Party, Window

# text (as the cell holds it) → comparator, value, unit
READABLE = [
    ("0.98", None, "98", "percent"),
    ("98%", None, "98", "percent"),
    (">=80%", ">=", "80", "percent"),
    ("≥ 2%", ">=", "2", "percent"),
    ("≤2%", "<=", "2", "percent"),
    ("=> 95 %", ">=", "95", "percent"),
    ("2% or less", "<=", "2", "percent"),
    ("10% or less", "<=", "10", "percent"),
    ("<.02%", "<", "0.02", "percent"),
    ("<15%", "<", "15", "percent"),
    ("< 60 days", "<", "60", "days"),
    ("<60 days", "<", "60", "days"),
    ("1", None, "1", None),
    ("Yes", "=", "1", "yes/no"),
    ("no", "=", "0", "yes/no"),
    ("at least 99.5 percent", ">=", "99.5", "percent"),
    ("within 3 government work days", "<=", "3", "business days"),
    ("no more than 4 hours", "<=", "4", "hours"),
    ("5 or more", ">=", "5", None),
    ("1,000 or fewer", "<=", "1000", None),
]


@pytest.mark.parametrize(("text", "comparator", "value", "unit"), READABLE)
def test_every_target_form_is_read(
    text: str, comparator: str | None, value: str, unit: str | None
) -> None:
    target = parse_target(text)
    assert target.problem is None, target
    assert (target.comparator, target.value, target.unit) == (comparator, Decimal(value), unit)
    assert target.text == text.strip()  # the original is kept as written


UNREADABLE = [
    ("TBD by Service Customer ", "the target is still to be determined (TBD by Service Customer)"),
    ("TBD by QSMO", "the target is still to be determined (TBD by QSMO)"),
    ("100%\n\nZero", "more than one value in one target"),
    ("", "no target given"),
    ("N/A", "no target: not applicable"),
    ("5 widgets", "unknown unit 'widgets'"),
    ("roughly 5%", "unknown words before the value: 'roughly'"),
    (">= 5 or less", "contradictory comparators"),
    ("as agreed", "not a comparator, a value and a unit"),
]


@pytest.mark.parametrize(("text", "reason"), UNREADABLE)
def test_targets_that_cannot_be_read_say_why(text: str, reason: str) -> None:
    target = parse_target(text)
    assert (target.problem, target.value, target.comparator) == (reason, None, None)
    assert not target.interpretable
    assert target.text == text.strip()


def test_the_fraction_and_percent_rule() -> None:
    # 1. A written % is percentage points.
    assert parse_target("0.5%").value == Decimal("0.5")
    # 2. A percent-formatted number is a fraction, whole numbers included.
    assert parse_target(1, percent_format=True).value == Decimal(100)
    assert parse_target(0.98, percent_format=True).value == Decimal(98)
    # 3. A bare number strictly between 0 and 1 is a fraction (no float noise: 0.96 → 96).
    for number, percent in ((0.98, 98), (0.96, 96), (0.6, 60), (".85", 85)):
        target = parse_target(number)
        assert (target.value, target.unit) == (Decimal(percent), "percent")
    # 4. A bare 0 or 1 is a fraction only for a measure that says it is a percentage.
    assert parse_target(1, says_percent=True).value == Decimal(100)
    assert parse_target(1).value == Decimal(1)
    assert parse_target(0, says_percent=True).unit == "percent"
    assert parse_target(0).unit is None
    # 5. Other bare numbers stay as written.
    assert (parse_target(5).value, parse_target(5).unit) == (Decimal(5), None)
    assert parse_target(5, says_percent=True).unit is None
    # Booleans and dates from the spreadsheet itself.
    assert parse_target(True).value == 1
    assert parse_target(False).value == 0


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Service Measure ID", "measure_id"),
        ("Measure ID", "measure_id"),
        ("ID", "measure_id"),
        ("Service Measure Name", "name"),
        ("Service Measure Target", "target"),
        ("Measure Target", "target"),
        ("Performance Standard", "target"),
        ("Acceptable Quality Level (AQL)", "target"),
        ("Service Measure Category ", "category"),
        ("Service Level Type ", "service_level_type"),
        ("Service Measure Type", "measure_type"),
        ("Performing Organization", "performing_org"),
        ("Responsible Party", "performing_org"),
        ("Performing Organisation", "performing_org"),
        ("Reporting Organization", "reporting_org"),
        ("Accountable Party", "accountable_org"),
        ("Service Measurement Frequency", "frequency"),
        ("Measurement Method", "method"),
        ("Service Measurement Formula", "formula"),
        ("Calculation", "formula"),
        ("Service Measure Rationale", "rationale"),
        ("Service Measurement Source", "measurement_source"),
        ("Service Measurement Source Detail", None),
        ("Service Measurement Reporting Level", None),
        ("Function ID", None),
        ("Reference ID", None),
        ("Service Area", None),
    ],
)
def test_header_synonyms(header: str, field: str | None) -> None:
    assert field_of(header) == field


def test_the_header_is_found_below_a_title_block() -> None:
    rows: list[list[object]] = [
        [None, None, None],
        ["HR Service Measures", None, None],
        ["Release FY 2025", None, None],
        ["Measure ID", "Measure Name", "Target", "Responsible Party"],
    ]
    found = find_header(rows)
    assert isinstance(found, Header)
    assert found.row == 4
    assert found.columns == {"measure_id": 0, "name": 1, "target": 2, "performing_org": 3}


def test_a_sheet_without_a_header_is_reported_not_guessed() -> None:
    assert find_header([["Change Log"], ["Workbook Tab", "Summary of Change", "Rationale"]]) == (
        NoHeader("no header row naming an ID, a name and a target in the first 30 rows")
    )
    partial = find_header([["Measure ID", "Measure Name", "Description"]])
    assert partial == NoHeader("row 1 looks like a header but has no column for: target")


def test_defaults_for_what_the_catalogue_does_not_say() -> None:
    assert direction_for("<=", 2) is Direction.LOWER_IS_BETTER
    assert direction_for(">=", 80) is Direction.HIGHER_IS_BETTER
    assert direction_for(None, 98) is Direction.HIGHER_IS_BETTER
    assert direction_for(None, 0) is Direction.LOWER_IS_BETTER  # zero can only be met from below
    assert party_for("Service Customer") is Party.CUSTOMER
    assert party_for("Service Provider; Treasury Disbursement Service") is Party.PROVIDER
    assert party_for("Service Provider and Service Customer") is Party.SHARED
    assert party_for("Treasury Disbursement Service") is Party.PROVIDER
    assert window_for("Quarterly") is Window.QUARTER
    assert window_for("Monthly: Due 10th calendar day after month end") is Window.MONTH
    assert window_for("Annually") is Window.MONTH
    assert metric_key("FFM.100.010.0011~5b731d7a") == "ffm.100.010.0011-5b731d7a"
