"""Organisations, users, tokens and delegations: the system chain's commands."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import date, datetime

from sqlmodel import Session, select

from workflow.access import Actor
from workflow.calendar import local_date, validate_calendar
from workflow.command import command
from workflow.errors import Conflict, Forbidden, InvalidInput, NotFound
from workflow.models import ApiToken, Delegation, Organization, User

TOKEN_PREFIX = "acc_"  # noqa: S105 - a marker, not a secret
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _require_admin(actor: Actor | None) -> None:
    """`None` is the operator at the server's console (the CLI), who may administer."""
    if actor is not None and not actor.is_admin:
        raise Forbidden("only an administrator may do this")


def create_organization(
    session: Session, *, actor: Actor | None, name: str, now: datetime, holiday_calendar: str = "US"
) -> Organization:
    with command(session) as tx:
        _require_admin(actor)
        name = name.strip()
        if not name:
            raise InvalidInput("name is required", [{"field": "name", "message": "required"}])
        try:
            validate_calendar(holiday_calendar)
        except ValueError as exc:
            raise InvalidInput(
                str(exc), [{"field": "holiday_calendar", "message": str(exc)}]
            ) from None
        if session.exec(select(Organization).where(Organization.name == name)).first():
            raise Conflict(f"an organisation named {name!r} already exists")
        org = Organization(name=name, holiday_calendar=holiday_calendar, created_at=now)
        session.add(org)
        session.flush()
        tx.audit(
            action="organization.created",
            now=now,
            actor_id=actor.user_id if actor else None,
            data={"organization_id": org.id, "name": name, "holiday_calendar": holiday_calendar},
        )
    return org


def create_user(
    session: Session,
    *,
    actor: Actor | None,
    email: str,
    name: str,
    organization_id: int,
    now: datetime,
    is_admin: bool = False,
) -> User:
    with command(session) as tx:
        _require_admin(actor)
        email = email.strip().lower()
        errors = []
        if not _EMAIL.match(email):
            errors.append({"field": "email", "message": "not an email address"})
        if not name.strip():
            errors.append({"field": "name", "message": "required"})
        if session.get(Organization, organization_id) is None:
            errors.append({"field": "organization_id", "message": "unknown organisation"})
        if errors:
            raise InvalidInput("invalid user", errors)
        if session.exec(select(User).where(User.email == email)).first():
            raise Conflict(f"a user with email {email} already exists")
        user = User(
            email=email,
            name=name.strip(),
            organization_id=organization_id,
            is_admin=is_admin,
            created_at=now,
        )
        session.add(user)
        session.flush()
        tx.audit(
            action="user.created",
            now=now,
            actor_id=actor.user_id if actor else None,
            data={
                "user_id": user.id,
                "email": email,
                "organization_id": organization_id,
                "is_admin": is_admin,
            },
        )
    return user


def create_token(
    session: Session, *, actor: Actor | None, user_id: int, now: datetime, name: str = ""
) -> tuple[ApiToken, str]:
    """A new API token; the plain text is returned once and only its hash is stored."""
    with command(session) as tx:
        _require_admin(actor)
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("no such user")
        plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(
            user_id=user_id,
            token_hash=hash_token(plain),
            prefix=plain[:10],
            name=name,
            created_at=now,
        )
        session.add(token)
        session.flush()
        tx.audit(
            action="token.created",
            now=now,
            actor_id=actor.user_id if actor else None,
            data={"token_id": token.id, "user_id": user_id, "prefix": token.prefix, "name": name},
        )
    return token, plain


def revoke_token(
    session: Session, *, actor: Actor | None, token_id: int, now: datetime
) -> ApiToken:
    with command(session) as tx:
        token = session.get(ApiToken, token_id)
        if token is None:
            raise NotFound("no such token")
        if actor is not None and not actor.is_admin and token.user_id != actor.user_id:
            raise NotFound("no such token")
        if token.revoked_at is None:
            token.revoked_at = now
            session.add(token)
            tx.audit(
                action="token.revoked",
                now=now,
                actor_id=actor.user_id if actor else None,
                data={"token_id": token.id, "user_id": token.user_id, "prefix": token.prefix},
            )
    return token


def create_delegation(
    session: Session,
    *,
    actor: Actor,
    delegate_id: int,
    starts_on: date,
    ends_on: date,
    now: datetime,
) -> Delegation:
    """Hand my tasks to a colleague of my organisation for a date range."""
    with command(session) as tx:
        errors = []
        delegate = session.get(User, delegate_id)
        if delegate is None or delegate.organization_id != actor.organization_id:
            errors.append(
                {"field": "delegate_id", "message": "no such colleague in your organisation"}
            )
        elif delegate_id == actor.user_id:
            errors.append({"field": "delegate_id", "message": "you cannot delegate to yourself"})
        if ends_on < starts_on:
            errors.append({"field": "ends_on", "message": "must not be before starts_on"})
        if ends_on < local_date(now):
            errors.append({"field": "ends_on", "message": "is in the past"})
        if errors:
            raise InvalidInput("invalid delegation", errors)
        assert delegate is not None
        delegation = Delegation(
            delegator_id=actor.user_id,
            delegate_id=delegate_id,
            starts_on=starts_on,
            ends_on=ends_on,
            created_at=now,
        )
        session.add(delegation)
        session.flush()
        tx.audit(
            action="delegation.created",
            now=now,
            actor_id=actor.user_id,
            data={
                "delegation_id": delegation.id,
                "delegate_id": delegate_id,
                "starts_on": starts_on.isoformat(),
                "ends_on": ends_on.isoformat(),
            },
        )
        tx.enqueue(
            topic="delegation.started",
            dedupe_key=f"delegation.started:{delegation.id}",
            now=now,
            recipients={"user_ids": [delegate_id, actor.user_id]},
            payload={
                "delegation_id": delegation.id,
                "delegator": actor.name,
                "delegate": delegate.name,
                "starts_on": starts_on.isoformat(),
                "ends_on": ends_on.isoformat(),
            },
        )
    return delegation
