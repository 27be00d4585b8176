"""reporting periods: the monthly cycle's state, disputes and amendments; period tasks

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 19:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_STATES = "'open', 'submitted', 'disputed', 'resubmitted', 'accepted', 'final'"


_SQLITE_AGREEMENT_COLUMNS = (
    "ALTER TABLE agreement ADD COLUMN reporting_period VARCHAR(10) DEFAULT 'month' NOT NULL "
    "CONSTRAINT ck_reporting_period_allowed CHECK (reporting_period IN ('month', 'quarter'))",
    "ALTER TABLE agreement ADD COLUMN reporting_day INTEGER DEFAULT 10 NOT NULL "
    "CONSTRAINT ck_reporting_day_range CHECK (reporting_day BETWEEN 1 AND 60)",
)


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _moment() -> sqlmodel.sql.sqltypes.UTCDateTime:
    return sqlmodel.sql.sqltypes.UTCDateTime()


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's own ADD COLUMN keeps inline constraints; Alembic would copy the tables,
        # dropping `agreement` while others reference it and foreign keys are enforced.
        op.execute(_SQLITE_AGREEMENT_COLUMNS[0])
        op.execute(_SQLITE_AGREEMENT_COLUMNS[1])
    else:
        op.add_column(
            "agreement",
            sa.Column("reporting_period", _text(10), nullable=False, server_default="month"),
        )
        op.add_column(
            "agreement",
            sa.Column("reporting_day", sa.Integer(), nullable=False, server_default="10"),
        )
        op.create_check_constraint(
            "ck_reporting_period_allowed", "agreement", "reporting_period IN ('month', 'quarter')"
        )
        op.create_check_constraint(
            "ck_reporting_day_range", "agreement", "reporting_day BETWEEN 1 AND 60"
        )
    op.create_table(
        "reporting_period",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("period", _text(10), nullable=False),
        sa.Column("kind", _text(10), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("state", _text(20), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("results", _JSON, nullable=True),
        sa.Column("results_hash", _text(64), nullable=True),
        sa.Column("submitted_at", _moment(), nullable=True),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("final_hash", _text(64), nullable=True),
        sa.Column("finalized_at", _moment(), nullable=True),
        sa.Column("amendments", sa.Integer(), nullable=False),
        sa.Column("state_changed_at", _moment(), nullable=False),
        sa.Column("created_at", _moment(), nullable=False),
        sa.Column("lock_version", sa.Integer(), nullable=False),
        sa.CheckConstraint(f"state IN ({_STATES})", name="ck_state_allowed"),
        sa.CheckConstraint("kind IN ('month', 'quarter')", name="ck_kind_allowed"),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreement.id"]),
        sa.ForeignKeyConstraint(["submitted_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agreement_id", "period", name="uq_reporting_period"),
    )
    op.create_index("ix_reporting_period_agreement_id", "reporting_period", ["agreement_id"])
    op.create_table(
        "period_dispute",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("metric_key", _text(80), nullable=False),
        sa.Column("reason", _text(4000), nullable=False),
        sa.Column("raised_by_id", sa.Integer(), nullable=True),
        sa.Column("raised_at", _moment(), nullable=False),
        sa.Column("answer", _text(4000), nullable=True),
        sa.Column("answered_at", _moment(), nullable=True),
        sa.ForeignKeyConstraint(["period_id"], ["reporting_period.id"]),
        sa.ForeignKeyConstraint(["raised_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_period_dispute_period_id", "period_dispute", ["period_id"])
    op.create_table(
        "period_amendment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("reason", _text(4000), nullable=False),
        sa.Column("results", _JSON, nullable=False),
        sa.Column("content_hash", _text(64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _moment(), nullable=False),
        sa.ForeignKeyConstraint(["period_id"], ["reporting_period.id"]),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("period_id", "number", name="uq_period_amendment"),
    )
    op.create_index("ix_period_amendment_period_id", "period_amendment", ["period_id"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE task ADD COLUMN period_id INTEGER "
            "CONSTRAINT fk_task_period_id_reporting_period REFERENCES reporting_period (id)"
        )
    else:
        op.add_column("task", sa.Column("period_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_task_period_id_reporting_period", "task", "reporting_period", ["period_id"], ["id"]
        )
    op.create_index("ix_task_period_id", "task", ["period_id"])


def downgrade() -> None:
    op.drop_index("ix_task_period_id", table_name="task")
    with op.batch_alter_table("task") as batch:
        batch.drop_constraint("fk_task_period_id_reporting_period", type_="foreignkey")
        batch.drop_column("period_id")
    op.drop_index("ix_period_amendment_period_id", table_name="period_amendment")
    op.drop_table("period_amendment")
    op.drop_index("ix_period_dispute_period_id", table_name="period_dispute")
    op.drop_table("period_dispute")
    op.drop_index("ix_reporting_period_agreement_id", table_name="reporting_period")
    op.drop_table("reporting_period")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("ck_reporting_day_range", "agreement", type_="check")
        op.drop_constraint("ck_reporting_period_allowed", "agreement", type_="check")
    op.drop_column("agreement", "reporting_day")
    op.drop_column("agreement", "reporting_period")
