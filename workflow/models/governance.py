"""The governance calendar's records: which recurring work was opened, extensions of the period
of performance, and quarterly service reviews with their minutes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from states import EXTENSION, Side
from workflow.models.base import JSONType, one_of, utcnow

CALENDAR_KINDS = ("annual_review", "renewal_decision")
SERVICE_REVIEW_STATES = ("open", "held", "cancelled")


class CalendarSlot(SQLModel, table=True):
    """One occurrence of recurring governance work, opened once per agreement and slot.

    `slot` names the occurrence independently of versions: the first day of the 12 months an
    annual review covers, or the end date a renewal decision is about (an extension moves the
    end, so the new end gets its own decision).
    """

    __tablename__ = "calendar_slot"
    __table_args__ = (
        one_of("kind", CALENDAR_KINDS),
        sa.UniqueConstraint("agreement_id", "kind", "slot", name="uq_calendar_slot"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id", index=True)
    kind: str = Field(max_length=20)
    slot: str = Field(max_length=10)
    due_on: date
    created_at: datetime = Field(default_factory=utcnow)


class Extension(SQLModel, table=True):
    """A request to move the end of the period of performance (machine `states.EXTENSION`)."""

    __tablename__ = "extension"
    __table_args__ = (
        one_of("state", EXTENSION.state_names),
        one_of("requested_side", [s.value for s in Side]),
    )

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id", index=True)
    # The version whose end it moves (active or expired), and the version it brought into force.
    from_version_id: int = Field(foreign_key="agreement_version.id")
    new_version_id: int | None = Field(default=None, foreign_key="agreement_version.id")
    state: str = Field(max_length=20)
    current_end: date
    new_end_date: date
    reason: str = Field(max_length=4000)
    requested_by_id: int = Field(foreign_key="user_account.id")
    requested_side: str = Field(max_length=10)
    created_at: datetime = Field(default_factory=utcnow)
    state_changed_at: datetime = Field(default_factory=utcnow)


class ServiceReview(SQLModel, table=True):
    """One quarter's joint service review and, once held, its minutes."""

    __tablename__ = "service_review"
    __table_args__ = (
        one_of("state", SERVICE_REVIEW_STATES),
        sa.UniqueConstraint("agreement_id", "quarter", name="uq_service_review_quarter"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id", index=True)
    quarter: str = Field(max_length=10)  # the quarter reviewed: 2026-Q4
    first_day: date  # of what is reviewed (from the first activation in the first quarter)
    last_day: date
    state: str = Field(default="open", max_length=10)
    held_on: date | None = None
    attendees: list[int] = Field(default_factory=list, sa_type=JSONType)
    decisions: list[str] = Field(default_factory=list, sa_type=JSONType)
    # The agenda as it stood when the minutes were recorded (an open review shows it live).
    agenda: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    recorded_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    recorded_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
