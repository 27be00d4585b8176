"""Signing people in and out of the pages, and setting their passwords.

The slow part of a sign-in, checking the argon2 hash, runs before the write transaction, so it
never holds the database's write lock; the throttle is checked again under that lock.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, func, select

from workflow.access import Actor
from workflow.command import command
from workflow.commands.admin import end_sessions
from workflow.errors import Forbidden, InvalidInput, NotFound
from workflow.models.parties import LoginAttempt, User, WebSession
from workflow.passwords import (
    check_new_password,
    hash_password,
    hash_session_token,
    needs_rehash,
    normalise_email,
    verify_password,
)

ATTEMPT_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 20
SESSION_LIFETIME = timedelta(hours=12)
_ADDRESS_LENGTH = 64  # the column's; an IPv6 address with a zone fits


@dataclass(frozen=True)
class SignInResult:
    """A session token for the cookie (shown once), or a refusal; `retry_at` is set when the
    attempt was throttled and the password not even checked."""

    actor: Actor | None = None
    token: str | None = None
    retry_at: datetime | None = None


def sign_in(
    session: Session, *, email: str, password: str, address: str, now: datetime
) -> SignInResult:
    """Check an email and password, record the attempt, and open a session when they match."""
    email, address = normalise_email(email)[:320], address[:_ADDRESS_LENGTH]
    retry_at = throttled_until(session, email, address, now)
    user = session.exec(select(User).where(User.email == email)).first()
    stored = user.password_hash if user is not None and user.is_active else None
    session.rollback()  # hold no transaction while hashing
    if retry_at is not None:
        return SignInResult(retry_at=retry_at)
    matches = verify_password(stored, password)

    with command(session) as tx:
        retry_at = throttled_until(session, email, address, now)
        if retry_at is not None:
            tx.rollback()
            return SignInResult(retry_at=retry_at)
        user = session.exec(select(User).where(User.email == email)).first()
        # The password may have changed (or the account closed) while the hash was checked.
        matches = matches and user is not None and user.is_active and user.password_hash == stored
        session.add(LoginAttempt(email=email, address=address, succeeded=matches, attempted_at=now))
        if not matches or user is None or user.id is None:
            tx.commit()
            return SignInResult()
        if stored is not None and needs_rehash(stored):
            user.password_hash = hash_password(password)
            session.add(user)
        token = secrets.token_urlsafe(32)
        web_session = WebSession(
            user_id=user.id,
            token_hash=hash_session_token(token),
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
        session.add(web_session)
        session.flush()
        tx.audit(
            action="user.signed_in",
            now=now,
            actor_id=user.id,
            data={"user_id": user.id, "session_id": web_session.id},
        )
        actor = Actor.of(user)
    return SignInResult(actor=actor, token=token)


def throttled_until(session: Session, email: str, address: str, now: datetime) -> datetime | None:
    """When this email and address may try again, if too many recent tries failed.

    Failures count per email since its last success (a person who got in starts afresh) and
    per address regardless (one address guessing many emails is the attack to slow down).
    """
    window_start = now - ATTEMPT_WINDOW
    last_success = session.exec(
        select(func.max(LoginAttempt.attempted_at)).where(
            LoginAttempt.email == email, col(LoginAttempt.succeeded).is_(True)
        )
    ).one()
    since = max(window_start, last_success) if last_success is not None else window_start
    waits = [
        _wait(session, col(LoginAttempt.email) == email, since, MAX_FAILURES_PER_EMAIL),
        _wait(
            session, col(LoginAttempt.address) == address, window_start, MAX_FAILURES_PER_ADDRESS
        ),
    ]
    retry_at = max((w for w in waits if w is not None), default=None)
    return retry_at if retry_at is not None and retry_at > now else None


def _wait(
    session: Session, which: ColumnElement[bool], since: datetime, limit: int
) -> datetime | None:
    # Allowed again once the limit-th most recent failure leaves the window.
    recent = session.exec(
        select(LoginAttempt.attempted_at)
        .where(which, col(LoginAttempt.succeeded).is_(False), LoginAttempt.attempted_at > since)
        .order_by(col(LoginAttempt.attempted_at).desc())
        .limit(limit)
    ).all()
    return recent[-1] + ATTEMPT_WINDOW if len(recent) >= limit else None


def sign_out(session: Session, *, token: str, now: datetime) -> None:
    """End the browser session with this token; an unknown or ended one is left as it is."""
    with command(session) as tx:
        web_session = session.exec(
            select(WebSession).where(WebSession.token_hash == hash_session_token(token))
        ).first()
        if web_session is not None and web_session.revoked_at is None:
            web_session.revoked_at = now
            session.add(web_session)
            tx.audit(
                action="user.signed_out",
                now=now,
                actor_id=web_session.user_id,
                data={"user_id": web_session.user_id, "session_id": web_session.id},
            )


def set_passwords(
    session: Session, *, actor: Actor | None, emails: Sequence[str], password: str, now: datetime
) -> list[User]:
    """Give these users a new password and end their open sessions.

    `actor` None is the operator at the console; otherwise an administrator, or a person
    changing their own. Several emails share one hash: they share the password by choice
    (the demo), and hashing is the slow part.
    """
    check_new_password(password)
    new_hash = hash_password(password)  # before the transaction: hashing is slow
    with command(session) as tx:
        wanted = [normalise_email(e) for e in emails]
        if not wanted:
            raise InvalidInput("no user named", [{"field": "email", "message": "required"}])
        users = list(session.exec(select(User).where(col(User.email).in_(wanted))).all())
        missing = sorted(set(wanted) - {u.email for u in users})
        if missing:
            raise NotFound(f"no user with email {', '.join(missing)}")
        if actor is not None and not actor.is_admin and {u.id for u in users} != {actor.user_id}:
            raise Forbidden("only an administrator may set another person's password")
        for user in users:
            user.password_hash = new_hash
            session.add(user)
            ended = end_sessions(session, user, now)
            tx.audit(
                action="user.password_set",
                now=now,
                actor_id=actor.user_id if actor else None,
                data={"user_id": user.id, "sessions_ended": ended},
            )
    return users
