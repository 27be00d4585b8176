"""The metric catalogue: import FIBF workbooks, browse measures, add one to a draft."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Header, Query, Response, UploadFile
from pydantic import Field

from api.deps import ActorDep, AdminDep, IdempotencyDep, NowDep, SessionDep
from api.idempotency import idempotent
from api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, page
from api.preconditions import required_lock_version, with_etag
from api.problems import problem
from api.schemas import Strict
from api.types import Id, LockVersion
from workflow import commands
from workflow.catalog.package import WorkbookTooLarge
from workflow.catalog.report import ImportReport
from workflow.errors import InvalidInput
from workflow.queries.catalog import (
    CatalogMeasureDetail,
    CatalogMeasureView,
    catalog_measure,
    list_catalog,
)
from workflow.queries.versions import VersionDetail, version_detail

router = APIRouter(tags=["catalog"])

_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


class FromCatalog(Strict):
    measure_id: Id = Field(description="the catalogue measure's id")
    lock_version: LockVersion | None = None
    key: Annotated[str, Field(max_length=80)] | None = Field(
        default=None, description="the metric key; default: from the measure's ID"
    )
    target: float | None = Field(
        default=None, description="required when the catalogue target is uninterpretable"
    )


@router.post(
    "/catalog/import",
    dependencies=[IdempotencyDep],
    response_model=ImportReport,
    responses={413: {"description": "the workbook exceeds a size or count limit"}},
)
@idempotent
def import_catalog(
    file: Annotated[UploadFile, File(description="an FIBF service-measure workbook (.xlsx)")],
    session: SessionDep,
    actor: AdminDep,
    now: NowDep,
) -> ImportReport | Response:
    """Import a workbook: counts of measures imported, updated and unchanged, every target
    that could not be interpreted (with the reason), IDs the workbook reuses, every sheet
    skipped and why. Importing the same workbook again updates it in place. A workbook that
    would inflate or hold too much is 413, a damaged one 422; either way nothing is stored."""
    filename = file.filename or ""
    if not filename.lower().endswith(_WORKBOOK_SUFFIXES):
        raise InvalidInput(
            "send an Excel workbook (.xlsx)",
            [{"field": "file", "message": f"{filename or 'the file'} is not an .xlsx file"}],
        )
    # The body-size middleware has already bounded this read (ACCORD_MAX_BODY_BYTES).
    content = file.file.read()
    try:
        return commands.import_catalog(
            session, actor=actor, filename=filename, content=content, now=now
        )
    except WorkbookTooLarge as exc:
        return problem(413, exc.message, slug="too-large", errors=exc.errors)


@router.get("/catalog")
def browse_catalog(
    session: SessionDep,
    _actor: ActorDep,
    q: Annotated[
        str | None, Query(max_length=200, description="in ID, name or description")
    ] = None,
    category: Annotated[str | None, Query(max_length=200)] = None,
    interpretable: Annotated[
        bool | None, Query(description="only measures whose target could (not) be read")
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[CatalogMeasureView]:
    """Measures of every imported workbook, in import order."""
    found = list_catalog(
        session,
        q=q,
        category=category,
        interpretable=interpretable,
        limit=limit,
        after=decode_cursor(cursor),
    )
    return page(found)


@router.get("/catalog/{measure_id}")
def get_catalog_measure(
    measure_id: Id, session: SessionDep, _actor: ActorDep
) -> CatalogMeasureDetail:
    return catalog_measure(session, measure_id)


@router.post("/slas/{sla_id}/versions/{number}/metrics:from-catalog", tags=["versions"])
def add_metric_from_catalog(
    sla_id: Id,
    number: Id,
    body: FromCatalog,
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> VersionDetail:
    """Add a catalogue measure to a draft as a metric (direction from the target's
    comparator, window from the frequency, mean aggregation, responsible party from the
    performing organisation). 422 when its target is uninterpretable and none is given."""
    commands.add_catalog_measure(
        session,
        actor=actor,
        agreement_id=sla_id,
        number=number,
        measure_id=body.measure_id,
        expected_lock_version=required_lock_version(body.lock_version, if_match),
        key=body.key,
        target=body.target,
        now=now,
    )
    return with_etag(version_detail(session, actor, sla_id, number, now=now), response)
