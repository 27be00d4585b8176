"""notification preferences per topic group; the key that signs email links

Revision ID: 0016
Revises: 0011
Create Date: 2026-12-03 13:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0016"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "notification_preference",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("topic_group", _text(20), nullable=False),
        sa.Column("mode", _text(10), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "topic_group IN ('tasks', 'decisions', 'reports', 'governance')",
            name="ck_topic_group_allowed",
        ),
        sa.CheckConstraint("mode IN ('immediate', 'digest', 'off')", name="ck_mode_allowed"),
        sa.CheckConstraint(
            "NOT (topic_group = 'tasks' AND mode = 'off')", name="ck_tasks_never_off"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "topic_group", name="uq_preference_user_group"),
    )
    op.create_index(
        "ix_notification_preference_user_id", "notification_preference", ["user_id"], unique=False
    )
    op.create_table(
        "notification_link_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret", _text(100), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("notification_link_key")
    op.drop_index("ix_notification_preference_user_id", table_name="notification_preference")
    op.drop_table("notification_preference")
