"""Agreements, their versions and who holds which role on each side."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

from states import (
    DEFAULT_DISPUTE_BUSINESS_DAYS,
    DEFAULT_DISPUTE_ROUNDS,
    LIFECYCLE,
    Role,
    Side,
)
from workflow.models.base import JSONType, one_of, utcnow


class Agreement(SQLModel, table=True):
    __tablename__ = "agreement"
    __table_args__ = (
        sa.CheckConstraint("customer_org_id <> provider_org_id", name="ck_agreement_two_parties"),
        one_of("remedy_policy", ("service_credits", "corrective_action")),
        one_of("reporting_period", ("month", "quarter")),
        sa.CheckConstraint("reporting_day BETWEEN 1 AND 60", name="ck_reporting_day_range"),
        sa.CheckConstraint(
            "annual_review_days_before_end BETWEEN 0 AND 300",
            name="ck_annual_review_days_range",
        ),
        sa.CheckConstraint(
            "chronic_miss_windows BETWEEN 2 AND 24", name="ck_chronic_miss_windows_range"
        ),
        sa.CheckConstraint(
            "dispute_escalation_rounds BETWEEN 1 AND 10", name="ck_dispute_escalation_rounds"
        ),
        sa.CheckConstraint(
            "dispute_escalation_business_days BETWEEN 1 AND 120",
            name="ck_dispute_escalation_days",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=20, sa_column_kwargs={"unique": True})
    title: str = Field(max_length=300)
    customer_org_id: int = Field(foreign_key="organization.id", index=True)
    provider_org_id: int = Field(foreign_key="organization.id", index=True)
    remedy_policy: str = Field(default="corrective_action", max_length=20)
    allow_editor_approval: bool = False
    # The reporting cycle: monthly or quarterly periods, results due on this calendar day
    # after the period ends.
    reporting_period: str = Field(
        default="month", max_length=10, sa_column_kwargs={"server_default": "month"}
    )
    reporting_day: int = Field(default=10, sa_column_kwargs={"server_default": "10"})
    # How many consecutive missed windows of one metric are a chronic miss.
    chronic_miss_windows: int = Field(default=3, sa_column_kwargs={"server_default": "3"})
    # A dispute goes up to both Executive Sponsors after this many rounds, or this many
    # business days after its first round (domain.md, "Joint accountability").
    dispute_escalation_rounds: int = Field(
        default=DEFAULT_DISPUTE_ROUNDS,
        sa_column_kwargs={"server_default": str(DEFAULT_DISPUTE_ROUNDS)},
    )
    dispute_escalation_business_days: int = Field(
        default=DEFAULT_DISPUTE_BUSINESS_DAYS,
        sa_column_kwargs={"server_default": str(DEFAULT_DISPUTE_BUSINESS_DAYS)},
    )
    executive_approval_threshold_pct: Decimal = Field(
        default=Decimal("10"), max_digits=6, decimal_places=2
    )
    # The annual review falls due this many days before the end of each 12 months of the
    # period of performance (domain.md: at least 60, configurable per agreement).
    annual_review_days_before_end: int = Field(
        default=LIFECYCLE.governance.annual_review_days_before_end,
        sa_column_kwargs={
            "server_default": str(LIFECYCLE.governance.annual_review_days_before_end)
        },
    )
    created_by_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow)

    def org_of(self, side: Side) -> int:
        return self.customer_org_id if side is Side.CUSTOMER else self.provider_org_id

    def side_of_org(self, organization_id: int) -> Side | None:
        if organization_id == self.customer_org_id:
            return Side.CUSTOMER
        if organization_id == self.provider_org_id:
            return Side.PROVIDER
        return None


class AgreementKeySequence(SQLModel, table=True):
    """The last number handed out per year, so keys stay dense and never collide."""

    __tablename__ = "agreement_key_sequence"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int = 0


class StakeholderAssignment(SQLModel, table=True):
    __tablename__ = "stakeholder_assignment"
    __table_args__ = (
        sa.UniqueConstraint("agreement_id", "side", "role", name="uq_assignment_role"),
        one_of("side", [s.value for s in Side]),
        one_of("role", [r.value for r in Role]),
    )

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id", index=True)
    side: str = Field(max_length=10)
    role: str = Field(max_length=20)
    user_id: int = Field(foreign_key="user_account.id", index=True)


class AgreementVersion(SQLModel, table=True):
    __tablename__ = "agreement_version"
    __table_args__ = (
        sa.UniqueConstraint("agreement_id", "number", name="uq_version_number"),
        one_of("state", LIFECYCLE.state_names),
        one_of("drafting_side", [s.value for s in Side]),
    )

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id", index=True)
    number: int
    modification_number: int
    state: str = Field(max_length=20, index=True)
    terms: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    metrics: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    content_hash: str = Field(max_length=64)
    lock_version: int = Field(default=1)
    # Bumped each time the version returns to draft; tasks of older cycles no longer count.
    cycle: int = Field(default=1)
    drafting_side: str = Field(max_length=10)
    created_by_id: int = Field(foreign_key="user_account.id")
    last_edited_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow)
    state_changed_at: datetime = Field(default_factory=utcnow)
    activated_at: datetime | None = None

    # Optimistic locking: every UPDATE checks and bumps lock_version on both databases.
    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805
        return {"version_id_col": cls.__table__.c.lock_version}  # type: ignore[attr-defined]

    editable_states: ClassVar[tuple[str, ...]] = ("draft",)
