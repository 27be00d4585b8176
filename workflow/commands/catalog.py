"""Importing FIBF workbooks into the metric catalogue, and adding its measures to drafts."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import PurePath
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from workflow.access import Actor
from workflow.catalog.keys import DuplicateId, assign_keys
from workflow.catalog.measures import measure_values
from workflow.catalog.metric import metric_from_measure
from workflow.catalog.package import LIMITS, PackageLimits
from workflow.catalog.report import (
    DuplicateIdReport,
    ImportReport,
    SkippedRowReport,
    SkippedSheet,
    Uninterpretable,
)
from workflow.catalog.workbook import MeasureRow, SheetRead, read_workbook
from workflow.command import Command, command
from workflow.drafting import check_draft_edit, replace_draft_content
from workflow.errors import Forbidden, InvalidInput, NotFound
from workflow.models import AgreementVersion, CatalogMeasure, CatalogSource
from workflow.permissions import lock_agreement, version_by_number

# A workbook row under its catalogue key, with the column values of its measure.
Measure = tuple[str, MeasureRow, dict[str, Any]]


def import_catalog(
    session: Session,
    *,
    actor: Actor | None,
    filename: str,
    content: bytes,
    now: datetime,
    limits: PackageLimits = LIMITS,
) -> ImportReport:
    """Read a workbook into the catalogue: new measures added, known ones updated in place.

    The workbook is known by its content (the same bytes under another name are the same
    workbook) or else by its file name (a corrected release replaces the earlier one).
    `actor` None is the operator at the server's console. The workbook is read, within
    `limits`, and its rows made into measures before the write transaction begins: nobody
    waits on a parse.
    """
    filename = _importable_filename(actor, filename)
    sheets = read_workbook(content, limits)
    used = _sheets_with_measures(sheets)
    rows = [m for s in used for m in s.measures]
    keyed, duplicates = assign_keys(rows)
    measures = _measures_of(keyed, duplicates)
    uninterpretable = _uninterpretable_targets(measures)
    digest = hashlib.sha256(content).hexdigest()

    with command(session) as tx:
        source = _record_source(session, actor, filename, digest, sheets, now)
        assert source.id is not None
        counts, known_keys = _store_measures(session, source.id, measures, now)
        report = ImportReport(
            source_id=source.id,
            filename=source.filename,
            sheets=[s.name for s in used],
            rows=len(rows),
            distinct_ids=len({r.measure_id for r in rows}),
            **counts,
            interpretable=len(rows) - len(uninterpretable),
            uninterpretable=uninterpretable,
            duplicate_ids=_duplicate_id_reports(duplicates),
            skipped_sheets=[
                SkippedSheet(sheet=s.name, reason=s.reason) for s in sheets if s.reason is not None
            ],
            skipped_rows=[
                SkippedRowReport(sheet=r.sheet, row=r.row, reason=r.reason)
                for s in sheets
                for r in s.skipped_rows
            ],
            not_in_workbook=sorted(known_keys - {key for key, _ in keyed}),
        )
        _audit(tx, actor, report, digest, now)
    return report


def _importable_filename(actor: Actor | None, filename: str) -> str:
    """The workbook's bare file name, once the importer may import at all."""
    if actor is not None and not actor.is_admin:
        raise Forbidden("only an administrator may import a catalogue")
    filename = PurePath(filename.replace("\\", "/")).name.strip()[:255]
    if not filename:
        raise InvalidInput("a file name is required", [{"field": "file", "message": "no name"}])
    return filename


def _sheets_with_measures(sheets: list[SheetRead]) -> list[SheetRead]:
    """The sheets a header was found on; refused when there is none."""
    used = [s for s in sheets if s.reason is None]
    if not used:
        raise InvalidInput(
            "no sheet of this workbook has a recognisable header above service measures",
            [{"field": f"sheet {s.name}", "message": s.reason or ""} for s in sheets],
        )
    return used


def _measures_of(
    keyed: list[tuple[str, MeasureRow]], duplicates: list[DuplicateId]
) -> list[Measure]:
    """Each keyed row with the column values its catalogue measure will hold."""
    duplicated_ids = {d.measure_id for d in duplicates}
    return [
        (key, row, measure_values(key, row, duplicate_id=row.measure_id in duplicated_ids))
        for key, row in keyed
    ]


def _uninterpretable_targets(measures: list[Measure]) -> list[Uninterpretable]:
    return [
        Uninterpretable(
            sheet=row.sheet,
            row=row.row,
            id=row.measure_id,
            target=values["target_text"],
            reason=values["target_problem"],
        )
        for _, row, values in measures
        if values["target_problem"] is not None
    ]


def _duplicate_id_reports(duplicates: list[DuplicateId]) -> list[DuplicateIdReport]:
    return [
        DuplicateIdReport(id=d.measure_id, sheet_rows=[f"{s}!{r}" for s, r in d.rows], keys=d.keys)
        for d in duplicates
    ]


