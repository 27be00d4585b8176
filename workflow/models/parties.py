"""Organisations, users, API tokens and delegations."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from workflow.models.base import one_of, utcnow

# How a user receives notifications: each as it happens, or one email a day.
NOTIFICATION_MODES = ("immediate", "digest")
# An auditor reads the audit trail, read-only: of their organisation's agreements, or of all.
AUDITOR_SCOPES = ("organization", "global")
# What an account link lets its holder do once: accept an invitation, or reset a password.
LINK_PURPOSES = ("invitation", "reset")


class Organization(SQLModel, table=True):
    __tablename__ = "organization"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, sa_column_kwargs={"unique": True})
    holiday_calendar: str = Field(default="US", max_length=40)
    created_at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    __tablename__ = "user_account"
    __table_args__ = (
        one_of("notification_mode", NOTIFICATION_MODES),
        one_of("auditor_scope", AUDITOR_SCOPES),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, sa_column_kwargs={"unique": True})
    name: str = Field(max_length=200)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    is_admin: bool = False
    is_active: bool = True
    notification_mode: str = Field(
        default="immediate", max_length=10, sa_column_kwargs={"server_default": "immediate"}
    )
    # argon2id; None means the person signs in only with API tokens.
    password_hash: str | None = Field(default=None, max_length=200)
    # None: not an auditor (an admin reads every trail anyway).
    auditor_scope: str | None = Field(default=None, max_length=20)
    created_at: datetime = Field(default_factory=utcnow)


class LoginAttempt(SQLModel, table=True):
    """One sign-in try; recent failures per email and per address throttle guessing."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        sa.Index("ix_login_attempt_email_at", "email", "attempted_at"),
        sa.Index("ix_login_attempt_address_at", "address", "attempted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320)
    address: str = Field(max_length=64)
    succeeded: bool
    attempted_at: datetime = Field(default_factory=utcnow)


class WebSession(SQLModel, table=True):
    """A signed-in browser; the cookie carries the token, only its hash is kept here.

    Kept server-side so that signing out (or a password change) really ends the session,
    which a self-contained signed cookie cannot do before it expires.
    """

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    # SHA-256 is enough: tokens carry 256 random bits, so there is nothing to brute-force.
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    prefix: str = Field(max_length=16)
    name: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    expires_at: datetime | None = None  # None: valid until revoked
    # Written at most once a minute per token, so busy clients do not turn reads into writes.
    last_used_at: datetime | None = None


class AccountLink(SQLModel, table=True):
    """An emailed link that sets a password once: an invitation or a reset.

    Only the hash of the link's random token is kept; a link is refused once used, once
    expired, and once a newer link of the same purpose was sent to the same person.
    """

    __tablename__ = "account_link"
    __table_args__ = (one_of("purpose", LINK_PURPOSES),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    purpose: str = Field(max_length=20)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
    superseded_at: datetime | None = None


class Delegation(SQLModel, table=True):
    __tablename__ = "delegation"
    __table_args__ = (sa.CheckConstraint("ends_on >= starts_on", name="ck_delegation_range"),)

    id: int | None = Field(default=None, primary_key=True)
    delegator_id: int = Field(foreign_key="user_account.id", index=True)
    delegate_id: int = Field(foreign_key="user_account.id", index=True)
    starts_on: date
    ends_on: date
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None

    def active_on(self, day: date) -> bool:
        return self.revoked_at is None and self.starts_on <= day <= self.ends_on
