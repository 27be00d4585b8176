"""observation corrections with history; disputes that escalate; acceptance with exceptions

Revision ID: 0015
Revises: 0016
Create Date: 2026-12-03 13:45:00.000000

Adds `measurement_correction` (every value an observation had), `period_exception` (metrics
accepted with an exception, open until a service review), the period's previous round and its
dispute counts, the agreement's escalation settings, and the `escalated` period state.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_OLD_STATES = "'open', 'submitted', 'disputed', 'resubmitted', 'accepted', 'final'"
_NEW_STATES = "'open', 'submitted', 'disputed', 'resubmitted', 'escalated', 'accepted', 'final'"
_ROUNDS = "dispute_escalation_rounds BETWEEN 1 AND 10"
_DAYS = "dispute_escalation_business_days BETWEEN 1 AND 120"


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _moment() -> sqlmodel.sql.sqltypes.UTCDateTime:
    return sqlmodel.sql.sqltypes.UTCDateTime()


def _period_states(old: str, new: str) -> None:
    """Swap the allowed period states. SQLite cannot alter a CHECK, and copying the table
    (what Alembic's batch mode does) would drop a table others reference while foreign keys
    are enforced; its documented alternative for a change that leaves stored rows valid is to
    edit the table's definition and bump the schema version, in the same transaction."""
    if op.get_bind().dialect.name == "sqlite":
        version = op.get_bind().exec_driver_sql("PRAGMA schema_version").scalar()
        op.execute("PRAGMA writable_schema = ON")
        op.get_bind().execute(
            sa.text(
                "UPDATE sqlite_master SET sql = replace(sql, :old, :new) "
                "WHERE type = 'table' AND name = 'reporting_period'"
            ),
            {"old": old, "new": new},
        )
        op.execute(f"PRAGMA schema_version = {int(version or 0) + 1}")
        op.execute("PRAGMA writable_schema = OFF")
    else:
        op.drop_constraint("ck_state_allowed", "reporting_period", type_="check")
        op.create_check_constraint("ck_state_allowed", "reporting_period", f"state IN ({new})")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # As in 0011: SQLite's own ADD COLUMN keeps inline constraints without copying.
        op.execute(
            "ALTER TABLE agreement ADD COLUMN dispute_escalation_rounds INTEGER DEFAULT 2 "
            f"NOT NULL CONSTRAINT ck_dispute_escalation_rounds CHECK ({_ROUNDS})"
        )
        op.execute(
            "ALTER TABLE agreement ADD COLUMN dispute_escalation_business_days INTEGER "
            f"DEFAULT 15 NOT NULL CONSTRAINT ck_dispute_escalation_days CHECK ({_DAYS})"
        )
    else:
        op.add_column(
            "agreement",
            sa.Column(
                "dispute_escalation_rounds", sa.Integer(), nullable=False, server_default="2"
            ),
        )
        op.add_column(
            "agreement",
            sa.Column(
                "dispute_escalation_business_days",
                sa.Integer(),
                nullable=False,
                server_default="15",
            ),
        )
        op.create_check_constraint("ck_dispute_escalation_rounds", "agreement", _ROUNDS)
        op.create_check_constraint("ck_dispute_escalation_days", "agreement", _DAYS)
    op.add_column("reporting_period", sa.Column("previous_results", _JSON, nullable=True))
    op.add_column(
        "reporting_period",
        sa.Column("dispute_rounds", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("reporting_period", sa.Column("disputed_since", _moment(), nullable=True))
    op.add_column(
        "reporting_period",
        sa.Column("escalations", sa.Integer(), nullable=False, server_default="0"),
    )
    _period_states(_OLD_STATES, _NEW_STATES)
    op.create_table(
        "measurement_correction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("metric_key", _text(80), nullable=False),
        sa.Column("observed_at", _moment(), nullable=False),
        sa.Column("old_value", sa.Double(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("reason", _text(4000), nullable=False),
        sa.Column("corrected_by_id", sa.Integer(), nullable=True),
        sa.Column("corrected_at", _moment(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreement.id"]),
        sa.ForeignKeyConstraint(["corrected_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["proposal_id"], ["proposal.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_measurement_correction_observation",
        "measurement_correction",
        ["agreement_id", "metric_key", "observed_at"],
    )
    op.create_table(
        "period_exception",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("metric_key", _text(80), nullable=False),
        sa.Column("reason", _text(4000), nullable=False),
        sa.Column("raised_by_id", sa.Integer(), nullable=True),
        sa.Column("raised_at", _moment(), nullable=False),
        sa.Column("state", _text(10), nullable=False),
        sa.Column("closed_by_review_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", _moment(), nullable=True),
        sa.CheckConstraint("state IN ('open', 'closed')", name="ck_state_allowed"),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreement.id"]),
        sa.ForeignKeyConstraint(["period_id"], ["reporting_period.id"]),
        sa.ForeignKeyConstraint(["raised_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["closed_by_review_id"], ["service_review.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("period_id", "metric_key", name="uq_period_exception"),
    )
    op.create_index("ix_period_exception_agreement_id", "period_exception", ["agreement_id"])
    op.create_index("ix_period_exception_period_id", "period_exception", ["period_id"])


def downgrade() -> None:
    op.drop_index("ix_period_exception_period_id", table_name="period_exception")
    op.drop_index("ix_period_exception_agreement_id", table_name="period_exception")
    op.drop_table("period_exception")
    op.drop_index("ix_measurement_correction_observation", table_name="measurement_correction")
    op.drop_table("measurement_correction")
    op.execute("UPDATE reporting_period SET state = 'disputed' WHERE state = 'escalated'")
    _period_states(_NEW_STATES, _OLD_STATES)
    with op.batch_alter_table("reporting_period") as batch:
        batch.drop_column("escalations")
        batch.drop_column("disputed_since")
        batch.drop_column("dispute_rounds")
        batch.drop_column("previous_results")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("ck_dispute_escalation_days", "agreement", type_="check")
        op.drop_constraint("ck_dispute_escalation_rounds", "agreement", type_="check")
    op.drop_column("agreement", "dispute_escalation_business_days")
    op.drop_column("agreement", "dispute_escalation_rounds")
