"""Proposals: an act of one side that takes effect only when the other side accepts it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

from states import PROPOSAL, ProposalKind, Side
from workflow.models.base import JSONType, one_of, utcnow


class Proposal(SQLModel, table=True):
    """What one side proposes (`effect`: what would change, before and after) and the other
    side's decision."""

    __tablename__ = "proposal"
    __table_args__ = (
        one_of("state", PROPOSAL.state_names),
        one_of("kind", [k.value for k in ProposalKind]),
        one_of("proposer_side", [s.value for s in Side]),
        one_of("counterpart_side", [s.value for s in Side]),
    )

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id", index=True)
    kind: str = Field(max_length=30)
    state: str = Field(default=PROPOSAL.initial, max_length=20)
    proposed_by_id: int = Field(foreign_key="user_account.id")
    proposer_side: str = Field(max_length=10)
    counterpart_side: str = Field(max_length=10)
    summary: str = Field(max_length=1000)
    effect: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    decided_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    decided_at: datetime | None = None
    comment: str | None = Field(default=None, max_length=4000)
    created_at: datetime = Field(default_factory=utcnow)
    lock_version: int = Field(default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805
        return {"version_id_col": cls.__table__.c.lock_version}  # type: ignore[attr-defined]
