"""Signing in: argon2 passwords, throttled guessing, sessions that signing out really ends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from states import Role
from tests.helpers import C, P, World, make_world
from workflow import audit
from workflow.commands.sign_in import (
    ATTEMPT_WINDOW,
    MAX_FAILURES_PER_ADDRESS,
    MAX_FAILURES_PER_EMAIL,
    SESSION_LIFETIME,
    set_passwords,
    sign_in,
    sign_out,
)
from workflow.errors import Forbidden, InvalidInput, NotFound
from workflow.models import AuditEvent
from workflow.models.parties import LoginAttempt, User, WebSession
from workflow.passwords import hash_password, verify_password
from workflow.queries.sign_in import signed_in, viewer

SECRET = "correct horse battery"
HOME = "127.0.0.1"


@pytest.fixture
def world(session: Session) -> World:
    world = make_world(session)
    emails = [a.email for a in world.parties.actors.values()]
    set_passwords(session, actor=None, emails=emails, password=SECRET, now=world.now)
    return world


def test_a_hash_verifies_only_its_password() -> None:
    stored = hash_password(SECRET)
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, SECRET)
    assert not verify_password(stored, SECRET.upper())
    assert not verify_password(None, SECRET)  # no account: the dummy hash, still False
    assert not verify_password("not a hash", SECRET)


def test_the_right_password_opens_a_session_that_finds_the_person(world: World) -> None:
    bo = world.who(C, Role.BUSINESS_OWNER)
    result = sign_in(
        world.session, email=f"  {bo.email.upper()} ", password=SECRET, address=HOME, now=world.now
    )
    assert result.actor == bo
    assert result.token is not None
    assert signed_in(world.session, result.token, world.now) == bo
    assert signed_in(world.session, result.token, world.now + SESSION_LIFETIME) is None
    assert signed_in(world.session, result.token + "x", world.now) is None
    assert not viewer(world.session, bo).approver  # no agreement names anyone yet
    world.create()
    shown = viewer(world.session, bo)
    assert (shown.name, shown.organization, shown.approver) == (
        bo.name,
        world.document["customer"],
        True,
    )
    assert not viewer(world.session, world.who(C, Role.PMO_TEAM)).approver
    assert audit.verify(world.session).ok


def test_a_wrong_password_or_unknown_email_is_refused_and_recorded(world: World) -> None:
    bo = world.who(P, Role.BUSINESS_OWNER)
    refused = [
        sign_in(world.session, email=e, password=p, address=HOME, now=world.now)
        for e, p in (
            (bo.email, "wrong"),
            (bo.email, "wrong password"),
            ("nobody@example.org", SECRET),
        )
    ]
    assert all(r.actor is None and r.token is None and r.retry_at is None for r in refused)
    attempts = world.session.exec(select(LoginAttempt.email, LoginAttempt.succeeded)).all()
    assert sorted(attempts) == sorted(
        [(bo.email, False), (bo.email, False), ("nobody@example.org", False)]
    )


def test_five_failures_for_an_email_hold_even_the_right_password_back(world: World) -> None:
    bo = world.who(C, Role.BUSINESS_OWNER)
    first = world.now
    for _ in range(MAX_FAILURES_PER_EMAIL):
        world.tick()
        assert (
            sign_in(
                world.session, email=bo.email, password="guess", address=HOME, now=world.now
            ).retry_at
            is None
        )
    held = sign_in(world.session, email=bo.email, password=SECRET, address=HOME, now=world.tick())
    assert held.token is None
    assert held.retry_at == first + world.step + ATTEMPT_WINDOW  # when the oldest failure ages out
    # Another person at the same address is not held back by this email's failures.
    other = world.who(C, Role.PROGRAM_MANAGER)
    assert (
        sign_in(
            world.session, email=other.email, password=SECRET, address=HOME, now=world.now
        ).actor
        == other
    )
    assert held.retry_at is not None
    later = sign_in(world.session, email=bo.email, password=SECRET, address=HOME, now=held.retry_at)
    assert later.actor == bo


def test_a_success_starts_the_email_count_afresh(world: World) -> None:
    bo = world.who(C, Role.BUSINESS_OWNER)
    for _ in range(MAX_FAILURES_PER_EMAIL - 1):
        sign_in(world.session, email=bo.email, password="guess", address=HOME, now=world.tick())
    ok = sign_in(world.session, email=bo.email, password=SECRET, address=HOME, now=world.tick())
    assert ok.actor == bo
    for _ in range(MAX_FAILURES_PER_EMAIL - 1):
        sign_in(world.session, email=bo.email, password="guess", address=HOME, now=world.tick())
    again = sign_in(world.session, email=bo.email, password=SECRET, address=HOME, now=world.tick())
    assert again.actor == bo


def test_an_address_guessing_many_emails_is_held_back(world: World) -> None:
    # Earlier failures from this address, for many emails (rows as sign_in writes them).
    for i in range(MAX_FAILURES_PER_ADDRESS):
        world.session.add(
            LoginAttempt(
                email=f"guess{i}@example.org",
                address="192.0.2.7",
                succeeded=False,
                attempted_at=world.now - timedelta(seconds=MAX_FAILURES_PER_ADDRESS - i),
            )
        )
    world.session.commit()
    bo = world.who(C, Role.BUSINESS_OWNER)
    held = sign_in(
        world.session, email=bo.email, password=SECRET, address="192.0.2.7", now=world.now
    )
    assert held.token is None
    assert held.retry_at is not None
    assert held.retry_at - world.now < ATTEMPT_WINDOW
    elsewhere = sign_in(world.session, email=bo.email, password=SECRET, address=HOME, now=world.now)
    assert elsewhere.actor == bo


def test_signing_out_ends_the_session(world: World) -> None:
    bo = world.who(C, Role.BUSINESS_OWNER)
    token = sign_in(
        world.session, email=bo.email, password=SECRET, address=HOME, now=world.now
    ).token
    assert token is not None
    sign_out(world.session, token=token, now=world.tick())
    assert signed_in(world.session, token, world.now) is None
    sign_out(world.session, token=token, now=world.tick())  # twice: nothing more happens
    actions = world.session.exec(
        select(AuditEvent.action)
        .where(col(AuditEvent.action).startswith("user.sign"))
        .order_by(col(AuditEvent.id))
    ).all()
    assert list(actions) == ["user.signed_in", "user.signed_out"]


def test_a_new_password_ends_open_sessions(world: World) -> None:
    bo = world.who(C, Role.BUSINESS_OWNER)
    token = sign_in(
        world.session, email=bo.email, password=SECRET, address=HOME, now=world.now
    ).token
    assert token is not None
    set_passwords(
        world.session, actor=bo, emails=[bo.email], password="another long one", now=world.tick()
    )
    assert signed_in(world.session, token, world.now) is None
    ended = world.session.exec(select(WebSession).where(col(WebSession.revoked_at).is_not(None)))
    assert len(ended.all()) == 1
    again = sign_in(
        world.session, email=bo.email, password="another long one", address=HOME, now=world.now
    )
    assert again.actor == bo


def test_new_passwords_are_checked_and_only_admins_set_others(world: World) -> None:
    bo = world.who(C, Role.BUSINESS_OWNER)
    with pytest.raises(InvalidInput, match="at least 10 characters"):
        set_passwords(world.session, actor=None, emails=[bo.email], password="short", now=world.now)
    with pytest.raises(Forbidden):
        set_passwords(
            world.session,
            actor=bo,
            emails=[world.who(P, Role.BUSINESS_OWNER).email],
            password="a long enough one",
            now=world.now,
        )
    with pytest.raises(NotFound, match=r"nobody@example\.org"):
        set_passwords(
            world.session,
            actor=None,
            emails=["nobody@example.org"],
            password="a long enough one",
            now=world.now,
        )
    world.session.rollback()
    stored = world.session.exec(select(User.password_hash).where(User.id == bo.user_id)).one()
    assert verify_password(stored, SECRET)


def test_an_expired_session_is_not_signed_in(world: World) -> None:
    bo = world.who(C, Role.BUSINESS_OWNER)
    token = sign_in(
        world.session, email=bo.email, password=SECRET, address=HOME, now=world.now
    ).token
    assert token is not None
    almost = world.now + SESSION_LIFETIME - timedelta(seconds=1)
    assert signed_in(world.session, token, almost) == bo
    assert signed_in(world.session, token, world.now + SESSION_LIFETIME) is None
