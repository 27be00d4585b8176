"""Measured values of an agreement's metrics, and the imports that delivered them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from workflow.models.base import one_of

MEASUREMENT_SOURCES = ("csv", "json")


class MeasurementBatch(SQLModel, table=True):
    """One upload (a JSON batch or a CSV file), its counts, and whether it ran to the end.

    Written when the upload starts and again when it ends: a CSV import commits chunk by
    chunk, so a batch without `finished_at` is one that stopped midway (its committed rows
    stay, as promised: accepted rows are never lost).
    """

    __tablename__ = "measurement_batch"
    __table_args__ = (one_of("source", MEASUREMENT_SOURCES),)

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id", index=True)
    source: str = Field(max_length=10)
    filename: str | None = Field(default=None, max_length=255)
    submitted_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    started_at: datetime
    finished_at: datetime | None = None
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0


class Measurement(SQLModel, table=True):
    """One observation of one metric at one instant; the first value recorded is kept.

    The primary key is the natural key (agreement, metric, instant): it is the uniqueness the
    ingestion relies on and the order every compliance aggregate reads in. PostgreSQL adds
    value and weight to that index (INCLUDE) so a window aggregate is an index-only range
    scan; SQLite stores the table itself in that order (WITHOUT ROWID), which is the same.
    """

    __tablename__ = "measurement"
    __table_args__ = (
        sa.PrimaryKeyConstraint(
            "agreement_id",
            "metric_key",
            "observed_at",
            name="pk_measurement",
            postgresql_include=["value", "weight"],
        ),
        sa.CheckConstraint("weight IS NULL OR weight >= 0", name="ck_measurement_weight"),
        {"sqlite_with_rowid": False},
    )

    agreement_id: int = Field(foreign_key="agreement.id")
    metric_key: str = Field(max_length=80)
    observed_at: datetime
    value: float = Field(sa_type=sa.Double)
    weight: float | None = Field(default=None, sa_type=sa.Double)
    batch_id: int = Field(foreign_key="measurement_batch.id")
    ingested_at: datetime


class MeasurementCorrection(SQLModel, table=True):
    """One correction of one observation: the value it replaced, who set the new one, when and
    why. The observation's history is its first value and these, in order."""

    __tablename__ = "measurement_correction"
    __table_args__ = (
        sa.Index(
            "ix_measurement_correction_observation", "agreement_id", "metric_key", "observed_at"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id")
    metric_key: str = Field(max_length=80)
    observed_at: datetime
    old_value: float = Field(sa_type=sa.Double)
    value: float = Field(sa_type=sa.Double)
    reason: str = Field(max_length=4000)
    corrected_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    corrected_at: datetime
    # Set when the correction came through an accepted amendment of a final report.
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id")
