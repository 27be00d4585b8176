"""Tasks people must do, and gaps between requirement and capability."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

from states import Role, Side, TaskState
from workflow.models.base import JSONType, one_of, utcnow

TASK_STATES = tuple(TaskState)
GAP_RESOLUTIONS = ("provider_commits", "customer_accepts", "target_adjusted", "waived")
GAP_SEVERITIES = ("low", "medium", "high")


class Task(SQLModel, table=True):
    __tablename__ = "task"
    __table_args__ = (
        one_of("state", TASK_STATES),
        one_of("side", [s.value for s in Side]),
        one_of("role", [r.value for r in Role]),
        sa.Index("ix_task_open_assignee_due", "assignee_id", "state", "due_on"),
        # The approval queue and My tasks: filter and order in one index (keyset pages).
        sa.Index("ix_task_assignee_state_kind_due", "assignee_id", "state", "kind", "due_on", "id"),
        # The agreements list's next deadline: min(due_on) of open tasks per agreement.
        sa.Index("ix_task_agreement_state_due", "agreement_id", "state", "due_on"),
        # The reminder sweep reads only open tasks whose next step is due (or not computed).
        sa.Index(
            "ix_task_open_next_step",
            "next_step_at",
            "id",
            postgresql_where=sa.text("state = 'open'"),
            sqlite_where=sa.text("state = 'open'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id", index=True)
    version_id: int | None = Field(default=None, foreign_key="agreement_version.id", index=True)
    # Set for the tasks of a reporting cycle, which belong to no version.
    period_id: int | None = Field(default=None, foreign_key="reporting_period.id", index=True)
    # Set for the review task of a proposal, which belongs to the proposal alone.
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id", index=True)
    # Set for the approvals of an extension of the period of performance (states.EXTENSION).
    extension_id: int | None = Field(default=None, foreign_key="extension.id", index=True)
    # Set for a quarterly service review's tasks and the action items its minutes opened.
    service_review_id: int | None = Field(default=None, foreign_key="service_review.id", index=True)
    # Set for the steps of a corrective action (`workflow.subjects.corrective_action`).
    corrective_action_id: int | None = Field(
        default=None, foreign_key="corrective_action.id", index=True
    )
    cycle: int = Field(default=1)
    kind: str = Field(max_length=40)
    side: str = Field(max_length=10)
    role: str = Field(max_length=20)
    assignee_id: int | None = Field(default=None, foreign_key="user_account.id")
    title: str = Field(max_length=300)
    detail: str = Field(default="", max_length=4000)
    state: str = Field(default=TaskState.OPEN.value, max_length=10)
    required: bool = True
    due_on: date
    escalation_roles: list[str] = Field(default_factory=list, sa_type=JSONType)
    outcome: str | None = Field(default=None, max_length=40)
    comment: str | None = Field(default=None, max_length=4000)
    completed_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    on_behalf_of_id: int | None = Field(default=None, foreign_key="user_account.id")
    approved_content_hash: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None
    # When the sweep must next look at this open task (UTC); NULL: not computed yet, or its
    # inputs changed (`workflow.commands.sweeps.forget_next_steps`).
    next_step_at: datetime | None = None
    lock_version: int = Field(default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805
        return {"version_id_col": cls.__table__.c.lock_version}  # type: ignore[attr-defined]


class Gap(SQLModel, table=True):
    __tablename__ = "gap"
    __table_args__ = (
        one_of("severity", GAP_SEVERITIES),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN ("
            + ", ".join(f"'{r}'" for r in GAP_RESOLUTIONS)
            + ")",
            name="ck_gap_resolution_allowed",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id", index=True)
    version_id: int = Field(foreign_key="agreement_version.id", index=True)
    metric_key: str = Field(max_length=80)
    source: str = Field(max_length=20)  # computed | measured | manual
    requirement: float | None = None
    capability: float | None = None
    severity: str = Field(max_length=10)
    description: str = Field(max_length=2000)
    resolution: str | None = Field(default=None, max_length=20)
    resolution_note: str | None = Field(default=None, max_length=4000)
    agreed_target: float | None = None
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    resolved_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None
