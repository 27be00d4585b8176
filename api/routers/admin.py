"""The caller, organisations, users, tokens and delegations."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from api.deps import ActorDep, AdminDep, IdempotencyDep, NowDep, SessionDep
from api.idempotency import idempotent
from api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, page
from api.schemas import Strict
from api.types import Id
from workflow import commands
from workflow.calendar import local_date
from workflow.queries import parties
from workflow.queries.parties import (
    CallerView,
    DelegationView,
    OrganizationView,
    UserView,
    delegation_view,
    organization_view,
    user_view,
)

router = APIRouter(tags=["administration"])


class OrganizationCreate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    holiday_calendar: Annotated[str, Field(max_length=40)] = "US"


class UserCreate(Strict):
    email: Annotated[str, Field(min_length=3, max_length=320)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    organization_id: Id
    is_admin: bool = False


class TokenCreate(Strict):
    name: Annotated[str, Field(max_length=200)] = ""


class TokenOut(BaseModel):
    id: int
    token: str
    prefix: str


class DelegationCreate(Strict):
    delegate_id: Id
    starts_on: date
    ends_on: date


@router.get("/me")
def me(session: SessionDep, actor: ActorDep, now: NowDep) -> CallerView:
    return parties.caller(session, actor.user_id, today=local_date(now))


@router.post("/organizations", status_code=status.HTTP_201_CREATED, dependencies=[IdempotencyDep])
@idempotent
def create_organization(
    body: OrganizationCreate, session: SessionDep, actor: AdminDep, now: NowDep
) -> OrganizationView:
    org = commands.create_organization(
        session, actor=actor, name=body.name, holiday_calendar=body.holiday_calendar, now=now
    )
    return organization_view(org)


@router.get("/organizations")
def list_organizations(
    session: SessionDep, _actor: ActorDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[OrganizationView]:
    return page(parties.list_organizations(session, limit=limit, after=decode_cursor(cursor)))


@router.post("/users", status_code=status.HTTP_201_CREATED, dependencies=[IdempotencyDep])
@idempotent
def create_user(body: UserCreate, session: SessionDep, actor: AdminDep, now: NowDep) -> UserView:
    user = commands.create_user(
        session,
        actor=actor,
        email=body.email,
        name=body.name,
        organization_id=body.organization_id,
        is_admin=body.is_admin,
        now=now,
    )
    return user_view(user)


@router.get("/users")
def list_users(
    session: SessionDep, _actor: AdminDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[UserView]:
    return page(parties.list_users(session, limit=limit, after=decode_cursor(cursor)))


@router.post(
    "/users/{user_id}/tokens", status_code=status.HTTP_201_CREATED, dependencies=[IdempotencyDep]
)
@idempotent
def create_token(
    user_id: Id, session: SessionDep, actor: AdminDep, now: NowDep, body: TokenCreate | None = None
) -> TokenOut:
    token, plain = commands.create_token(
        session, actor=actor, user_id=user_id, name=body.name if body else "", now=now
    )
    assert token.id is not None
    return TokenOut(id=token.id, token=plain, prefix=token.prefix)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: Id, session: SessionDep, actor: ActorDep, now: NowDep) -> None:
    commands.revoke_token(session, actor=actor, token_id=token_id, now=now)


@router.post("/delegations", status_code=status.HTTP_201_CREATED, dependencies=[IdempotencyDep])
@idempotent
def create_delegation(
    body: DelegationCreate, session: SessionDep, actor: ActorDep, now: NowDep
) -> DelegationView:
    delegation = commands.create_delegation(
        session,
        actor=actor,
        delegate_id=body.delegate_id,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        now=now,
    )
    return delegation_view(delegation)
