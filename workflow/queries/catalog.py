"""The metric catalogue as people browse it: search, filter, one measure in full."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from workflow.errors import NotFound
from workflow.models import CatalogMeasure, CatalogSource
from workflow.queries.common import Slice, View, after_int, page_of


class TargetView(View):
    text: str
    comparator: str | None
    value: float | None
    unit: str | None
    problem: str | None  # why the text could not be interpreted


class CatalogMeasureView(View):
    id: int
    key: str
    measure_id: str
    duplicate_id: bool
    name: str
    description: str | None
    target: TargetView
    interpretable: bool
    category: str | None
    service_level_type: str | None
    measure_type: str | None
    performing_org: str | None
    reporting_org: str | None
    accountable_org: str | None
    frequency: str | None
    method: str | None
    formula: str | None
    rationale: str | None
    measurement_source: str | None
    source: str  # the workbook's file name
    sheet: str
    row: int
    updated_at: datetime


class CatalogMeasureDetail(CatalogMeasureView):
    raw: dict[str, Any]  # every cell of the row under its header, as written


def list_catalog(
    session: Session,
    *,
    q: str | None = None,
    category: str | None = None,
    interpretable: bool | None = None,
    limit: int = 50,
    after: list[Any] | None = None,
) -> Slice[CatalogMeasureView]:
    """Measures in import order; `q` searches ID, name and description, case-insensitively."""
    stmt = select(CatalogMeasure, CatalogSource.filename).join(
        CatalogSource, col(CatalogSource.id) == CatalogMeasure.source_id
    )
    if q and q.strip():
        needle = q.strip()
        stmt = stmt.where(
            sa.or_(
                col(CatalogMeasure.measure_id).icontains(needle, autoescape=True),
                col(CatalogMeasure.name).icontains(needle, autoescape=True),
                col(CatalogMeasure.description).icontains(needle, autoescape=True),
            )
        )
    if category is not None:
        # Workbooks pad and vary case ("Customer Facing "), so compare as people read it.
        stmt = stmt.where(
            sa.func.lower(sa.func.trim(col(CatalogMeasure.category))) == category.strip().lower()
        )
    if interpretable is not None:
        problem = col(CatalogMeasure.target_problem)
        stmt = stmt.where(problem.is_(None) if interpretable else problem.is_not(None))
    start = after_int(after)
    if start is not None:
        stmt = stmt.where(col(CatalogMeasure.id) > start)
    rows = list(session.exec(stmt.order_by(col(CatalogMeasure.id)).limit(limit + 1)).all())
    rows, next_after = page_of(rows, limit, lambda r: [r[0].id])
    return Slice([_view(m, filename) for m, filename in rows], next_after)


def catalog_measure(session: Session, measure_id: int) -> CatalogMeasureDetail:
    found = session.exec(
        select(CatalogMeasure, CatalogSource.filename)
        .join(CatalogSource, col(CatalogSource.id) == CatalogMeasure.source_id)
        .where(CatalogMeasure.id == measure_id)
    ).first()
    if found is None:
        raise NotFound("no such catalogue measure")
    measure, filename = found
    return CatalogMeasureDetail(**_view(measure, filename).model_dump(), raw=measure.raw)


def _view(m: CatalogMeasure, filename: str) -> CatalogMeasureView:
    return CatalogMeasureView(
        id=m.id or 0,
        key=m.key,
        measure_id=m.measure_id,
        duplicate_id=m.duplicate_id,
        name=m.name,
        description=m.description,
        target=TargetView(
            text=m.target_text,
            comparator=m.target_comparator,
            value=m.target_value,
            unit=m.target_unit,
            problem=m.target_problem,
        ),
        interpretable=m.target_problem is None,
        category=m.category,
        service_level_type=m.service_level_type,
        measure_type=m.measure_type,
        performing_org=m.performing_org,
        reporting_org=m.reporting_org,
        accountable_org=m.accountable_org,
        frequency=m.frequency,
        method=m.method,
        formula=m.formula,
        rationale=m.rationale,
        measurement_source=m.measurement_source,
        source=filename,
        sheet=m.sheet,
        row=m.row,
        updated_at=m.updated_at,
    )
