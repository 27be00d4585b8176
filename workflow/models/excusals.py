"""Excusals: a missed metric-window attributed to a party, with a reason."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from workflow.models.base import one_of, utcnow

EXCUSAL_PARTIES = ("customer", "provider", "third_party")
IN_FORCE = sa.text("withdrawn_at IS NULL")


class Excusal(SQLModel, table=True):
    """At most one in force per (agreement, metric, window label); applies only if the window
    missed. A withdrawn excusal stays on record and counts no more; another may follow it."""

    __tablename__ = "excusal"
    __table_args__ = (
        one_of("party", EXCUSAL_PARTIES),
        sa.Index(
            "uq_excusal_window_in_force",
            "agreement_id",
            "metric_key",
            "window",
            unique=True,
            postgresql_where=IN_FORCE,
            sqlite_where=IN_FORCE,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id")
    metric_key: str = Field(max_length=80)
    window: str = Field(max_length=10)  # 2027-01 or 2027-Q1
    party: str = Field(max_length=20)
    reason: str = Field(max_length=4000)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow)
    withdrawn_at: datetime | None = None
    withdrawn_by_id: int | None = Field(default=None, foreign_key="user_account.id")
