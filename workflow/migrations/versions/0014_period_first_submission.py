"""reporting_period.first_submitted_at: a late first submission stays flagged

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-03 11:20:00.000000

Existing periods submitted once take their submission time; a period already resubmitted
keeps no record of its first round here (the audit trail has it), so it is not flagged.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "reporting_period",
        sa.Column("first_submitted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )
    op.execute("UPDATE reporting_period SET first_submitted_at = submitted_at WHERE round = 1")


def downgrade() -> None:
    with op.batch_alter_table("reporting_period") as batch:
        batch.drop_column("first_submitted_at")
