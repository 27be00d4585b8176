"""proposals: acts the other side accepts; task.proposal_id; excusals can be withdrawn

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 10:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_IN_FORCE = sa.text("withdrawn_at IS NULL")
_SIDES = "'customer', 'provider'"
_KINDS = "'excusal', 'excusal_withdrawal', 'gap_resolution', 'amendment'"
_STATES = "'open', 'accepted', 'rejected', 'withdrawn'"


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _moment() -> sqlmodel.sql.sqltypes.UTCDateTime:
    return sqlmodel.sql.sqltypes.UTCDateTime()


def upgrade() -> None:
    op.create_table(
        "proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("kind", _text(30), nullable=False),
        sa.Column("state", _text(20), nullable=False),
        sa.Column("proposed_by_id", sa.Integer(), nullable=False),
        sa.Column("proposer_side", _text(10), nullable=False),
        sa.Column("counterpart_side", _text(10), nullable=False),
        sa.Column("summary", _text(1000), nullable=False),
        sa.Column("effect", _JSON, nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", _moment(), nullable=True),
        sa.Column("comment", _text(4000), nullable=True),
        sa.Column("created_at", _moment(), nullable=False),
        sa.Column("lock_version", sa.Integer(), nullable=False),
        sa.CheckConstraint(f"state IN ({_STATES})", name="ck_state_allowed"),
        sa.CheckConstraint(f"kind IN ({_KINDS})", name="ck_kind_allowed"),
        sa.CheckConstraint(f"proposer_side IN ({_SIDES})", name="ck_proposer_side_allowed"),
        sa.CheckConstraint(f"counterpart_side IN ({_SIDES})", name="ck_counterpart_side_allowed"),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreement.id"]),
        sa.ForeignKeyConstraint(["proposed_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["decided_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_proposal_agreement_id", "proposal", ["agreement_id"])
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's own ADD COLUMN: Alembic would copy `task`, which others reference.
        op.execute(
            "ALTER TABLE task ADD COLUMN proposal_id INTEGER "
            "CONSTRAINT fk_task_proposal_id_proposal REFERENCES proposal (id)"
        )
    else:
        op.add_column("task", sa.Column("proposal_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_task_proposal_id_proposal", "task", "proposal", ["proposal_id"], ["id"]
        )
    op.create_index("ix_task_proposal_id", "task", ["proposal_id"])
    # Nothing references `excusal`, so SQLite may copy it to drop the old unique constraint.
    with op.batch_alter_table("excusal") as batch:
        batch.drop_constraint("uq_excusal_window", type_="unique")
        batch.add_column(sa.Column("withdrawn_at", _moment(), nullable=True))
        batch.add_column(sa.Column("withdrawn_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_excusal_withdrawn_by_id_user_account", "user_account", ["withdrawn_by_id"], ["id"]
        )
    op.create_index(
        "uq_excusal_window_in_force",
        "excusal",
        ["agreement_id", "metric_key", "window"],
        unique=True,
        postgresql_where=_IN_FORCE,
        sqlite_where=_IN_FORCE,
    )


def downgrade() -> None:
    op.drop_index("uq_excusal_window_in_force", table_name="excusal")
    op.execute("DELETE FROM excusal WHERE withdrawn_at IS NOT NULL")
    with op.batch_alter_table("excusal") as batch:
        batch.drop_constraint("fk_excusal_withdrawn_by_id_user_account", type_="foreignkey")
        batch.drop_column("withdrawn_by_id")
        batch.drop_column("withdrawn_at")
        batch.create_unique_constraint(
            "uq_excusal_window", ["agreement_id", "metric_key", "window"]
        )
    op.drop_index("ix_task_proposal_id", table_name="task")
    with op.batch_alter_table("task") as batch:
        batch.drop_constraint("fk_task_proposal_id_proposal", type_="foreignkey")
        batch.drop_column("proposal_id")
    op.drop_index("ix_proposal_agreement_id", table_name="proposal")
    op.drop_table("proposal")