def _record_source(
    session: Session,
    actor: Actor | None,
    filename: str,
    digest: str,
    sheets: list[SheetRead],
    now: datetime,
) -> CatalogSource:
    """The workbook's catalogue source, found or new, stamped with this import."""
    source = _source_for(session, filename, digest)
    source.content_sha256 = digest
    source.sheets = [_sheet_summary(s) for s in sheets]
    source.imported_by_id = actor.user_id if actor else None
    source.imported_at = now
    session.add(source)
    session.flush()
    return source


def _store_measures(
    session: Session, source_id: int, measures: list[Measure], now: datetime
) -> tuple[dict[str, int], set[str]]:
    """Add the new measures and update the changed ones; the counts of each, and the keys the
    source held before."""
    existing = {
        m.key: m
        for m in session.exec(select(CatalogMeasure).where(CatalogMeasure.source_id == source_id))
    }
    counts = {"imported": 0, "updated": 0, "unchanged": 0}
    added: list[dict[str, Any]] = []
    for key, _, values in measures:
        measure = existing.get(key)
        if measure is None:
            added.append({"source_id": source_id, "created_at": now, "updated_at": now, **values})
        counts[_compare(session, measure, values, now)] += 1
    if added:
        # One executemany: building thousands of SQLModel rows took seconds under the lock.
        session.execute(sa.insert(CatalogMeasure), added)
    return counts, set(existing)


def _compare(
    session: Session, measure: CatalogMeasure | None, values: dict[str, Any], now: datetime
) -> str:
    """ "imported" (when there is no measure yet), "unchanged", or "updated" in place."""
    if measure is None:
        return "imported"
    if measure.fingerprint == values["fingerprint"]:
        return "unchanged"
    for name, value in values.items():
        setattr(measure, name, value)
    measure.updated_at = now
    session.add(measure)
    return "updated"


def _audit(
    tx: Command, actor: Actor | None, report: ImportReport, digest: str, now: datetime
) -> None:
    tx.audit(
        action="catalog.imported",
        now=now,
        actor_id=actor.user_id if actor else None,
        data={
            **report.model_dump(
                mode="json",
                include={
                    "source_id",
                    "filename",
                    "sheets",
                    "rows",
                    "distinct_ids",
                    "imported",
                    "updated",
                    "unchanged",
                    "interpretable",
                    "not_in_workbook",
                },
            ),
            "content_sha256": digest,
            "uninterpretable": len(report.uninterpretable),
            "duplicate_ids": [d.id for d in report.duplicate_ids],
        },
    )


def _source_for(session: Session, filename: str, digest: str) -> CatalogSource:
    same_bytes = session.exec(
        select(CatalogSource).where(CatalogSource.content_sha256 == digest)
    ).first()
    if same_bytes is not None:
        return same_bytes
    same_name = session.exec(
        select(CatalogSource).where(CatalogSource.filename == filename)
    ).first()
    return same_name or CatalogSource(filename=filename, content_sha256=digest)


def _sheet_summary(sheet: SheetRead) -> dict[str, Any]:
    if sheet.reason is not None:
        return {"name": sheet.name, "skipped": sheet.reason}
    return {"name": sheet.name, "header_row": sheet.header_row, "measures": len(sheet.measures)}


def add_catalog_measure(
    session: Session,
    *,
    actor: Actor,
    agreement_id: int,
    number: int,
    measure_id: int,
    expected_lock_version: int,
    now: datetime,
    key: str | None = None,
    target: float | None = None,
) -> AgreementVersion:
    """Append a catalogue measure to a draft as a metric (defaults: `catalog.metric`).

    `target` is required when the catalogue's target could not be interpreted, and
    overrides it otherwise.
    """
    with command(session) as tx:
        agreement = lock_agreement(session, agreement_id, actor)
        version = version_by_number(session, agreement, number)
        # Refuse a non-draft or a stale read before looking at the measure, as edit_draft would.
        check_draft_edit(session, agreement, version, actor, expected_lock_version, now)
        measure = session.get(CatalogMeasure, measure_id)
        if measure is None:
            raise NotFound("no such catalogue measure")
        metric = metric_from_measure(measure, key=key, target=target)
        if any(m["key"] == metric["key"] for m in version.metrics):
            raise InvalidInput(
                f"version {version.number} already has a metric {metric['key']!r}; "
                "choose another key",
                [{"field": "key", "message": "already used in this version"}],
            )
        replace_draft_content(
            tx,
            agreement,
            version,
            actor,
            expected_lock_version,
            version.terms,
            [*version.metrics, metric],
            now,
            action="version.metric_added_from_catalog",
            extra={"catalog_measure_id": measure.id, "catalog_key": measure.key},
        )
    return version
