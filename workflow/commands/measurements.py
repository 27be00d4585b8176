"""Storing measurements: a JSON batch or a streamed CSV file, checked row by row.

Unlike every other command this one is *several* transactions, deliberately: a million-row
CSV file is written in chunks of `CHUNK_ROWS`, each committed on its own, so memory stays
flat, SQLite's write lock is held for one chunk at a time, and a failure late in the file
(a full disk, the database gone) keeps every chunk already accepted. The upload is
therefore not atomic; what it did is recorded on its `MeasurementBatch` row and, when it
ends, in one audit event on the agreement's chain with the counts. A body cut short or over
the size limit never gets here: the HTTP endpoint receives it whole before the first row.

Idempotency keeps the *first* value: re-sending a row with the same (metric, observed_at)
stores nothing. A re-sent row with the same value and weight counts as a duplicate; one
with a different value is rejected with the value already recorded, so a correction is
never silently dropped nor silently applied (a compliance report already issued must not
change under its readers). Corrections are a separate, audited act.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from states import LIFECYCLE
from workflow.access import Actor, require_party, require_role
from workflow.calendar import local_date
from workflow.command import command
from workflow.measurements.rules import IngestRules, RawRow, Rejection, rules_for_versions
from workflow.models import Agreement, AgreementVersion, Measurement, MeasurementBatch
from workflow.permissions import actor_grants, lock_agreement

CHUNK_ROWS = 5_000
ERROR_LIMIT = 1_000
AUDIT_SAMPLE = 20

_TABLE: sa.Table = Measurement.__table__  # type: ignore[attr-defined]
_KEY = ["agreement_id", "metric_key", "observed_at"]
# Built once. SQLite: an executemany of one chunk, duplicates skipped by the database (its
# rowcount is the number inserted). PostgreSQL: the chunk as four arrays in ONE statement;
# SQLAlchemy's executemany there is its "insertmanyvalues" batching, which reports no
# rowcount and ran at a seventh of this speed.
# SQLite: the driver's own executemany with plain tuples. SQLAlchemy's per-row parameter
# processing cost a third of the import; times are formatted by the dialect's own DateTime
# processor, so stored text is byte-identical to rows written through the ORM.
_INSERT_SQLITE = (
    "INSERT INTO measurement"
    " (agreement_id, metric_key, observed_at, value, weight, batch_id, ingested_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (agreement_id, metric_key, observed_at) DO NOTHING"
)
_SQLITE_DIALECT = sqlite.dialect()
_SQLITE_MOMENT = sa.DateTime().dialect_impl(_SQLITE_DIALECT).bind_processor(_SQLITE_DIALECT)
_INSERT_POSTGRES = sa.text(
    "INSERT INTO measurement"
    " (agreement_id, metric_key, observed_at, value, weight, batch_id, ingested_at)"
    " SELECT :agreement_id, u.m, u.t, u.v, u.w, :batch_id, :ingested_at"
    " FROM unnest(CAST(:metrics AS text[]), CAST(:times AS timestamptz[]),"
    " CAST(:values AS float8[]), CAST(:weights AS float8[])) AS u(m, t, v, w)"
    " ON CONFLICT (agreement_id, metric_key, observed_at) DO NOTHING"
)
_STORED = sa.select(_TABLE.c.metric_key, _TABLE.c.observed_at, _TABLE.c.value, _TABLE.c.weight)


@dataclass
class IngestReport:
    """What one upload did; `errors` holds the first `ERROR_LIMIT` rejections."""

    batch_id: int
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[Rejection] = field(default_factory=list)
    complete: bool = False

    @property
    def more_errors(self) -> int:
        return self.rejected - len(self.errors)

    def reject(self, rejection: Rejection, limit: int) -> None:
        self.rejected += 1
        if len(self.errors) < limit:
            self.errors.append(rejection)


def import_measurements(
    session: Session,
    *,
    actor: Actor | None,
    agreement_id: int,
    rows: Iterable[RawRow],
    source: str,
    now: datetime,
    filename: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    error_limit: int = ERROR_LIMIT,
) -> IngestReport:
    """Check and store every row; rejected rows are reported, accepted ones always kept.

    `actor` None is the operator at the console. Commits once to open the batch, once per
    chunk, and once to close it (see the module docstring for why this is not one commit).
    """
    rules, batch, on_behalf_of_id = _open_batch(
        session, actor, agreement_id, source=source, filename=filename, now=now
    )
    assert batch.id is not None
    report = IngestReport(batch_id=batch.id)
    try:
        _ingest(session, rules, rows, report, batch.id, agreement_id, now, chunk_rows, error_limit)
        report.complete = True
    except BaseException:
        # The chunks committed so far stay; say so in the trail, then let the error go on.
        # A second failure (the database itself gone) must not hide the first.
        with contextlib.suppress(SQLAlchemyError):
            session.rollback()
            _close_batch(session, actor, batch.id, agreement_id, report, on_behalf_of_id, now)
        raise
    _close_batch(session, actor, batch.id, agreement_id, report, on_behalf_of_id, now)
    return report


def check_upload(session: Session, *, actor: Actor, agreement_id: int, now: datetime) -> None:
    """Refuse now, reading only, what `import_measurements` would refuse before any row."""
    agreement = require_party(session.get(Agreement, agreement_id), actor)
    require_role(
        actor_grants(session, agreement, actor, local_date(now)),
        LIFECYCLE.action("upload_measurements").roles,
        "uploading measurements",
    )
    session.rollback()


def _open_batch(
    session: Session,
    actor: Actor | None,
    agreement_id: int,
    *,
    source: str,
    filename: str | None,
    now: datetime,
) -> tuple[IngestRules, MeasurementBatch, int | None]:
    with command(session):
        agreement = lock_agreement(session, agreement_id, actor)
        on_behalf_of_id = None
        if actor is not None:
            grant = require_role(
                actor_grants(session, agreement, actor, local_date(now)),
                LIFECYCLE.action("upload_measurements").roles,
                "uploading measurements",
            )
            on_behalf_of_id = grant.on_behalf_of_id
        versions = session.exec(
            select(AgreementVersion.terms, AgreementVersion.metrics).where(
                AgreementVersion.agreement_id == agreement_id,
                col(AgreementVersion.state) != "withdrawn",
            )
        ).all()
        rules = rules_for_versions(versions)
        batch = MeasurementBatch(
            agreement_id=agreement_id,
            source=source,
            filename=filename[:255] if filename else None,
            submitted_by_id=None if actor is None else actor.user_id,
            started_at=now,
        )
        session.add(batch)
    return rules, batch, on_behalf_of_id


def _ingest(
    session: Session,
    rules: IngestRules,
    rows: Iterable[RawRow],
    report: IngestReport,
    batch_id: int,
    agreement_id: int,
    now: datetime,
    chunk_rows: int,
    error_limit: int,
) -> None:
    # Per chunk: (metric, instant) → (line, value, weight) of its first row. Aware datetimes
    # hash by their instant, so two spellings of one instant are one key.
    chunk: dict[tuple[str, datetime], tuple[int, float, float | None]] = {}
    check = rules.check
    for row in rows:
        checked = check(row)
        if isinstance(checked, Rejection):
            report.reject(checked, error_limit)
            continue
        metric, observed_at, value, weight = checked
        first = chunk.get((metric, observed_at))
        if first is None:
            chunk[(metric, observed_at)] = (row.line, value, weight)
            if len(chunk) >= chunk_rows:
                _write_chunk(session, chunk, report, batch_id, agreement_id, now, error_limit)
                chunk = {}
        else:
            _repeat(report, row.line, metric, (first[1], first[2]), value, weight, error_limit)
    if chunk:
        _write_chunk(session, chunk, report, batch_id, agreement_id, now, error_limit)


def _repeat(
    report: IngestReport,
    line: int,
    metric: str,
    kept: tuple[float, float | None],
    value: float,
    weight: float | None,
    error_limit: int,
) -> None:
    """A row whose (metric, instant) is already recorded: a duplicate, or a refused change."""
    if kept == (value, weight):
        report.duplicates += 1
        return
    shown = f"value {kept[0]!r}" + ("" if kept[1] is None else f", weight {kept[1]!r}")
    report.reject(
        Rejection(
            line,
            f"already recorded with {shown}; the first value is kept "
            "(a correction is not an upload)",
            metric,
        ),
        error_limit,
    )


def _write_chunk(
    session: Session,
    chunk: dict[tuple[str, datetime], tuple[int, float, float | None]],
    report: IngestReport,
    batch_id: int,
    agreement_id: int,
    now: datetime,
    error_limit: int,
) -> None:
    """One transaction: insert the chunk, skipping keys already stored, and commit."""
    with command(session):
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            inserted = connection.execute(
                _INSERT_POSTGRES,
                {
                    "agreement_id": agreement_id,
                    "batch_id": batch_id,
                    "ingested_at": now,
                    "metrics": [metric for metric, _ in chunk],
                    "times": [moment for _, moment in chunk],
                    "values": [value for _, value, _ in chunk.values()],
                    "weights": [weight for _, _, weight in chunk.values()],
                },
            ).rowcount
        else:
            assert _SQLITE_MOMENT is not None
            moment = _SQLITE_MOMENT
            ingested_at = moment(now.astimezone(UTC))
            params = [
                (
                    agreement_id,
                    metric,
                    moment(observed_at.astimezone(UTC)),
                    value,
                    weight,
                    batch_id,
                    ingested_at,
                )
                for (metric, observed_at), (_line, value, weight) in chunk.items()
            ]
            inserted = connection.exec_driver_sql(_INSERT_SQLITE, params).rowcount
        if inserted < len(chunk):
            _classify_skipped(connection, chunk, report, agreement_id, error_limit, inserted)
        else:
            report.accepted += inserted


def _classify_skipped(
    connection: sa.Connection,
    chunk: dict[tuple[str, datetime], tuple[int, float, float | None]],
    report: IngestReport,
    agreement_id: int,
    error_limit: int,
    inserted: int,
) -> None:
    """Some keys of the chunk were stored before: read them back and compare the values.

    A stored row equal to ours is either the one we just inserted or an earlier duplicate;
    one that differs was certainly stored before. Only the chunk's metrics and time span
    are read, and only when the database skipped something.
    """
    metrics = sorted({metric for metric, _ in chunk})
    moments = [moment for _, moment in chunk]
    stored: dict[tuple[str, datetime], tuple[float, float | None]] = {
        (r.metric_key, r.observed_at): (r.value, r.weight)
        for r in connection.execute(
            _STORED.where(
                _TABLE.c.agreement_id == agreement_id,
                _TABLE.c.metric_key.in_(metrics),
                _TABLE.c.observed_at >= min(moments),
                _TABLE.c.observed_at <= max(moments),
            )
        )
    }
    conflicts: list[tuple[int, str, tuple[float, float | None], float, float | None]] = []
    for (metric, moment), (line, value, weight) in chunk.items():
        kept = stored.get((metric, moment))
        if kept is not None and kept != (value, weight):
            conflicts.append((line, metric, kept, value, weight))
    skipped = len(chunk) - inserted
    report.accepted += inserted
    report.duplicates += skipped - len(conflicts)
    for line, metric, kept, value, weight in sorted(conflicts):
        _repeat(report, line, metric, kept, value, weight, error_limit)


def _close_batch(
    session: Session,
    actor: Actor | None,
    batch_id: int,
    agreement_id: int,
    report: IngestReport,
    on_behalf_of_id: int | None,
    now: datetime,
) -> None:
    with command(session) as tx:
        batch = session.get(MeasurementBatch, batch_id)
        assert batch is not None
        batch.accepted, batch.duplicates, batch.rejected = (
            report.accepted,
            report.duplicates,
            report.rejected,
        )
        if report.complete:
            batch.finished_at = now
        session.add(batch)
        data: dict[str, Any] = {
            "batch_id": batch_id,
            "source": batch.source,
            "filename": batch.filename,
            "complete": report.complete,
            "accepted": report.accepted,
            "duplicates": report.duplicates,
            "rejected": report.rejected,
            "first_rejections": [e.as_dict() for e in report.errors[:AUDIT_SAMPLE]],
        }
        tx.audit(
            action="measurements.imported" if report.complete else "measurements.import_aborted",
            now=now,
            agreement_id=agreement_id,
            actor_id=None if actor is None else actor.user_id,
            on_behalf_of_id=on_behalf_of_id,
            data=data,
        )
