"""task.next_step_at (partial index on open tasks) and sweep_basis; task queue indexes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 07:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("state = 'open'")


def upgrade() -> None:
    # A nullable column without a default: a plain ADD COLUMN on both databases (no table copy).
    op.add_column(
        "task", sa.Column("next_step_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
    )
    op.create_index(
        "ix_task_open_next_step",
        "task",
        ["next_step_at", "id"],
        postgresql_where=_OPEN,
        sqlite_where=_OPEN,
    )
    op.create_index(
        "ix_task_assignee_state_kind_due", "task", ["assignee_id", "state", "kind", "due_on", "id"]
    )
    op.create_index("ix_task_agreement_state_due", "task", ["agreement_id", "state", "due_on"])
    op.create_table(
        "sweep_basis",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("sweep_basis")
    op.drop_index("ix_task_agreement_state_due", table_name="task")
    op.drop_index("ix_task_assignee_state_kind_due", table_name="task")
    op.drop_index("ix_task_open_next_step", table_name="task")
    with op.batch_alter_table("task") as batch:
        batch.drop_column("next_step_at")
