"""People's own accounts: changing a password, invitations and password resets by email.

An invitation or a reset is an `AccountLink`: a random token mailed once (through the outbox,
like every email), of which only the hash is kept. A link sets a password once, before it
expires, and only while it is the person's newest link; using it ends their open sessions.
Asking for a reset answers the same whether or not the address has an account.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from workflow.access import Actor
from workflow.command import Command, command
from workflow.commands.admin import add_user, end_sessions
from workflow.commands.sign_in import throttled_until
from workflow.errors import Conflict, InvalidInput, NotFound
from workflow.models import AccountLink, LoginAttempt, Organization, User
from workflow.models.parties import WebSession
from workflow.passwords import (
    check_new_password,
    hash_password,
    hash_session_token,
    normalise_email,
    verify_password,
)

INVITATION_LIFETIME = timedelta(days=7)
RESET_LIFETIME = timedelta(hours=1)
# Resets mailed to one person per hour, whoever asks: the form must not become a mail bomb.
MAX_RESETS_PER_HOUR = 3
LINK_PATH = "/account/links/"
_LIFETIMES = {"invitation": INVITATION_LIFETIME, "reset": RESET_LIFETIME}
_TOPICS = {"invitation": "account.invitation", "reset": "account.password_reset"}
_USED = "this link was already used, or a newer one was sent: ask for a new one"
_EXPIRED = "this link has expired: ask for a new one"


@dataclass(frozen=True)
class LinkHolder:
    """Whom a valid link is for, as the set-password page greets them."""

    purpose: str
    name: str
    email: str
    expires_at: datetime


def _issue(
    session: Session, tx: Command, user: User, purpose: str, actor: Actor | None, now: datetime
) -> AccountLink:
    """A new link for the user, replacing any they have not used yet, and its email."""
    assert user.id is not None
    for older in session.exec(
        select(AccountLink).where(
            AccountLink.user_id == user.id,
            col(AccountLink.used_at).is_(None),
            col(AccountLink.superseded_at).is_(None),
        )
    ).all():
        older.superseded_at = now
        session.add(older)
    token = secrets.token_urlsafe(32)
    link = AccountLink(
        user_id=user.id,
        purpose=purpose,
        token_hash=hash_session_token(token),
        created_by_id=actor.user_id if actor else None,
        created_at=now,
        expires_at=now + _LIFETIMES[purpose],
    )
    session.add(link)
    session.flush()
    org = session.get(Organization, user.organization_id)
    tx.enqueue(
        topic=_TOPICS[purpose],
        dedupe_key=f"{_TOPICS[purpose]}:{link.id}",
        now=now,
        # Straight to the person, even if they chose the digest or delegated their tasks.
        recipients={"user_ids": [user.id], "immediate": True, "delegate": False},
        payload={
            "account": {
                "name": user.name,
                "email": user.email,
                "organization": org.name if org is not None else "",
            },
            "invited_by": actor.name if actor else None,
            "token": token,
            "expires_at": link.expires_at.isoformat(),
        },
    )
    return link


def invite_user(
    session: Session,
    *,
    actor: Actor | None,
    email: str,
    name: str,
    organization_id: int,
    now: datetime,
    role: str = "member",
) -> User:
    """Create a user and mail them a link to choose their password (no password is passed on)."""
    with command(session) as tx:
        user = add_user(
            session,
            tx,
            actor=actor,
            email=email,
            name=name,
            organization_id=organization_id,
            role=role,
            now=now,
        )
        link = _issue(session, tx, user, "invitation", actor, now)
        tx.audit(
            action="user.invited",
            now=now,
            actor_id=actor.user_id if actor else None,
            data=_link_data(user, link),
        )
    return user


def reinvite_user(session: Session, *, actor: Actor | None, user_id: int, now: datetime) -> User:
    """Mail a user a fresh link to choose a password (the older link stops working)."""
    with command(session) as tx:
        if actor is not None and not actor.is_admin:
            raise NotFound("no such user")
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("no such user")
        if not user.is_active:
            raise Conflict(f"{user.name}'s account is disabled: enable it first")
        purpose = "reset" if user.password_hash is not None else "invitation"
        link = _issue(session, tx, user, purpose, actor, now)
        tx.audit(
            action="user.invited" if purpose == "invitation" else "user.password_reset_sent",
            now=now,
            actor_id=actor.user_id if actor else None,
            data=_link_data(user, link),
        )
    return user


def _link_data(user: User, link: AccountLink) -> dict[str, object]:
    return {
        "user_id": user.id,
        "name": user.name,
        "email": user.email,
        "link_id": link.id,
        "expires_at": link.expires_at.isoformat(),
    }


def request_password_reset(session: Session, *, email: str, now: datetime) -> None:
    """Mail a reset link if the address has an active account; say nothing either way."""
    wanted = normalise_email(email)[:320]
    with command(session) as tx:
        user = session.exec(select(User).where(User.email == wanted)).first()
        if user is None or not user.is_active:
            tx.rollback()
            return
        recent = session.exec(
            select(func.count())
            .select_from(AccountLink)
            .where(
                AccountLink.user_id == user.id,
                AccountLink.purpose == "reset",
                AccountLink.created_at > now - timedelta(hours=1),
            )
        ).one()
        if recent >= MAX_RESETS_PER_HOUR:
            tx.rollback()
            return
        link = _issue(session, tx, user, "reset", None, now)
        tx.audit(
            action="user.password_reset_requested",
            now=now,
            actor_id=None,
            data=_link_data(user, link),
        )


def _link(session: Session, token: str, now: datetime, *, lock: bool = False) -> AccountLink:
    stmt = select(AccountLink).where(AccountLink.token_hash == hash_session_token(token))
    link = session.exec(stmt.with_for_update() if lock else stmt).first()
    if link is None:
        raise NotFound("no such link: check that the whole link was copied")
    if link.used_at is not None or link.superseded_at is not None:
        raise Conflict(_USED)
    if link.expires_at <= now:
        raise Conflict(_EXPIRED)
    return link


def link_holder(session: Session, token: str, now: datetime) -> LinkHolder:
    """Whom a link is for, if it may still be used; NotFound or Conflict saying why not."""
    link = _link(session, token, now)
    user = session.get(User, link.user_id)
    if user is None or not user.is_active:
        raise Conflict(_USED)
    session.rollback()
    return LinkHolder(link.purpose, user.name, user.email, link.expires_at)


def use_link(session: Session, *, token: str, password: str, now: datetime) -> User:
    """Set the password a link was mailed for; the link is spent and open sessions end."""
    check_new_password(password)
    new_hash = hash_password(password)  # before the transaction: hashing is slow
    with command(session) as tx:
        link = _link(session, token, now, lock=True)
        user = session.get(User, link.user_id)
        if user is None or not user.is_active:
            raise Conflict(_USED)
        link.used_at = now
        user.password_hash = new_hash
        session.add_all([link, user])
        ended = end_sessions(session, user, now)
        tx.audit(
            action="user.invitation_accepted"
            if link.purpose == "invitation"
            else "user.password_reset",
            now=now,
            actor_id=user.id,
            data={
                "user_id": user.id,
                "name": user.name,
                "link_id": link.id,
                "sessions_ended": ended,
            },
        )
    return user


def change_password(
    session: Session,
    *,
    actor: Actor,
    current: str,
    new: str,
    now: datetime,
    address: str = "api",
    keep_session: str | None = None,
) -> None:
    """Change one's own password, proving the current one; other sessions end.

    A wrong current password counts as a failed sign-in, so the form cannot be used to guess
    it faster than the sign-in page allows.
    """
    user = session.get(User, actor.user_id)
    if user is None or not user.is_active:
        raise NotFound("no such user")
    stored, email = user.password_hash, user.email
    retry_at = throttled_until(session, email, address, now)
    session.rollback()  # hold no transaction while hashing
    if retry_at is not None:
        raise Conflict("too many wrong passwords: try again in a few minutes")
    errors = []
    matches = verify_password(stored, current)
    if not matches:
        errors.append({"field": "current_password", "message": "is not your current password"})
    try:
        check_new_password(new)
    except InvalidInput as exc:
        errors.extend({**e, "field": "new_password"} for e in exc.errors)
    if not errors and new == current:
        errors.append({"field": "new_password", "message": "is the same as the current one"})
    if not matches:
        with command(session):
            session.add(
                LoginAttempt(email=email, address=address, succeeded=False, attempted_at=now)
            )
    if errors:
        raise InvalidInput("the password was not changed", errors)
    new_hash = hash_password(new)
    with command(session) as tx:
        user = session.get(User, actor.user_id)
        assert user is not None
        if user.password_hash != stored:
            raise Conflict("your password was changed meanwhile: sign in again")
        user.password_hash = new_hash
        session.add(user)
        keep = (
            session.exec(
                select(WebSession.id).where(
                    WebSession.token_hash == hash_session_token(keep_session)
                )
            ).first()
            if keep_session is not None
            else None
        )
        ended = end_sessions(session, user, now, keep=keep)
        tx.audit(
            action="user.password_changed",
            now=now,
            actor_id=actor.user_id,
            data={"user_id": actor.user_id, "name": user.name, "sessions_ended": ended},
        )
