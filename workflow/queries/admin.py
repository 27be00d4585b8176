"""What the administration pages show: counts, a user's account and tokens, the token and
delegation lists. Tokens are shown without their hash."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from workflow.models import ApiToken, Delegation, Organization, OutboxMessage, OutboxStatus, User
from workflow.queries.common import Slice, View, after_int, page_of


class AdminCounts(View):
    organizations: int
    users: int
    tokens: int  # not revoked
    delegations: int  # neither revoked nor ended
    pending: int  # outbox messages still to send
    dead: int  # outbox messages given up on


class TokenView(View):
    id: int
    user_id: int
    prefix: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None

    def status_at(self, now: datetime) -> str:
        """revoked, expired or active."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


class AccountView(View):
    id: int
    email: str
    name: str
    organization_id: int
    organization_name: str | None  # None if the organisation row is gone
    is_admin: bool
    is_active: bool
    has_password: bool
    auditor_scope: str | None = None


class DelegationRow(View):
    id: int
    delegator_id: int
    delegate_id: int
    starts_on: date
    ends_on: date
    created_at: datetime
    revoked_at: datetime | None

    def status_on(self, today: date) -> str:
        """revoked, ended, current or upcoming."""
        if self.revoked_at is not None:
            return "revoked"
        if self.ends_on < today:
            return "ended"
        return "current" if self.starts_on <= today else "upcoming"


def _count(session: Session, model: Any, *where: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def admin_counts(session: Session, *, today: date) -> AdminCounts:
    return AdminCounts(
        organizations=_count(session, Organization),
        users=_count(session, User),
        tokens=_count(session, ApiToken, col(ApiToken.revoked_at).is_(None)),
        delegations=_count(
            session, Delegation, col(Delegation.revoked_at).is_(None), Delegation.ends_on >= today
        ),
        pending=_count(session, OutboxMessage, OutboxMessage.status == OutboxStatus.PENDING),
        dead=_count(session, OutboxMessage, OutboxMessage.status == OutboxStatus.DEAD),
    )


def active_flags(session: Session, user_ids: Iterable[int]) -> dict[int, bool]:
    """Whether each user may sign in (the user list shows it; `UserView` leaves it out)."""
    ids = list(user_ids)
    rows = session.exec(select(User.id, User.is_active).where(col(User.id).in_(ids))).all()
    return {user_id: is_active for user_id, is_active in rows if user_id is not None}


def account(session: Session, user_id: int) -> AccountView | None:
    user = session.get(User, user_id)
    if user is None or user.id is None:
        return None
    org = session.get(Organization, user.organization_id)
    return AccountView(
        id=user.id,
        email=user.email,
        name=user.name,
        organization_id=user.organization_id,
        organization_name=org.name if org is not None else None,
        is_admin=user.is_admin,
        is_active=user.is_active,
        has_password=user.password_hash is not None,
        auditor_scope=user.auditor_scope,
    )


def _token_view(token: ApiToken) -> TokenView:
    return TokenView.model_validate(token, from_attributes=True)


def tokens_of(session: Session, user_id: int) -> list[TokenView]:
    """A user's tokens, newest first, revoked ones included."""
    stmt = select(ApiToken).where(ApiToken.user_id == user_id).order_by(col(ApiToken.id).desc())
    return [_token_view(t) for t in session.exec(stmt).all()]


def token(session: Session, token_id: int) -> TokenView | None:
    found = session.get(ApiToken, token_id)
    return _token_view(found) if found is not None else None


def _by_id(row: Any) -> list[Any]:
    return [row.id]


def list_tokens(session: Session, *, limit: int, after: list[Any] | None) -> Slice[TokenView]:
    """Every user's tokens, newest first."""
    stmt = select(ApiToken).order_by(col(ApiToken.id).desc()).limit(limit + 1)
    start = after_int(after)
    if start is not None:
        stmt = stmt.where(col(ApiToken.id) < start)
    rows, next_after = page_of(list(session.exec(stmt).all()), limit, _by_id)
    return Slice([_token_view(t) for t in rows], next_after)


def list_delegations(
    session: Session, *, limit: int, after: list[Any] | None
) -> Slice[DelegationRow]:
    """Every delegation, newest first, revoked and ended ones included."""
    stmt = select(Delegation).order_by(col(Delegation.id).desc()).limit(limit + 1)
    start = after_int(after)
    if start is not None:
        stmt = stmt.where(col(Delegation.id) < start)
    rows, next_after = page_of(list(session.exec(stmt).all()), limit, _by_id)
    return Slice([DelegationRow.model_validate(d, from_attributes=True) for d in rows], next_after)
