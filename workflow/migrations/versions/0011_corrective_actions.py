"""corrective action plans, chronic misses; task.corrective_action_id, agreement threshold

Revision ID: 0011
Revises: 0014
Create Date: 2026-12-03 10:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_STATES = "'open', 'plan_submitted', 'in_progress', 'completed', 'closed', 'cancelled'"
_THRESHOLD = "chronic_miss_windows BETWEEN 2 AND 24"


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _moment() -> sqlmodel.sql.sqltypes.UTCDateTime:
    return sqlmodel.sql.sqltypes.UTCDateTime()


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # SQLite's own ADD COLUMN keeps inline constraints; Alembic would copy the table,
        # dropping `agreement` while others reference it and foreign keys are enforced.
        op.execute(
            "ALTER TABLE agreement ADD COLUMN chronic_miss_windows INTEGER DEFAULT 3 NOT NULL "
            f"CONSTRAINT ck_chronic_miss_windows_range CHECK ({_THRESHOLD})"
        )
    else:
        op.add_column(
            "agreement",
            sa.Column("chronic_miss_windows", sa.Integer(), nullable=False, server_default="3"),
        )
        op.create_check_constraint("ck_chronic_miss_windows_range", "agreement", _THRESHOLD)
    op.create_table(
        "corrective_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("metric_key", _text(80), nullable=False),
        sa.Column("window", _text(10), nullable=False),
        sa.Column("side", _text(10), nullable=False),
        sa.Column("target", sa.Float(), nullable=True),
        sa.Column("actual", sa.Float(), nullable=True),
        sa.Column("state", _text(20), nullable=False),
        sa.Column("root_cause", _text(4000), nullable=True),
        sa.Column("actions", _JSON, nullable=False),
        sa.Column("target_date", sa.Date(), nullable=True),
        sa.Column("history", _JSON, nullable=False),
        sa.Column("cancel_reason", _text(4000), nullable=True),
        sa.Column("created_at", _moment(), nullable=False),
        sa.Column("state_changed_at", _moment(), nullable=False),
        sa.Column("lock_version", sa.Integer(), nullable=False),
        sa.CheckConstraint(f"state IN ({_STATES})", name="ck_state_allowed"),
        sa.CheckConstraint("side IN ('customer', 'provider')", name="ck_side_allowed"),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreement.id"]),
        sa.ForeignKeyConstraint(["period_id"], ["reporting_period.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "agreement_id", "metric_key", "window", "side", name="uq_corrective_action_miss"
        ),
    )
    op.create_index("ix_corrective_action_agreement_id", "corrective_action", ["agreement_id"])
    op.create_index("ix_corrective_action_period_id", "corrective_action", ["period_id"])
    op.create_table(
        "chronic_miss",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("metric_key", _text(80), nullable=False),
        sa.Column("first_window", _text(10), nullable=False),
        sa.Column("windows", _JSON, nullable=False),
        sa.Column("detected_at", _moment(), nullable=False),
        sa.Column("state", _text(10), nullable=False),
        sa.CheckConstraint("state IN ('open', 'on_agenda', 'closed')", name="ck_state_allowed"),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreement.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "agreement_id", "metric_key", "first_window", name="uq_chronic_miss_run"
        ),
    )
    op.create_index("ix_chronic_miss_agreement_id", "chronic_miss", ["agreement_id"])
    if sqlite:
        op.execute(
            "ALTER TABLE task ADD COLUMN corrective_action_id INTEGER CONSTRAINT "
            "fk_task_corrective_action_id_corrective_action REFERENCES corrective_action (id)"
        )
    else:
        op.add_column("task", sa.Column("corrective_action_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_task_corrective_action_id_corrective_action",
            "task",
            "corrective_action",
            ["corrective_action_id"],
            ["id"],
        )
    op.create_index("ix_task_corrective_action_id", "task", ["corrective_action_id"])


def downgrade() -> None:
    op.drop_index("ix_task_corrective_action_id", table_name="task")
    with op.batch_alter_table("task") as batch:
        batch.drop_constraint("fk_task_corrective_action_id_corrective_action", type_="foreignkey")
        batch.drop_column("corrective_action_id")
    op.drop_index("ix_chronic_miss_agreement_id", table_name="chronic_miss")
    op.drop_table("chronic_miss")
    op.drop_index("ix_corrective_action_period_id", table_name="corrective_action")
    op.drop_index("ix_corrective_action_agreement_id", table_name="corrective_action")
    op.drop_table("corrective_action")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("ck_chronic_miss_windows_range", "agreement", type_="check")
    op.drop_column("agreement", "chronic_miss_windows")
