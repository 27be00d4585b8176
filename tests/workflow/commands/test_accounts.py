"""Accounts: invitations and resets by one-use, expiring links; changing one's own password;
roles, auditors and disabled accounts; every act on the system chain."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from states import Role
from tests.helpers import C, World, make_world
from workflow import audit, commands
from workflow.access import Actor
from workflow.commands.accounts import (
    INVITATION_LIFETIME,
    MAX_RESETS_PER_HOUR,
    RESET_LIFETIME,
    change_password,
    invite_user,
    link_holder,
    reinvite_user,
    request_password_reset,
    use_link,
)
from workflow.commands.sign_in import set_passwords, sign_in
from workflow.errors import Conflict, InvalidInput
from workflow.models import AccountLink, AuditEvent, LoginAttempt, OutboxMessage, User
from workflow.models.parties import WebSession

SECRET = "correct horse battery"
NEW = "a brand new passphrase"
HOME = "127.0.0.1"


@pytest.fixture
def world(session: Session) -> World:
    world = make_world(session)
    emails = [a.email for a in world.parties.actors.values()]
    set_passwords(session, actor=None, emails=emails, password=SECRET, now=world.now)
    return world


@pytest.fixture
def admin(world: World) -> Actor:
    user = commands.create_user(
        world.session,
        actor=None,
        email="ada@accord.example",
        name="Ada Admin",
        organization_id=world.parties.provider_org_id,
        is_admin=True,
        now=world.tick(),
    )
    return Actor.of(user)


def _system(session: Session, action: str) -> list[dict[str, object]]:
    bodies = session.exec(
        select(AuditEvent.body)
        .where(AuditEvent.chain == audit.SYSTEM_CHAIN, AuditEvent.action == action)
        .order_by(col(AuditEvent.seq))
    ).all()
    session.rollback()
    return [json.loads(b)["data"] for b in bodies]


def _mailed(session: Session, topic: str) -> list[OutboxMessage]:
    rows = list(session.exec(select(OutboxMessage).where(OutboxMessage.topic == topic)).all())
    session.rollback()
    return rows


def _invite(world: World, admin: Actor, email: str = "newcomer@customer.example") -> str:
    invite_user(
        world.session,
        actor=admin,
        email=email,
        name="Nia Newcomer",
        organization_id=world.parties.customer_org_id,
        now=world.tick(),
    )
    return str(_mailed(world.session, "account.invitation")[-1].payload["token"])


def test_an_invitation_creates_the_person_without_a_password_and_mails_them_a_link(
    world: World, admin: Actor
) -> None:
    token = _invite(world, admin)
    user = world.session.exec(select(User).where(User.email == "newcomer@customer.example")).one()
    assert user.password_hash is None
    (message,) = _mailed(world.session, "account.invitation")
    assert message.recipients == {"user_ids": [user.id], "immediate": True, "delegate": False}
    assert message.payload["invited_by"] == "Ada Admin"
    # Only the token's hash is stored.
    link = world.session.exec(select(AccountLink)).one()
    assert token not in link.token_hash
    assert link.expires_at == world.now + INVITATION_LIFETIME
    assert [e["email"] for e in _system(world.session, "user.invited")] == [user.email]
    created = _system(world.session, "user.created")
    assert created[-1]["email"] == user.email


def test_the_link_sets_the_password_once(world: World, admin: Actor) -> None:
    token = _invite(world, admin)
    holder = link_holder(world.session, token, world.tick())
    assert (holder.purpose, holder.email) == ("invitation", "newcomer@customer.example")
    use_link(world.session, token=token, password=NEW, now=world.tick())
    opened = sign_in(
        world.session, email=holder.email, password=NEW, address=HOME, now=world.tick()
    )
    assert opened.token is not None
    with pytest.raises(Conflict, match="already used"):
        use_link(world.session, token=token, password="yet another passphrase", now=world.tick())
    with pytest.raises(Conflict, match="already used"):
        link_holder(world.session, token, world.tick())
    assert len(_system(world.session, "user.invitation_accepted")) == 1


def test_an_expired_link_is_refused_and_changes_nothing(world: World, admin: Actor) -> None:
    token = _invite(world, admin)
    world.now += INVITATION_LIFETIME + timedelta(seconds=1)
    with pytest.raises(Conflict, match="expired"):
        use_link(world.session, token=token, password=NEW, now=world.tick())
    user = world.session.exec(select(User).where(User.email == "newcomer@customer.example")).one()
    assert user.password_hash is None


def test_a_newer_link_replaces_the_older_one(world: World, admin: Actor) -> None:
    first = _invite(world, admin)
    user = world.session.exec(select(User).where(User.email == "newcomer@customer.example")).one()
    assert user.id is not None
    reinvite_user(world.session, actor=admin, user_id=user.id, now=world.tick())
    second = str(_mailed(world.session, "account.invitation")[-1].payload["token"])
    assert second != first
    with pytest.raises(Conflict):
        use_link(world.session, token=first, password=NEW, now=world.tick())
    use_link(world.session, token=second, password=NEW, now=world.tick())


def test_a_short_password_is_refused_and_the_link_stays_usable(world: World, admin: Actor) -> None:
    token = _invite(world, admin)
    with pytest.raises(InvalidInput) as refused:
        use_link(world.session, token=token, password="short", now=world.tick())
    assert refused.value.errors[0]["field"] == "password"
    assert link_holder(world.session, token, world.tick()).purpose == "invitation"


def test_a_reset_for_an_unknown_address_writes_nothing(world: World) -> None:
    request_password_reset(world.session, email="nobody@nowhere.example", now=world.tick())
    assert _mailed(world.session, "account.password_reset") == []
    assert world.session.exec(select(AccountLink)).all() == []


def test_a_reset_mails_a_one_hour_link_and_ends_open_sessions(world: World) -> None:
    bo = world.who(C, Role.BUSINESS_OWNER)
    opened = sign_in(world.session, email=bo.email, password=SECRET, address=HOME, now=world.now)
    assert opened.token is not None
    request_password_reset(world.session, email=bo.email.upper(), now=world.tick())
    (message,) = _mailed(world.session, "account.password_reset")
    link = world.session.exec(select(AccountLink)).one()
    assert link.expires_at == world.now + RESET_LIFETIME
    use_link(world.session, token=str(message.payload["token"]), password=NEW, now=world.tick())
    sessions = world.session.exec(select(WebSession).where(WebSession.user_id == bo.user_id)).all()
    assert all(s.revoked_at is not None for s in sessions)
    assert len(_system(world.session, "user.password_reset")) == 1


def test_resets_are_limited_per_person_and_hour(world: World) -> None:
    bo = world.who(C, Role.BUSINESS_OWNER)
    for _ in range(MAX_RESETS_PER_HOUR + 2):
        request_password_reset(world.session, email=bo.email, now=world.tick())
    assert len(_mailed(world.session, "account.password_reset")) == MAX_RESETS_PER_HOUR
    world.now += timedelta(hours=1, minutes=1)
    request_password_reset(world.session, email=bo.email, now=world.tick())
    assert len(_mailed(world.session, "account.password_reset")) == MAX_RESETS_PER_HOUR + 1


def test_changing_my_password_needs_the_current_one(world: World) -> None:
    bo = world.who(C, Role.BUSINESS_OWNER)
    with pytest.raises(InvalidInput) as wrong:
        change_password(world.session, actor=bo, current="not it", new=NEW, now=world.tick())
    assert [e["field"] for e in wrong.value.errors] == ["current_password"]
    failures = world.session.exec(
        select(LoginAttempt).where(LoginAttempt.email == bo.email, LoginAttempt.succeeded == False)  # noqa: E712
    ).all()
    assert len(failures) == 1  # counts towards the sign-in throttle
    with pytest.raises(InvalidInput) as short:
        change_password(world.session, actor=bo, current=SECRET, new="short", now=world.tick())
    assert [e["field"] for e in short.value.errors] == ["new_password"]


def test_changing_my_password_keeps_this_session_and_ends_the_others(world: World) -> None:
    bo = world.who(C, Role.BUSINESS_OWNER)
    here = sign_in(world.session, email=bo.email, password=SECRET, address=HOME, now=world.now)
    there = sign_in(world.session, email=bo.email, password=SECRET, address=HOME, now=world.now)
    assert here.token is not None
    assert there.token is not None
    change_password(
        world.session, actor=bo, current=SECRET, new=NEW, now=world.tick(), keep_session=here.token
    )
    open_ = world.session.exec(
        select(WebSession).where(
            WebSession.user_id == bo.user_id, col(WebSession.revoked_at).is_(None)
        )
    ).all()
    assert len(open_) == 1
    assert sign_in(
        world.session, email=bo.email, password=NEW, address=HOME, now=world.tick()
    ).token
    (event,) = _system(world.session, "user.password_changed")
    assert event["sessions_ended"] == 1


def test_an_auditor_holds_no_stakeholder_role_and_role_changes_are_audited(
    world: World, admin: Actor
) -> None:
    world.create()  # the Business Owner now holds a role in an agreement
    bo = world.who(C, Role.BUSINESS_OWNER)
    with pytest.raises(Conflict, match="stakeholder roles"):
        commands.set_role(
            world.session, actor=admin, user_id=bo.user_id, role="auditor", now=world.tick()
        )
    reader = commands.create_user(
        world.session,
        actor=admin,
        email="rita@customer.example",
        name="Rita Reader",
        organization_id=world.parties.customer_org_id,
        now=world.tick(),
    )
    assert reader.id is not None
    commands.set_role(
        world.session, actor=admin, user_id=reader.id, role="global_auditor", now=world.tick()
    )
    assert Actor.of(world.session.get(User, reader.id)).audits_everything  # type: ignore[arg-type]
    (event,) = _system(world.session, "user.role_changed")
    assert (event["before"], event["after"]) == ("member", "global_auditor")
    with pytest.raises(Conflict, match="your own"):
        commands.set_role(
            world.session, actor=admin, user_id=admin.user_id, role="member", now=world.tick()
        )


def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(world: World, admin: Actor) -> None:
    pm = world.who(C, Role.PROGRAM_MANAGER)
    opened = sign_in(world.session, email=pm.email, password=SECRET, address=HOME, now=world.now)
    assert opened.token is not None
    commands.set_active(
        world.session, actor=admin, user_id=pm.user_id, active=False, now=world.tick()
    )
    assert (
        sign_in(
            world.session, email=pm.email, password=SECRET, address=HOME, now=world.tick()
        ).token
        is None
    )
    (event,) = _system(world.session, "user.disabled")
    assert event["sessions_ended"] == 1
    request_password_reset(world.session, email=pm.email, now=world.tick())
    assert _mailed(world.session, "account.password_reset") == []


def test_a_token_cannot_expire_in_the_past(world: World, admin: Actor) -> None:
    with pytest.raises(InvalidInput) as refused:
        commands.create_token(
            world.session,
            actor=admin,
            user_id=admin.user_id,
            expires_at=world.now - timedelta(minutes=1),
            now=world.tick(),
        )
    assert refused.value.errors[0]["field"] == "expires_at"
