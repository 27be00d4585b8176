"""The metric catalogue: imported FIBF workbooks and the service measures they hold."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from workflow.models.base import JSONType, utcnow

# How a parsed target compares a measurement with its value; NULL when the text gave none.
COMPARATORS = (">=", ">", "<=", "<", "=")


class CatalogSource(SQLModel, table=True):
    """One imported workbook; importing it again updates its measures in place."""

    __tablename__ = "catalog_source"

    id: int | None = Field(default=None, primary_key=True)
    filename: str = Field(max_length=255, sa_column_kwargs={"unique": True})
    content_sha256: str = Field(max_length=64, index=True)
    # Per sheet: its header row and measure count, or why it was skipped.
    sheets: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    imported_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    imported_at: datetime = Field(default_factory=utcnow)


class CatalogMeasure(SQLModel, table=True):
    """One measure row of a workbook, with its target both as written and as parsed."""

    __tablename__ = "catalog_measure"
    __table_args__ = (
        # `key` is the measure ID, plus a name fingerprint where the workbook reuses the ID.
        sa.UniqueConstraint("source_id", "key", name="uq_catalog_measure_key"),
        sa.CheckConstraint(
            "target_comparator IS NULL OR target_comparator IN "
            + "("
            + ", ".join(f"'{c}'" for c in COMPARATORS)
            + ")",
            name="ck_target_comparator_allowed",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="catalog_source.id", index=True)
    key: str = Field(max_length=120)
    measure_id: str = Field(max_length=80, index=True)
    duplicate_id: bool = False
    sheet: str = Field(max_length=100)
    row: int
    name: str = Field(max_length=500)
    description: str | None = Field(default=None, sa_type=sa.Text)
    category: str | None = Field(default=None, max_length=200, index=True)
    service_level_type: str | None = Field(default=None, max_length=200)
    measure_type: str | None = Field(default=None, max_length=200)
    performing_org: str | None = Field(default=None, sa_type=sa.Text)
    reporting_org: str | None = Field(default=None, sa_type=sa.Text)
    accountable_org: str | None = Field(default=None, sa_type=sa.Text)
    frequency: str | None = Field(default=None, sa_type=sa.Text)
    method: str | None = Field(default=None, sa_type=sa.Text)
    formula: str | None = Field(default=None, sa_type=sa.Text)
    rationale: str | None = Field(default=None, sa_type=sa.Text)
    measurement_source: str | None = Field(default=None, sa_type=sa.Text)
    target_text: str = Field(default="", sa_type=sa.Text)
    target_comparator: str | None = Field(default=None, max_length=2)
    target_value: float | None = None
    target_unit: str | None = Field(default=None, max_length=40)
    # Why the target could not be read; NULL exactly when it was.
    target_problem: str | None = Field(default=None, max_length=300)
    # Every cell of the row under its header as written, so nothing of the workbook is lost.
    raw: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    fingerprint: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
