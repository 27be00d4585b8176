"""Organisations and users, as administrators list them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from workflow.models import Delegation, Organization, User
from workflow.queries.common import Slice, View, after_int, page_of


class OrganizationView(View):
    id: int
    name: str
    holiday_calendar: str


class UserView(View):
    id: int
    email: str
    name: str
    organization_id: int
    is_admin: bool
    is_active: bool = True
    # "organization" or "global" for an auditor (read-only audit access), else None.
    auditor_scope: str | None = None
    has_password: bool = False


class DelegationView(View):
    id: int
    delegator_id: int
    delegate_id: int
    starts_on: date
    ends_on: date
    created_at: datetime


class CallerView(UserView):
    organization: OrganizationView
    delegations_given: list[DelegationView]
    delegations_received: list[DelegationView]


def delegation_view(delegation: Delegation) -> DelegationView:
    return DelegationView.model_validate(delegation, from_attributes=True)


def caller(session: Session, user_id: int, *, today: date) -> CallerView:
    """The caller, their organisation, and delegations current or still to come."""
    user = session.get(User, user_id)
    assert user is not None
    org = session.get(Organization, user.organization_id)
    assert org is not None
    current = select(Delegation).where(
        col(Delegation.revoked_at).is_(None), Delegation.ends_on >= today
    )
    given = session.exec(current.where(Delegation.delegator_id == user_id)).all()
    received = session.exec(current.where(Delegation.delegate_id == user_id)).all()
    return CallerView(
        **user_view(user).model_dump(),
        organization=organization_view(org),
        delegations_given=[delegation_view(d) for d in given],
        delegations_received=[delegation_view(d) for d in received],
    )


def organization_view(org: Organization) -> OrganizationView:
    return OrganizationView.model_validate(org, from_attributes=True)


def user_view(user: User) -> UserView:
    view = UserView.model_validate(user, from_attributes=True)
    return view.model_copy(update={"has_password": user.password_hash is not None})


def _by_id(row: Any) -> list[Any]:
    return [row.id]


def list_organizations(
    session: Session, *, limit: int, after: list[Any] | None
) -> Slice[OrganizationView]:
    stmt = select(Organization).order_by(col(Organization.id)).limit(limit + 1)
    start = after_int(after)
    if start is not None:
        stmt = stmt.where(col(Organization.id) > start)
    rows, next_after = page_of(list(session.exec(stmt).all()), limit, _by_id)
    return Slice([organization_view(o) for o in rows], next_after)


def list_users(session: Session, *, limit: int, after: list[Any] | None) -> Slice[UserView]:
    stmt = select(User).order_by(col(User.id)).limit(limit + 1)
    start = after_int(after)
    if start is not None:
        stmt = stmt.where(col(User.id) > start)
    rows, next_after = page_of(list(session.exec(stmt).all()), limit, _by_id)
    return Slice([user_view(u) for u in rows], next_after)
