"""Corrective actions (one per miss and side charged) and chronic misses of one metric."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

from states import CORRECTIVE_ACTIONS, Side
from workflow.models.base import JSONType, one_of, utcnow

CHRONIC_MISS_STATES = ("open", "on_agenda", "closed")


class CorrectiveAction(SQLModel, table=True):
    """The plan and its progress; `history` keeps each step with its comment."""

    __tablename__ = "corrective_action"
    __table_args__ = (
        one_of("state", CORRECTIVE_ACTIONS.state_names),
        one_of("side", [s.value for s in Side]),
        # A miss charged to a side has one action, however often its report is amended.
        sa.UniqueConstraint(
            "agreement_id", "metric_key", "window", "side", name="uq_corrective_action_miss"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id", index=True)
    period_id: int = Field(foreign_key="reporting_period.id", index=True)
    metric_key: str = Field(max_length=80)
    window: str = Field(max_length=10)  # 2027-01 or 2027-Q1
    side: str = Field(max_length=10)  # the side that owns the action: the one charged
    target: float | None = None
    actual: float | None = None
    state: str = Field(default=CORRECTIVE_ACTIONS.initial, max_length=20)
    root_cause: str | None = Field(default=None, max_length=4000)
    # [{description, owner_id, due_on}], due_on an ISO date
    actions: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    target_date: date | None = None
    # [{event, from_state, to_state, actor_id, on_behalf_of_id, at, comment}]
    history: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    cancel_reason: str | None = Field(default=None, max_length=4000)
    created_at: datetime = Field(default_factory=utcnow)
    state_changed_at: datetime = Field(default_factory=utcnow)
    lock_version: int = Field(default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805
        return {"version_id_col": cls.__table__.c.lock_version}  # type: ignore[attr-defined]


class ChronicMiss(SQLModel, table=True):
    """A run of consecutive missed windows of one metric, escalated once per run."""

    __tablename__ = "chronic_miss"
    __table_args__ = (
        one_of("state", CHRONIC_MISS_STATES),
        # A run is known by its first window: a fourth miss extends it, never re-escalates.
        sa.UniqueConstraint(
            "agreement_id", "metric_key", "first_window", name="uq_chronic_miss_run"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id", index=True)
    metric_key: str = Field(max_length=80)
    first_window: str = Field(max_length=10)
    windows: list[str] = Field(default_factory=list, sa_type=JSONType)
    detected_at: datetime = Field(default_factory=utcnow)
    # open: waiting for a service review; on_agenda: a review lists it; closed: dealt with
    state: str = Field(default="open", max_length=10)
