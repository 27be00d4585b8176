"""Organisations, users, tokens and delegations: the system chain's commands."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from workflow.access import Actor
from workflow.calendar import local_date, validate_calendar
from workflow.command import Command, command
from workflow.errors import Conflict, Forbidden, InvalidInput, NotFound
from workflow.models import ApiToken, Delegation, Organization, StakeholderAssignment, User
from workflow.models.parties import WebSession

TOKEN_PREFIX = "acc_"  # noqa: S105 - a marker, not a secret
# A user's role: (is_admin, auditor_scope). Auditors only read: the audit pages of their
# organisation's agreements ("auditor") or of every agreement and the admin acts
# ("global_auditor"), and the chain verification of what they may read.
ROLES: dict[str, tuple[bool, str | None]] = {
    "member": (False, None),
    "admin": (True, None),
    "auditor": (False, "organization"),
    "global_auditor": (False, "global"),
}
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
    role: str | None = None,
) -> User:
    """A user without a password: they sign in once someone sets one, or by an invitation
    (`workflow.commands.accounts.invite_user`). `role` (see ROLES) wins over `is_admin`."""
    with command(session) as tx:
        return add_user(
            session,
            tx,
            actor=actor,
            email=email,
            name=name,
            organization_id=organization_id,
            role=role or ("admin" if is_admin else "member"),
            now=now,
        )


def add_user(
    session: Session,
    tx: Command,
    *,
    actor: Actor | None,
    email: str,
    name: str,
    organization_id: int,
    role: str,
    now: datetime,
) -> User:
    """Create the user inside the caller's command, audited as `user.created`."""
    _require_admin(actor)
    email = email.strip().lower()
    errors = []
    if not _EMAIL.match(email):
        errors.append({"field": "email", "message": "not an email address"})
    if not name.strip():
        errors.append({"field": "name", "message": "required"})
    if session.get(Organization, organization_id) is None:
        errors.append({"field": "organization_id", "message": "unknown organisation"})
    if role not in ROLES:
        errors.append({"field": "role", "message": f"one of {', '.join(ROLES)}"})
    if errors:
        raise InvalidInput("invalid user", errors)
    if session.exec(select(User).where(User.email == email)).first():
        raise Conflict(f"a user with email {email} already exists")
    is_admin, auditor_scope = ROLES[role]
    user = User(
        email=email,
        name=name.strip(),
        organization_id=organization_id,
        is_admin=is_admin,
        auditor_scope=auditor_scope,
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
            "name": user.name,
            "organization_id": organization_id,
            "is_admin": is_admin,
            "role": role,
        },
    )
    return user


def role_of(user: User) -> str:
    """The name in ROLES for the user's flags."""
    return role_named(user.is_admin, user.auditor_scope)


def role_named(is_admin: bool, auditor_scope: str | None) -> str:
    return next((n for n, flags in ROLES.items() if flags == (is_admin, auditor_scope)), "member")


def set_role(
    session: Session, *, actor: Actor | None, user_id: int, role: str, now: datetime
) -> User:
    """Make a user a member, an administrator or an auditor (read-only audit access)."""
    with command(session) as tx:
        _require_admin(actor)
        if role not in ROLES:
            raise InvalidInput(
                "unknown role", [{"field": "role", "message": f"one of {', '.join(ROLES)}"}]
            )
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("no such user")
        if actor is not None and actor.user_id == user_id and role != "admin":
            raise Conflict("you cannot take away your own administration: ask another admin")
        if ROLES[role][1] is not None and _holds_stakeholder_roles(session, user_id):
            raise Conflict(
                f"{user.name} holds stakeholder roles: an auditor only reads, so hand those "
                "roles to someone else first"
            )
        before = role_of(user)
        if before != role:
            user.is_admin, user.auditor_scope = ROLES[role]
            session.add(user)
            tx.audit(
                action="user.role_changed",
                now=now,
                actor_id=actor.user_id if actor else None,
                data={"user_id": user_id, "name": user.name, "before": before, "after": role},
            )
    return user


def _holds_stakeholder_roles(session: Session, user_id: int) -> bool:
    found = session.exec(
        select(StakeholderAssignment.id).where(StakeholderAssignment.user_id == user_id)
    ).first()
    return found is not None


def set_active(
    session: Session, *, actor: Actor | None, user_id: int, active: bool, now: datetime
) -> User:
    """Disable a user (no sign-in, no API, no email; their sessions end) or enable them."""
    with command(session) as tx:
        _require_admin(actor)
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("no such user")
        if actor is not None and actor.user_id == user_id and not active:
            raise Conflict("you cannot disable your own account")
        if user.is_active != active:
            user.is_active = active
            session.add(user)
            ended = 0 if active else end_sessions(session, user, now)
            tx.audit(
                action="user.enabled" if active else "user.disabled",
                now=now,
                actor_id=actor.user_id if actor else None,
                data={"user_id": user_id, "name": user.name, "sessions_ended": ended},
            )
    return user


def create_token(
    session: Session,
    *,
    actor: Actor | None,
    user_id: int,
    now: datetime,
    name: str = "",
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new API token; the plain text is returned once and only its hash is stored.
    Without `expires_at` it works until revoked."""
    with command(session) as tx:
        _require_admin(actor)
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("no such user")
        if expires_at is not None and expires_at <= now:
            raise InvalidInput(
                "the expiry is in the past",
                [{"field": "expires_at", "message": "must be in the future"}],
            )
        plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(
            user_id=user_id,
            token_hash=hash_token(plain),
            prefix=plain[:10],
            name=name,
            created_at=now,
            expires_at=expires_at,
        )
        session.add(token)
        session.flush()
        tx.audit(
            action="token.created",
            now=now,
            actor_id=actor.user_id if actor else None,
            data={
                "token_id": token.id,
                "user_id": user_id,
                "user_name": user.name,
                "prefix": token.prefix,
                "name": name,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return token, plain


# A token's last use is recorded to the minute: one write a minute per busy client, not one
# per request.
LAST_USE_PRECISION = timedelta(minutes=1)


def record_token_use(session: Session, *, token_id: int, now: datetime) -> None:
    """Note when a token was last used (bookkeeping, not audited: it changes no rights)."""
    with command(session):
        token = session.get(ApiToken, token_id)
        if token is not None and (
            token.last_used_at is None or token.last_used_at <= now - LAST_USE_PRECISION
        ):
            token.last_used_at = now
            session.add(token)


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
                data={
                    "token_id": token.id,
                    "user_id": token.user_id,
                    "prefix": token.prefix,
                    "name": token.name,
                },
            )
    return token


def end_sessions(session: Session, user: User, now: datetime, *, keep: int | None = None) -> int:
    """End the user's open browser sessions (but `keep`, the one changing its password)."""
    open_sessions = session.exec(
        select(WebSession).where(
            WebSession.user_id == user.id,
            col(WebSession.revoked_at).is_(None),
            WebSession.expires_at > now,
        )
    ).all()
    ended = [s for s in open_sessions if s.id != keep]
    for web_session in ended:
        web_session.revoked_at = now
        session.add(web_session)
    return len(ended)


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
