"""The caller, organisations, users, tokens and delegations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from api.deps import ActorDep, AdminDep, IdempotencyDep, NowDep, SessionDep
from api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from workflow import commands
from workflow.errors import NotFound
from workflow.models import ApiToken, Delegation, Organization, User

router = APIRouter(tags=["administration"])


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrganizationCreate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    holiday_calendar: Annotated[str, Field(max_length=40)] = "US"


class OrganizationOut(BaseModel):
    id: int
    name: str
    holiday_calendar: str


class UserCreate(Strict):
    email: Annotated[str, Field(min_length=3, max_length=320)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    organization_id: int
    is_admin: bool = False


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    organization_id: int
    is_admin: bool


class TokenCreate(Strict):
    name: Annotated[str, Field(max_length=200)] = ""


class TokenOut(BaseModel):
    id: int
    token: str
    prefix: str


class DelegationCreate(Strict):
    delegate_id: int
    starts_on: date
    ends_on: date


class DelegationOut(BaseModel):
    id: int
    delegator_id: int
    delegate_id: int
    starts_on: date
    ends_on: date
    created_at: datetime


class MeOut(UserOut):
    organization: OrganizationOut
    delegations_given: list[DelegationOut]
    delegations_received: list[DelegationOut]


def _org(org: Organization) -> OrganizationOut:
    return OrganizationOut.model_validate(org, from_attributes=True)


def _user(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


def _delegation(d: Delegation) -> DelegationOut:
    return DelegationOut.model_validate(d, from_attributes=True)


@router.get("/me")
def me(session: SessionDep, actor: ActorDep, now: NowDep) -> MeOut:
    user = session.get(User, actor.user_id)
    org = session.get(Organization, actor.organization_id)
    assert user is not None
    assert org is not None
    today = now.date()
    active = select(Delegation).where(
        col(Delegation.revoked_at).is_(None), Delegation.ends_on >= today
    )
    given = session.exec(active.where(Delegation.delegator_id == actor.user_id)).all()
    received = session.exec(active.where(Delegation.delegate_id == actor.user_id)).all()
    return MeOut(
        **_user(user).model_dump(),
        organization=_org(org),
        delegations_given=[_delegation(d) for d in given],
        delegations_received=[_delegation(d) for d in received],
    )


@router.post("/organizations", status_code=status.HTTP_201_CREATED, dependencies=[IdempotencyDep])
def create_organization(
    body: OrganizationCreate, session: SessionDep, actor: AdminDep, now: NowDep
) -> OrganizationOut:
    org = commands.create_organization(
        session, actor=actor, name=body.name, holiday_calendar=body.holiday_calendar, now=now
    )
    return _org(org)


@router.get("/organizations")
def list_organizations(
    session: SessionDep, _actor: ActorDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[OrganizationOut]:
    after = decode_cursor(cursor)
    stmt = select(Organization).order_by(col(Organization.id)).limit(limit + 1)
    if after:
        stmt = stmt.where(col(Organization.id) > after[0])
    rows = list(session.exec(stmt).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        items=[_org(o) for o in rows],
        next_cursor=encode_cursor([rows[-1].id]) if more else None,
    )


@router.post("/users", status_code=status.HTTP_201_CREATED, dependencies=[IdempotencyDep])
def create_user(body: UserCreate, session: SessionDep, actor: AdminDep, now: NowDep) -> UserOut:
    user = commands.create_user(
        session,
        actor=actor,
        email=body.email,
        name=body.name,
        organization_id=body.organization_id,
        is_admin=body.is_admin,
        now=now,
    )
    return _user(user)


@router.get("/users")
def list_users(
    session: SessionDep, _actor: AdminDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[UserOut]:
    after = decode_cursor(cursor)
    stmt = select(User).order_by(col(User.id)).limit(limit + 1)
    if after:
        stmt = stmt.where(col(User.id) > after[0])
    rows = list(session.exec(stmt).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        items=[_user(u) for u in rows],
        next_cursor=encode_cursor([rows[-1].id]) if more else None,
    )


@router.post(
    "/users/{user_id}/tokens", status_code=status.HTTP_201_CREATED, dependencies=[IdempotencyDep]
)
def create_token(
    user_id: int, session: SessionDep, actor: AdminDep, now: NowDep, body: TokenCreate | None = None
) -> TokenOut:
    token, plain = commands.create_token(
        session, actor=actor, user_id=user_id, name=body.name if body else "", now=now
    )
    assert token.id is not None
    return TokenOut(id=token.id, token=plain, prefix=token.prefix)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: int, session: SessionDep, actor: ActorDep, now: NowDep) -> None:
    if session.get(ApiToken, token_id) is None:
        raise NotFound("no such token")
    commands.revoke_token(session, actor=actor, token_id=token_id, now=now)


@router.post("/delegations", status_code=status.HTTP_201_CREATED, dependencies=[IdempotencyDep])
def create_delegation(
    body: DelegationCreate, session: SessionDep, actor: ActorDep, now: NowDep
) -> DelegationOut:
    delegation = commands.create_delegation(
        session,
        actor=actor,
        delegate_id=body.delegate_id,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        now=now,
    )
    return _delegation(delegation)
