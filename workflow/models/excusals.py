"""Excusals: a missed metric-window attributed to a party, with a reason."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from workflow.models.base import one_of, utcnow

EXCUSAL_PARTIES = ("customer", "provider", "third_party")


class Excusal(SQLModel, table=True):
    """At most one per (agreement, metric, window label); applies only if the window missed."""

    __tablename__ = "excusal"
    __table_args__ = (
        one_of("party", EXCUSAL_PARTIES),
        sa.UniqueConstraint("agreement_id", "metric_key", "window", name="uq_excusal_window"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id")
    metric_key: str = Field(max_length=80)
    window: str = Field(max_length=10)  # 2027-01 or 2027-Q1
    party: str = Field(max_length=20)
    reason: str = Field(max_length=4000)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow)
