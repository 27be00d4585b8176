"""governance calendar: calendar slots, extensions, service reviews; task links to them;
the annual review's days before the end per agreement

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-03 10:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_EXTENSION_STATES = "'proposed', 'requested', 'approved', 'rejected'"
_DAYS_RANGE = "annual_review_days_before_end BETWEEN 0 AND 300"
_TASK_LINKS = (("extension_id", "extension"), ("service_review_id", "service_review"))


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
            "ALTER TABLE agreement ADD COLUMN annual_review_days_before_end INTEGER DEFAULT 60 "
            f"NOT NULL CONSTRAINT ck_annual_review_days_range CHECK ({_DAYS_RANGE})"
        )
    else:
        op.add_column(
            "agreement",
            sa.Column(
                "annual_review_days_before_end", sa.Integer(), nullable=False, server_default="60"
            ),
        )
        op.create_check_constraint("ck_annual_review_days_range", "agreement", _DAYS_RANGE)
    op.create_table(
        "calendar_slot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("kind", _text(20), nullable=False),
        sa.Column("slot", _text(10), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("created_at", _moment(), nullable=False),
        sa.CheckConstraint("kind IN ('annual_review', 'renewal_decision')", name="ck_kind_allowed"),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreement.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agreement_id", "kind", "slot", name="uq_calendar_slot"),
    )
    op.create_index("ix_calendar_slot_agreement_id", "calendar_slot", ["agreement_id"])
    op.create_table(
        "extension",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("from_version_id", sa.Integer(), nullable=False),
        sa.Column("new_version_id", sa.Integer(), nullable=True),
        sa.Column("state", _text(20), nullable=False),
        sa.Column("current_end", sa.Date(), nullable=False),
        sa.Column("new_end_date", sa.Date(), nullable=False),
        sa.Column("reason", _text(4000), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("requested_side", _text(10), nullable=False),
        sa.Column("created_at", _moment(), nullable=False),
        sa.Column("state_changed_at", _moment(), nullable=False),
        sa.CheckConstraint(f"state IN ({_EXTENSION_STATES})", name="ck_state_allowed"),
        sa.CheckConstraint(
            "requested_side IN ('customer', 'provider')", name="ck_requested_side_allowed"
        ),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreement.id"]),
        sa.ForeignKeyConstraint(["from_version_id"], ["agreement_version.id"]),
        sa.ForeignKeyConstraint(["new_version_id"], ["agreement_version.id"]),
        sa.ForeignKeyConstraint(["requested_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_extension_agreement_id", "extension", ["agreement_id"])
    op.create_table(
        "service_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("quarter", _text(10), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("state", _text(10), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=True),
        sa.Column("attendees", _JSON, nullable=False),
        sa.Column("decisions", _JSON, nullable=False),
        sa.Column("agenda", _JSON, nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", _moment(), nullable=True),
        sa.Column("created_at", _moment(), nullable=False),
        sa.CheckConstraint("state IN ('open', 'held', 'cancelled')", name="ck_state_allowed"),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreement.id"]),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agreement_id", "quarter", name="uq_service_review_quarter"),
    )
    op.create_index("ix_service_review_agreement_id", "service_review", ["agreement_id"])
    for column, table in _TASK_LINKS:
        name = f"fk_task_{column}_{table}"
        if sqlite:
            op.execute(
                f"ALTER TABLE task ADD COLUMN {column} INTEGER "
                f"CONSTRAINT {name} REFERENCES {table} (id)"
            )
        else:
            op.add_column("task", sa.Column(column, sa.Integer(), nullable=True))
            op.create_foreign_key(name, "task", table, [column], ["id"])
        op.create_index(f"ix_task_{column}", "task", [column])


def downgrade() -> None:
    for column, table in reversed(_TASK_LINKS):
        op.drop_index(f"ix_task_{column}", table_name="task")
        with op.batch_alter_table("task") as batch:
            batch.drop_constraint(f"fk_task_{column}_{table}", type_="foreignkey")
            batch.drop_column(column)
    op.drop_index("ix_service_review_agreement_id", table_name="service_review")
    op.drop_table("service_review")
    op.drop_index("ix_extension_agreement_id", table_name="extension")
    op.drop_table("extension")
    op.drop_index("ix_calendar_slot_agreement_id", table_name="calendar_slot")
    op.drop_table("calendar_slot")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("ck_annual_review_days_range", "agreement", type_="check")
    with op.batch_alter_table("agreement") as batch:
        batch.drop_column("annual_review_days_before_end")
