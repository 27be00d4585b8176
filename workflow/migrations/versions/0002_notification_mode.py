"""notification mode per user; per-recipient deliveries of outbox messages

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN with an inline CHECK, on both databases: a batch "move and copy" of
    # user_account would drop and recreate a table every other table refers to.
    op.execute(
        "ALTER TABLE user_account ADD COLUMN notification_mode VARCHAR(10) "
        "DEFAULT 'immediate' NOT NULL "
        "CONSTRAINT ck_notification_mode_allowed "
        "CHECK (notification_mode IN ('immediate', 'digest'))"
    )
    op.create_table(
        "notification_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("recorded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("digest_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.CheckConstraint("channel IN ('to', 'cc', 'digest')", name="ck_channel_allowed"),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox_message.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("outbox_id", "user_id", name="uq_delivery_outbox_user"),
    )
    with op.batch_alter_table("notification_delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_delivery_digest_pending", ["channel", "digest_key", "recorded_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notification_delivery_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notification_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_delivery_user_id"))
        batch_op.drop_index("ix_delivery_digest_pending")
    op.drop_table("notification_delivery")
    # SQLite (3.35+) drops a column together with its own column CHECK constraint.
    op.execute("ALTER TABLE user_account DROP COLUMN notification_mode")
