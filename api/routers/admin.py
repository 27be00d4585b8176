"""The caller, organisations, users, tokens and delegations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, status
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import ActorDep, AdminDep, IdempotencyDep, NowDep, SessionDep
from api.idempotency import idempotent
from api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, page
from api.schemas import Strict
from api.types import Id
from workflow import commands
from workflow.calendar import local_date
from workflow.commands import accounts
from workflow.queries import parties
from workflow.queries.admin import TokenView, list_tokens
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


RoleName = Literal["member", "admin", "auditor", "global_auditor"]
Password = Annotated[str, Field(max_length=1000)]


class UserCreate(Strict):
    email: Annotated[str, Field(min_length=3, max_length=320)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    organization_id: Id
    is_admin: bool = False
    # Wins over is_admin; auditors read audit trails and nothing else.
    role: RoleName | None = None
    # Mail the person a one-use link to choose their password (nobody passes one on).
    invite: bool = False


class RoleChange(Strict):
    role: RoleName


class TokenCreate(Strict):
    name: Annotated[str, Field(max_length=200)] = ""
    expires_at: AwareDatetime | None = None  # refused from then on; none: until revoked


class TokenOut(BaseModel):
    id: int
    token: str
    prefix: str
    expires_at: datetime | None


class PasswordChange(Strict):
    current_password: Password
    new_password: Password


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
    """A user; with `invite`, they are mailed a link to choose their password."""
    role = body.role or ("admin" if body.is_admin else "member")
    if body.invite:
        user = accounts.invite_user(
            session,
            actor=actor,
            email=body.email,
            name=body.name,
            organization_id=body.organization_id,
            role=role,
            now=now,
        )
    else:
        user = commands.create_user(
            session,
            actor=actor,
            email=body.email,
            name=body.name,
            organization_id=body.organization_id,
            role=role,
            now=now,
        )
    return user_view(user)


@router.put("/users/{user_id}/role")
def set_role(
    user_id: Id, body: RoleChange, session: SessionDep, actor: AdminDep, now: NowDep
) -> UserView:
    """Make the user a member, an administrator, an auditor of their organisation's
    agreements, or a global auditor. Audited."""
    return user_view(
        commands.set_role(session, actor=actor, user_id=user_id, role=body.role, now=now)
    )


@router.post("/users/{user_id}/disable")
def disable_user(user_id: Id, session: SessionDep, actor: AdminDep, now: NowDep) -> UserView:
    """No sign-in, no API, no email from now on; their browser sessions end."""
    return user_view(
        commands.set_active(session, actor=actor, user_id=user_id, active=False, now=now)
    )


@router.post("/users/{user_id}/enable")
def enable_user(user_id: Id, session: SessionDep, actor: AdminDep, now: NowDep) -> UserView:
    return user_view(
        commands.set_active(session, actor=actor, user_id=user_id, active=True, now=now)
    )


@router.post("/users/{user_id}/invitation", status_code=status.HTTP_202_ACCEPTED)
def send_invitation(user_id: Id, session: SessionDep, actor: AdminDep, now: NowDep) -> UserView:
    """Mail a fresh link to choose a password (a reset link if they have one); older
    links stop working."""
    return user_view(accounts.reinvite_user(session, actor=actor, user_id=user_id, now=now))


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(
    body: PasswordChange, session: SessionDep, actor: ActorDep, now: NowDep
) -> None:
    """Change your own password (the pages' sign-in); your browser sessions end."""
    accounts.change_password(
        session, actor=actor, current=body.current_password, new=body.new_password, now=now
    )


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
        session,
        actor=actor,
        user_id=user_id,
        name=body.name if body else "",
        expires_at=body.expires_at if body else None,
        now=now,
    )
    assert token.id is not None
    return TokenOut(id=token.id, token=plain, prefix=token.prefix, expires_at=token.expires_at)


@router.get("/tokens")
def get_tokens(
    session: SessionDep, _admin: AdminDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[TokenView]:
    """Every API token, newest first, with its expiry and last use (never its text)."""
    return page(list_tokens(session, limit=limit, after=decode_cursor(cursor)))


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
