"""The version in force when a window began judges the window."""

from __future__ import annotations

from datetime import UTC, date, datetime

from workflow.compliance.versions import (
    VersionRecord,
    version_for_window,
    version_in_force,
    version_record,
)
from workflow.compliance.windows import window_for_day
from workflow.content import Window
from workflow.models.agreements import AgreementVersion

NY = "America/New_York"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def month(year: int, number: int) -> str:
    return f"{year:04d}-{number:02d}"


V1 = VersionRecord(1, utc(2026, 12, 15, 15), utc(2027, 6, 10, 14), ())
V2 = VersionRecord(2, utc(2027, 6, 10, 14), None, ())


def governs(versions: list[VersionRecord], day: date) -> int | None:
    found = version_for_window(versions, window_for_day(day, Window.MONTH, NY))
    return None if found is None else found.number


def test_a_revision_activated_mid_window_takes_effect_from_the_next_window() -> None:
    assert governs([V1, V2], date(2027, 5, 1)) == 1
    assert governs([V1, V2], date(2027, 6, 1)) == 1  # v2 arrived on 10 June
    assert governs([V1, V2], date(2027, 7, 1)) == 2


def test_at_the_activation_instant_the_new_version_is_in_force() -> None:
    assert version_in_force([V1, V2], utc(2027, 6, 10, 13, 59)) == V1
    assert version_in_force([V1, V2], utc(2027, 6, 10, 14)) == V2


def test_a_window_before_the_first_activation_has_no_version() -> None:
    assert governs([V1, V2], date(2026, 11, 1)) is None


def test_the_first_version_activated_mid_window_governs_that_window() -> None:
    # nothing was in force on 1 December 2026; v1 arrived on the 15th
    assert governs([V1, V2], date(2026, 12, 1)) == 1
    first = VersionRecord(1, utc(2027, 1, 20), None, ())
    assert governs([first], date(2027, 1, 1)) == 1


def test_after_termination_no_version_is_in_force() -> None:
    terminated = VersionRecord(1, utc(2027, 1, 1, 5), utc(2027, 3, 15, 16), ())
    assert governs([terminated], date(2027, 3, 1)) == 1
    assert governs([terminated], date(2027, 4, 1)) is None


def test_a_stored_version_becomes_a_record() -> None:
    stored = AgreementVersion(
        agreement_id=1,
        number=1,
        modification_number=0,
        state="superseded",
        terms={"time_zone": NY, "annual_cost": "120000.00"},
        metrics=[
            {
                "key": "availability",
                "name": "Availability",
                "category": "availability",
                "unit": "%",
                "direction": "higher_is_better",
                "target": 99.5,
                "responsible_party": "provider",
            }
        ],
        content_hash="x",
        drafting_side="customer",
        created_by_id=1,
        state_changed_at=utc(2027, 6, 10, 14),
        activated_at=utc(2026, 12, 15, 15),
    )
    record = version_record(stored)
    assert record is not None
    assert record.ended_at == utc(2027, 6, 10, 14)  # superseded then
    assert record.metric("availability") is not None
    assert record.metric("nope") is None
    stored.state = "active"
    active = version_record(stored)
    assert active is not None
    assert active.ended_at is None
    stored.activated_at = None
    assert version_record(stored) is None
