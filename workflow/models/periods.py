"""Reporting periods: one reporting cycle per agreement and month (or quarter)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

from states import REPORTING
from workflow.models.base import JSONType, one_of, utcnow

PERIOD_KINDS = ("month", "quarter")


class ReportingPeriod(SQLModel, table=True):
    __tablename__ = "reporting_period"
    __table_args__ = (
        one_of("state", REPORTING.state_names),
        one_of("kind", PERIOD_KINDS),
        sa.UniqueConstraint("agreement_id", "period", name="uq_reporting_period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id", index=True)
    period: str = Field(max_length=10)  # 2027-01 or 2027-Q1, as compliance windows are named
    kind: str = Field(max_length=10)
    first_day: date
    last_day: date
    state: str = Field(default=REPORTING.initial, max_length=20)
    due_on: date  # the reporting day
    round: int = Field(default=0)  # how many times results were submitted
    results: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    results_hash: str | None = Field(default=None, max_length=64)
    # The round before the newest: a resubmission shows, per disputed metric, old → new.
    previous_results: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    # Dispute rounds and the first dispute's time since the dispute began (or the Sponsors
    # last sent it back): what escalation to the Executive Sponsors counts.
    dispute_rounds: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    disputed_since: datetime | None = None
    escalations: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    submitted_at: datetime | None = None
    # The first round's submission: a late one is flagged (`late`) whatever the later rounds.
    first_submitted_at: datetime | None = None
    submitted_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    final_hash: str | None = Field(default=None, max_length=64)
    finalized_at: datetime | None = None
    amendments: int = Field(default=0)
    state_changed_at: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow)
    lock_version: int = Field(default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805
        return {"version_id_col": cls.__table__.c.lock_version}  # type: ignore[attr-defined]


class PeriodDispute(SQLModel, table=True):
    """One disputed metric of one submission round, and the provider's answer to it."""

    __tablename__ = "period_dispute"

    id: int | None = Field(default=None, primary_key=True)
    period_id: int = Field(foreign_key="reporting_period.id", index=True)
    round: int
    metric_key: str = Field(max_length=80)
    reason: str = Field(max_length=4000)
    raised_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    raised_at: datetime = Field(default_factory=utcnow)
    answer: str | None = Field(default=None, max_length=4000)
    answered_at: datetime | None = None


class PeriodAmendment(SQLModel, table=True):
    """A correction of a final report: the whole recomputed report, never an edit in place."""

    __tablename__ = "period_amendment"
    __table_args__ = (sa.UniqueConstraint("period_id", "number", name="uq_period_amendment"),)

    id: int | None = Field(default=None, primary_key=True)
    period_id: int = Field(foreign_key="reporting_period.id", index=True)
    number: int
    reason: str = Field(max_length=4000)
    results: dict[str, Any] = Field(sa_type=JSONType)
    content_hash: str = Field(max_length=64)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow)


EXCEPTION_STATES = ("open", "closed")


class PeriodException(SQLModel, table=True):
    """A metric the customer still disputed when it accepted the period "with exceptions":
    open until a service review's minutes close it."""

    __tablename__ = "period_exception"
    __table_args__ = (
        one_of("state", EXCEPTION_STATES),
        sa.UniqueConstraint("period_id", "metric_key", name="uq_period_exception"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id", index=True)
    period_id: int = Field(foreign_key="reporting_period.id", index=True)
    metric_key: str = Field(max_length=80)
    reason: str = Field(max_length=4000)
    raised_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    raised_at: datetime = Field(default_factory=utcnow)
    state: str = Field(default="open", max_length=10)
    closed_by_review_id: int | None = Field(default=None, foreign_key="service_review.id")
    closed_at: datetime | None = None
