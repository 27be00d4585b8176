"""Measurement ingestion, on both databases: every rejection reason with its line, accepted
rows kept beside rejected ones, idempotency, who may upload, and streaming in flat memory."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from states import Role
from tests.helpers import C, P, World, make_world
from workflow import commands
from workflow.access import Actor
from workflow.commands.measurements import IngestReport
from workflow.compliance.aggregation import Observation
from workflow.errors import Forbidden, InvalidInput, NotFound
from workflow.measurements import csv_rows, json_rows
from workflow.models import Agreement, AuditEvent, Measurement, MeasurementBatch

HEADER = "metric,observed_at,value,weight\n"
M = "payroll-accuracy"


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


@pytest.fixture
def agreement(world: World) -> Agreement:
    return world.create()


def upload(
    world: World, agreement: Agreement, text: str, by: Actor | None = None, **kw: object
) -> IngestReport:
    return commands.import_measurements(
        world.session,
        actor=by or world.who(P, Role.PMO_TEAM),
        agreement_id=agreement.id,  # type: ignore[arg-type]
        rows=csv_rows(io.BytesIO(text.encode())),
        source="csv",
        now=world.tick(),
        **kw,  # type: ignore[arg-type]
    )


def stored(session: Session) -> list[Measurement]:
    session.rollback()
    return list(
        session.exec(
            select(Measurement).order_by(col(Measurement.metric_key), col(Measurement.observed_at))
        ).all()
    )


def test_each_rejection_names_its_line_and_reason(world: World, agreement: Agreement) -> None:
    report = upload(
        world,
        agreement,
        HEADER
        + f"{M},2026-10-05T10:00:00Z,99.5,\n"  # 2 ok
        + "no-such-metric,2026-10-05T10:00:00Z,1,\n"  # 3
        + f"{M},2026-10-05 10:00:00,1,\n"  # 4 naive
        + f"{M},05/10/2026,1,\n"  # 5 not RFC 3339
        + f"{M},2026-10-05T10:00:01Z,ninety,\n"  # 6
        + f"{M},2026-10-05T10:00:02Z,NaN,\n"  # 7
        + f"{M},2026-10-05T10:00:03Z,inf,\n"  # 8
        + f"{M},2026-10-05T10:00:04Z,1,-2\n"  # 9
        + f"{M},2027-10-01T12:00:00Z,1,\n"  # 10 after period_end 2027-09-30 (New York)
        + f"{M},2026-10-01T03:59:59Z,1,\n"  # 11 23:59:59 on 30 Sep in New York
        + f"{M},2026-10-01T04:00:00Z,1,\n"  # 12 ok: local midnight
        + f"{M},2026-10-05T10:00:05Z\n"  # 13 too few fields
        + '"a\nb",2026-10-05T10:00:06Z,1,\n'  # 14-15 quoted newline: starts on line 14
        + "\n"  # 16 blank: skipped
        + f"{M},2026-10-05T11:00:00+02:00,2.5,3\n",  # 17 ok
    )
    reasons = {e.line: (e.metric, e.reason) for e in report.errors}
    assert (report.accepted, report.duplicates, report.rejected) == (3, 0, 11)
    assert reasons[3] == ("no-such-metric", "unknown metric 'no-such-metric'")
    assert "no UTC offset" in reasons[4][1]
    assert "not an RFC 3339 date-time" in reasons[5][1]
    assert reasons[6][1] == "value 'ninety' is not a number"
    assert reasons[7][1] == "value must be a finite number (got 'NaN')"
    assert reasons[8][1] == "value must be a finite number (got 'inf')"
    assert reasons[9][1] == "weight must not be negative (got -2.0)"
    for line in (10, 11):
        assert reasons[line] == (
            M,
            reasons[line][1].split(" is outside")[0]
            + " is outside the period of performance (2026-10-01 to 2027-09-30)",
        )
    assert reasons[13] == (None, "expected 4 fields as in the header, got 2")
    assert reasons[14][1] == "unknown metric 'a\\nb'"
    rows = stored(world.session)
    assert [(r.observed_at, r.value, r.weight) for r in rows] == [
        (datetime(2026, 10, 1, 4, tzinfo=UTC), 1.0, None),
        (datetime(2026, 10, 5, 9, tzinfo=UTC), 2.5, 3.0),
        (datetime(2026, 10, 5, 10, tzinfo=UTC), 99.5, None),
    ]
    # Every stored row is one the compliance maths accepts as it is.
    assert [Observation(r.metric_key, r.observed_at, r.value, r.weight) for r in rows]


def test_metrics_of_withdrawn_versions_are_unknown(world: World, agreement: Agreement) -> None:
    world.fire(agreement, "withdraw", world.who(C, Role.PROGRAM_MANAGER), comment="not needed")
    report = upload(world, agreement, HEADER + f"{M},2026-10-05T10:00:00Z,1,\n")
    assert report.rejected == 1
    assert report.errors[0].reason == f"unknown metric {M!r}"


def test_a_bad_header_refuses_the_upload_before_any_row(world: World) -> None:
    with pytest.raises(InvalidInput) as caught:
        csv_rows(io.BytesIO(b"metric,when,value\nx,y,z\n"))
    assert {e["message"] for e in caught.value.errors} == {
        "unknown column 'when'",
        "column 'observed_at' is missing",
    }
    with pytest.raises(InvalidInput):
        csv_rows(io.BytesIO(b""))


def test_idempotent_first_value_kept_and_changes_refused(
    world: World, agreement: Agreement
) -> None:
    text = HEADER + "".join(f"{M},2026-10-{d:02d}T12:00:00Z,{d},\n" for d in range(5, 15))
    first = upload(world, agreement, text)
    again = upload(world, agreement, text)
    assert (first.accepted, first.duplicates, first.rejected) == (10, 0, 0)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 10, 0)
    changed = upload(
        world,
        agreement,
        HEADER
        + f"{M},2026-10-05T12:00:00Z,5,\n"  # same: a duplicate
        + f"{M},2026-10-06T14:00:00+02:00,60,\n"  # same instant, another value: refused
        + f"{M},2026-10-20T12:00:00Z,20,\n"  # new
        + f"{M},2026-10-20T12:00:00Z,20,\n"  # repeated within the file
        + f"{M},2026-10-20T12:00:00Z,21,\n",  # changed within the file
    )
    assert (changed.accepted, changed.duplicates, changed.rejected) == (1, 2, 2)
    assert [(e.line, e.reason) for e in changed.errors] == [
        (
            6,
            "already recorded with value 20.0; the first value is kept "
            "(a correction is not an upload)",
        ),
        (
            3,
            "already recorded with value 6.0; the first value is kept "
            "(a correction is not an upload)",
        ),
    ]
    values = {r.observed_at.day: r.value for r in stored(world.session)}
    assert values[6] == 6.0
    assert len(values) == 11


def test_accepted_rows_survive_rejections_in_every_chunk(
    world: World, agreement: Agreement
) -> None:
    lines = []
    for i in range(25):
        lines.append(f"{M},2026-11-01T00:{i:02d}:00Z,{i},\n")
        lines.append(f"{M},2026-11-01T01:{i:02d}:00Z,oops,\n")
    report = upload(world, agreement, HEADER + "".join(lines), chunk_rows=4)
    assert (report.accepted, report.rejected) == (25, 25)
    assert [e.line for e in report.errors] == list(range(3, 52, 2))
    assert len(stored(world.session)) == 25
    batch = world.session.exec(select(MeasurementBatch)).one()
    assert (batch.accepted, batch.rejected, batch.source) == (25, 25, "csv")
    assert batch.finished_at is not None
    event = world.session.exec(
        select(AuditEvent).where(AuditEvent.action == "measurements.imported")
    ).one()
    assert event.agreement_id == agreement.id
    assert '"accepted":25' in event.body


def test_a_failure_midway_keeps_committed_chunks_and_audits_the_abort(
    world: World, agreement: Agreement
) -> None:
    def rows() -> Iterator[object]:
        yield from json_rows(
            [{"metric": M, "observed_at": f"2026-11-02T00:00:0{i}Z", "value": i} for i in range(5)]
        )
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        commands.import_measurements(
            world.session,
            actor=world.who(C, Role.PMO_LEAD),
            agreement_id=agreement.id,  # type: ignore[arg-type]
            rows=rows(),  # type: ignore[arg-type]
            source="json",
            now=world.tick(),
            chunk_rows=2,
        )
    assert len(stored(world.session)) == 4  # two chunks of two committed; the fifth row lost
    batch = world.session.exec(select(MeasurementBatch)).one()
    assert (batch.accepted, batch.finished_at) == (4, None)
    assert world.session.exec(
        select(AuditEvent).where(AuditEvent.action == "measurements.import_aborted")
    ).one()


@pytest.mark.parametrize(
    ("side", "role"),
    [(P, Role.PMO_TEAM), (C, Role.PMO_LEAD), (P, Role.PROGRAM_MANAGER), (C, Role.TECHNICAL_LEAD)],
)
def test_who_may_upload(world: World, agreement: Agreement, side: object, role: Role) -> None:
    by = world.who(side, role)  # type: ignore[arg-type]
    report = upload(world, agreement, HEADER + f"{M},2026-10-05T10:00:00Z,1,\n", by)
    assert report.accepted == 1


def test_other_roles_are_refused(world: World, agreement: Agreement) -> None:
    with pytest.raises(Forbidden):
        upload(world, agreement, HEADER, world.who(C, Role.BUSINESS_OWNER))
    assert world.session.exec(select(MeasurementBatch)).all() == []


def test_non_parties_get_not_found(world: World, agreement: Agreement) -> None:
    org = commands.create_organization(world.session, actor=None, name="Third", now=world.now)
    user = commands.create_user(
        world.session,
        actor=None,
        email="olga@third.example",
        name="Olga",
        organization_id=org.id,  # type: ignore[arg-type]
        now=world.now,
    )
    with pytest.raises(NotFound):
        upload(world, agreement, HEADER, Actor.of(user))
    with pytest.raises(NotFound):
        commands.check_upload(
            world.session,
            actor=Actor.of(user),
            agreement_id=agreement.id,  # type: ignore[arg-type]
            now=world.now,
        )


class GeneratedCsv(io.RawIOBase):
    """`rows` measurement lines produced as they are read, never held whole."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.next_row = 0
        self.pending = HEADER.encode()
        self.size = 0
        self.start = datetime(2026, 10, 2, tzinfo=UTC)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: object) -> int:
        view = memoryview(buffer)  # type: ignore[arg-type]
        while len(self.pending) < len(view) and self.next_row < self.rows:
            moment = self.start + timedelta(seconds=60 * self.next_row)
            self.pending += (
                f"{M},{moment.isoformat()},{self.next_row % 100}.5,{self.next_row % 7}\n".encode()
            )
            self.next_row += 1
        size = min(len(view), len(self.pending))
        view[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        self.size += size
        return size


def test_a_200k_row_csv_streams_in_bounded_memory(world: World, agreement: Agreement) -> None:
    source = GeneratedCsv(200_000)
    tracemalloc.start()
    try:
        report = commands.import_measurements(
            world.session,
            actor=world.who(P, Role.PMO_TEAM),
            agreement_id=agreement.id,  # type: ignore[arg-type]
            rows=csv_rows(io.BufferedReader(source)),
            source="csv",
            now=world.tick(),
            chunk_rows=1_000,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (report.accepted, report.rejected) == (200_000, 0)
    assert source.size > 9_000_000
    # About one chunk (1,000 rows, ~1.2 kB each with its parameters), not the 10 MB file.
    assert peak < source.size / 4, (peak, source.size)
