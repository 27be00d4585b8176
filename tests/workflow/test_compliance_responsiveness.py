"""Task turnaround by side and role, overdue counts, excused misses per side."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from states import Role, Side
from workflow.compliance.attribution import ChargedCounts
from workflow.compliance.excusals import ExcusedCounts
from workflow.compliance.responsiveness import ResponsivenessRow, TaskRecord, responsiveness


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def task(
    side: str,
    role: str,
    created: datetime,
    due: date,
    completed: datetime | None = None,
    state: str | None = None,
) -> TaskRecord:
    state = state or ("completed" if completed else "open")
    return TaskRecord(Side(side), Role(role), created, due, state, completed)


TASKS = [
    # customer functional lead: 6 h, on time
    task("customer", "functional_lead", utc(2027, 1, 4, 14), date(2027, 1, 8), utc(2027, 1, 4, 20)),
    # customer functional lead: 48 h, completed on the 7th, due the 6th: late
    task("customer", "functional_lead", utc(2027, 1, 5, 14), date(2027, 1, 6), utc(2027, 1, 7, 14)),
    # customer business owner: 3 h
    task("customer", "business_owner", utc(2027, 1, 6, 15), date(2027, 1, 10), utc(2027, 1, 6, 18)),
    # customer program manager: still open, due the 12th: overdue on the 20th
    task("customer", "program_manager", utc(2027, 1, 10, 15), date(2027, 1, 12)),
    # cancelled: does not count
    task("customer", "functional_lead", utc(2027, 1, 4), date(2027, 1, 5), state="cancelled"),
    # provider technical lead: 12 h; done 01:00 UTC on the 5th = 20:00 EST on the 4th: on time
    task("provider", "technical_lead", utc(2027, 1, 4, 13), date(2027, 1, 4), utc(2027, 1, 5, 1)),
    # provider technical lead: 24 h
    task(
        "provider", "technical_lead", utc(2027, 1, 11, 13), date(2027, 1, 15), utc(2027, 1, 12, 13)
    ),
    # provider program manager: open, due today (the 20th local): not yet overdue
    task("provider", "program_manager", utc(2027, 1, 18, 13), date(2027, 1, 20)),
    # created before the span: does not count
    task("provider", "technical_lead", utc(2026, 12, 20), date(2026, 12, 21), utc(2027, 1, 9)),
]


def test_turnaround_and_overdue_by_side_and_role() -> None:
    rows = responsiveness(
        TASKS,
        start=utc(2027, 1, 1, 5),  # January in New York
        end=utc(2027, 2, 1, 5),
        now=utc(2027, 1, 20, 12),  # 07:00 EST on the 20th
        excused=ExcusedCounts(customer=2, provider=1, third_party=4),
        charged=ChargedCounts(customer=3, provider=5),
    )
    assert rows == [
        # customer turnarounds [3, 6, 48]: median h=1 → 6; p90 h=1.8 → 6 + 0.8·(48-6) = 39.6
        ResponsivenessRow(Side.CUSTOMER, None, 4, 3, 6.0, 39.6, 1, 1, 2, 3),
        ResponsivenessRow(Side.CUSTOMER, Role.BUSINESS_OWNER, 1, 1, 3.0, 3.0, 0, 0, None),
        ResponsivenessRow(Side.CUSTOMER, Role.PROGRAM_MANAGER, 1, 0, None, None, 1, 0, None),
        # [6, 48]: median 6 + 0.5·42 = 27; p90 6 + 0.9·42 = 43.8
        ResponsivenessRow(Side.CUSTOMER, Role.FUNCTIONAL_LEAD, 2, 2, 27.0, 43.8, 0, 1, None),
        # provider [12, 24]: median 18; p90 12 + 0.9·12 = 22.8
        ResponsivenessRow(Side.PROVIDER, None, 3, 2, 18.0, 22.8, 0, 0, 1, 5),
        ResponsivenessRow(Side.PROVIDER, Role.PROGRAM_MANAGER, 1, 0, None, None, 0, 0, None),
        ResponsivenessRow(Side.PROVIDER, Role.TECHNICAL_LEAD, 2, 2, 18.0, 22.8, 0, 0, None),
    ]


def test_both_sides_are_always_reported() -> None:
    rows = responsiveness([], start=utc(2027, 1, 1), end=utc(2027, 2, 1), now=utc(2027, 2, 1))
    assert rows == [
        ResponsivenessRow(Side.CUSTOMER, None, 0, 0, None, None, 0, 0, 0, 0),
        ResponsivenessRow(Side.PROVIDER, None, 0, 0, None, None, 0, 0, 0, 0),
    ]


def test_records_from_rows_take_plain_strings_and_are_checked() -> None:
    record = TaskRecord("customer", "functional_lead", utc(2027, 1, 1), date(2027, 1, 2), "open")  # type: ignore[arg-type]
    assert record.side is Side.CUSTOMER
    assert record.role is Role.FUNCTIONAL_LEAD
    with pytest.raises(ValueError, match="completed_at"):
        TaskRecord(
            Side.CUSTOMER, Role.FUNCTIONAL_LEAD, utc(2027, 1, 1), date(2027, 1, 2), "completed"
        )
    with pytest.raises(ValueError, match="state"):
        TaskRecord(Side.CUSTOMER, Role.FUNCTIONAL_LEAD, utc(2027, 1, 1), date(2027, 1, 2), "done")
