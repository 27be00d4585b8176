"""metric catalogue: imported FIBF workbooks and their service measures

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("content_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "sheets",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("imported_by_id", sa.Integer(), nullable=True),
        sa.Column("imported_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["imported_by_id"],
            ["user_account.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("filename"),
    )
    with op.batch_alter_table("catalog_source", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_source_content_sha256"), ["content_sha256"], unique=False
        )

    op.create_table(
        "catalog_measure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("measure_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("duplicate_id", sa.Boolean(), nullable=False),
        sa.Column("sheet", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column(
            "service_level_type", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
        ),
        sa.Column("measure_type", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("performing_org", sa.Text(), nullable=True),
        sa.Column("reporting_org", sa.Text(), nullable=True),
        sa.Column("accountable_org", sa.Text(), nullable=True),
        sa.Column("frequency", sa.Text(), nullable=True),
        sa.Column("method", sa.Text(), nullable=True),
        sa.Column("formula", sa.Text(), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.Column("measurement_source", sa.Text(), nullable=True),
        sa.Column("target_text", sa.Text(), nullable=False),
        sa.Column("target_comparator", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("target_value", sa.Float(), nullable=True),
        sa.Column("target_unit", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("target_problem", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "target_comparator IS NULL OR target_comparator IN ('>=', '>', '<=', '<', '=')",
            name="ck_target_comparator_allowed",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["catalog_source.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "key", name="uq_catalog_measure_key"),
    )
    with op.batch_alter_table("catalog_measure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_measure_category"), ["category"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_catalog_measure_measure_id"), ["measure_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_catalog_measure_source_id"), ["source_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("catalog_measure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_measure_source_id"))
        batch_op.drop_index(batch_op.f("ix_catalog_measure_measure_id"))
        batch_op.drop_index(batch_op.f("ix_catalog_measure_category"))

    op.drop_table("catalog_measure")
    with op.batch_alter_table("catalog_source", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_source_content_sha256"))

    op.drop_table("catalog_source")
