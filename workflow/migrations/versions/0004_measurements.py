"""measurements: observed values of metrics, and the uploads that delivered them

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-09 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "measurement_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.CheckConstraint("source IN ('csv', 'json')", name="ck_source_allowed"),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreement.id"]),
        sa.ForeignKeyConstraint(["submitted_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("measurement_batch", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_measurement_batch_agreement_id"), ["agreement_id"], unique=False
        )

    # The natural key is the primary key and the aggregation index at once: on PostgreSQL
    # it carries value and weight (index-only window scans), on SQLite the table is stored
    # in its order (WITHOUT ROWID).
    op.create_table(
        "measurement",
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("metric_key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("observed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("weight", sa.Double(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("ingested_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint("weight IS NULL OR weight >= 0", name="ck_measurement_weight"),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreement.id"]),
        sa.ForeignKeyConstraint(["batch_id"], ["measurement_batch.id"]),
        sa.PrimaryKeyConstraint(
            "agreement_id",
            "metric_key",
            "observed_at",
            name="pk_measurement",
            postgresql_include=["value", "weight"],
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("measurement")
    with op.batch_alter_table("measurement_batch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_measurement_batch_agreement_id"))
    op.drop_table("measurement_batch")
