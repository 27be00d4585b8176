"""The administration pages' queries: counts, accounts, token and delegation lists (both
databases)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session, col, select

from states import Role, Side
from tests.helpers import T0, C, P, World, make_world
from workflow import commands
from workflow.models import Delegation, Organization, OutboxMessage, User
from workflow.queries.admin import (
    DelegationRow,
    account,
    active_flags,
    admin_counts,
    list_delegations,
    list_tokens,
    token,
    tokens_of,
)

TODAY = date(2026, 11, 2)  # T0's day in the business time zone


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def _user_id(world: World, side: Side, role: Role) -> int:
    user_id = world.who(side, role).user_id
    assert user_id is not None
    return user_id


def _delegate(world: World, *, created: int, starts: int, ends: int) -> Delegation:
    """The customer's Business Owner hands their tasks to their Program Manager; the numbers
    are days from T0."""
    return commands.create_delegation(
        world.session,
        actor=world.who(C, Role.BUSINESS_OWNER),
        delegate_id=_user_id(world, C, Role.PROGRAM_MANAGER),
        starts_on=TODAY + timedelta(days=starts),
        ends_on=TODAY + timedelta(days=ends),
        now=T0 + timedelta(days=created),
    )


def _new_token(world: World, side: Side, role: Role) -> int:
    created, _ = commands.create_token(
        world.session, actor=None, user_id=_user_id(world, side, role), now=T0
    )
    assert created.id is not None
    return created.id


def _set(session: Session, row: Delegation | OutboxMessage, **values: object) -> None:
    """What the dispatcher or a later command would have done to the row."""
    for name, value in values.items():
        setattr(row, name, value)
    session.add(row)
    session.commit()


def test_counts_leave_out_revoked_tokens_past_delegations_and_sent_mail(
    world: World, session: Session
) -> None:
    owner = _user_id(world, C, Role.BUSINESS_OWNER)
    made = [commands.create_token(session, actor=None, user_id=owner, now=T0)[0] for _ in range(3)]
    commands.revoke_token(session, actor=None, token_id=made[0].id, now=T0)  # type: ignore[arg-type]
    _delegate(world, created=-10, starts=-10, ends=-5)  # ended before today
    _delegate(world, created=0, starts=0, ends=7)  # current
    _set(session, _delegate(world, created=0, starts=3, ends=10), revoked_at=T0)
    # Each delegation queued one email; the dispatcher gave up on the first.
    first = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).first()
    assert first is not None
    _set(session, first, status="dead")

    counts = admin_counts(session, today=TODAY)

    assert counts.model_dump() == {
        "organizations": 2,
        "users": 18,
        "tokens": 2,
        "delegations": 1,
        "pending": 2,
        "dead": 1,
    }


def test_an_account_shows_its_organisation_password_and_tokens(
    world: World, session: Session
) -> None:
    user_id = _user_id(world, P, Role.PMO_TEAM)
    older, _ = commands.create_token(session, actor=None, user_id=user_id, name="ci", now=T0)
    newer, _ = commands.create_token(session, actor=None, user_id=user_id, name="etl", now=T0)
    commands.revoke_token(session, actor=None, token_id=older.id, now=T0)  # type: ignore[arg-type]
    user = session.get(User, user_id)
    assert user is not None
    org = session.get(Organization, user.organization_id)
    assert org is not None

    shown = account(session, user_id)

    assert shown is not None
    assert (shown.email, shown.name, shown.organization_name) == (user.email, user.name, org.name)
    assert (shown.is_admin, shown.is_active, shown.has_password) == (False, True, False)
    listed = tokens_of(session, user_id)
    assert [(t.id, t.name, t.revoked_at is not None) for t in listed] == [
        (newer.id, "etl", False),
        (older.id, "ci", True),
    ]
    assert "token_hash" not in listed[0].model_dump()
    assert account(session, 999_999) is None
    assert tokens_of(session, 999_999) == []


def test_active_flags_name_each_user_asked_for(world: World, session: Session) -> None:
    kept, gone = _user_id(world, C, Role.PMO_LEAD), _user_id(world, P, Role.PMO_LEAD)
    user = session.get(User, gone)
    assert user is not None
    user.is_active = False
    session.add(user)
    session.commit()

    assert active_flags(session, [kept, gone, 999_999]) == {kept: True, gone: False}
    assert active_flags(session, []) == {}


def test_tokens_page_newest_first(world: World, session: Session) -> None:
    owners = [(C, Role.BUSINESS_OWNER), (P, Role.PMO_TEAM), (C, Role.PMO_LEAD)]
    ids = [_new_token(world, side, role) for side, role in owners]

    first = list_tokens(session, limit=2, after=None)
    rest = list_tokens(session, limit=2, after=first.next_after)

    assert [t.id for t in first.items] == [ids[2], ids[1]]
    assert first.next_after == [ids[1]]
    assert [t.id for t in rest.items] == [ids[0]]
    assert rest.next_after is None
    found = token(session, ids[1])
    assert found is not None
    assert found.user_id == _user_id(world, P, Role.PMO_TEAM)
    assert token(session, 999_999) is None


def test_delegations_page_newest_first_with_their_status(world: World, session: Session) -> None:
    ended = _delegate(world, created=-10, starts=-10, ends=-5)
    current = _delegate(world, created=0, starts=0, ends=7)
    upcoming = _delegate(world, created=0, starts=3, ends=10)

    first = list_delegations(session, limit=2, after=None)
    rest = list_delegations(session, limit=2, after=first.next_after)

    assert [d.id for d in first.items] == [upcoming.id, current.id]
    assert [d.id for d in rest.items] == [ended.id]
    assert rest.next_after is None
    statuses = [d.status_on(TODAY) for d in [*first.items, *rest.items]]
    assert statuses == ["upcoming", "current", "ended"]


def test_a_revoked_delegation_is_revoked_whatever_its_dates() -> None:
    row = DelegationRow(
        id=1,
        delegator_id=1,
        delegate_id=2,
        starts_on=TODAY,
        ends_on=TODAY + timedelta(days=7),
        created_at=T0,
        revoked_at=T0,
    )
    assert row.status_on(TODAY) == "revoked"
    assert row.model_copy(update={"revoked_at": None}).status_on(TODAY) == "current"
    last_day = TODAY + timedelta(days=7)
    assert row.model_copy(update={"revoked_at": None}).status_on(last_day) == "current"
    assert row.model_copy(update={"revoked_at": None}).status_on(last_day + timedelta(1)) == "ended"
