"""Append-only records: the audit chain, the outbox and idempotency keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from workflow.models.base import JSONType, one_of, utcnow


class OutboxStatus(StrEnum):
    """An outbox row waits (and is retried) while pending; sent and dead are final."""

    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


OUTBOX_STATES = tuple(OutboxStatus)
# How one person received one outbox message: the To or a Cc of an email, or a share kept
# for their daily digest.
DELIVERY_CHANNELS = ("to", "cc", "digest")


class AuditEvent(SQLModel, table=True):
    """One link of a hash chain; `body` is the canonical JSON the hash covers."""

    __tablename__ = "audit_event"
    __table_args__ = (sa.UniqueConstraint("chain", "seq", name="uq_audit_chain_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    chain: str = Field(max_length=40)
    seq: int
    agreement_id: int | None = Field(default=None, index=True)
    version_id: int | None = None
    actor_id: int | None = None
    on_behalf_of_id: int | None = None
    action: str = Field(max_length=60, index=True)
    occurred_at: datetime
    body: str = Field(sa_type=sa.Text)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditChainHead(SQLModel, table=True):
    """The newest link of each chain: appends lock this row, so chains never fork."""

    __tablename__ = "audit_chain_head"

    chain: str = Field(primary_key=True, max_length=40)
    seq: int = 0
    hash: str = Field(max_length=64)


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"
    __table_args__ = (
        one_of("status", OUTBOX_STATES),
        sa.Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=60)
    dedupe_key: str = Field(max_length=200, sa_column_kwargs={"unique": True})
    agreement_id: int | None = Field(default=None, index=True)
    recipients: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    status: str = Field(default=OutboxStatus.PENDING.value, max_length=10)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    # Set by the database's clock when a dispatcher claims the row; another dispatcher may
    # take the row over only after it, whatever `now` that one was started with.
    leased_until: datetime | None = None
    last_error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class NotificationDelivery(SQLModel, table=True):
    """One person served by one outbox message, recorded once: a resend skips them.

    A digest share (`channel` "digest") waits until `digest_key` names the digest row that
    carried it.
    """

    __tablename__ = "notification_delivery"
    __table_args__ = (
        sa.UniqueConstraint("outbox_id", "user_id", name="uq_delivery_outbox_user"),
        one_of("channel", DELIVERY_CHANNELS),
        sa.Index("ix_delivery_digest_pending", "channel", "digest_key", "recorded_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox_message.id")
    user_id: int = Field(foreign_key="user_account.id", index=True)
    channel: str = Field(max_length=10)
    reason: str = Field(max_length=20)
    recorded_at: datetime
    digest_key: str | None = Field(default=None, max_length=200)


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (sa.UniqueConstraint("user_id", "key", name="uq_idempotency_user_key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id")
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status_code: int | None = None
    response_body: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow)


class JobRun(SQLModel, table=True):
    """The last run of each scheduler job, from whichever process ran it: how operators (and
    the `accord_job_last_success` metric) see that the scheduler is alive."""

    __tablename__ = "job_run"

    job: str = Field(primary_key=True, max_length=40)
    last_started_at: datetime
    last_finished_at: datetime
    last_success_at: datetime | None = None
    last_outcome: str = Field(max_length=10)  # "ok" or "failed"
    last_duration_ms: float = 0.0
    last_summary: str = Field(default="", max_length=500)
    runs: int = 0


class SweepBasis(SQLModel, table=True):
    """What the stored `task.next_step_at` moments were computed with (reminder policy, time
    zone, holiday data); when it changes, the sweep forgets them all (workflow.next_steps)."""

    __tablename__ = "sweep_basis"

    id: int = Field(default=1, primary_key=True)
    fingerprint: str = Field(max_length=64)
