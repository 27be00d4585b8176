"""Recipients are resolved at send time: assignees or their active delegates (delegator in
copy), role holders, every stakeholder; nobody twice; inactive users skipped; digest users'
shares kept for their digest."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from notifications.recipient_spec import RecipientSpecError, Request
from notifications.recipients import Resolution, resolve, resolve_message
from states import Role, Side
from tests.helpers import T0, C, P, World, make_world
from workflow import commands
from workflow.commands.notifications import set_notification_mode
from workflow.models import NotificationDelivery, OutboxMessage, User

TODAY = T0.date()


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def uid(world: World, side: Side, role: Role) -> int:
    return world.who(side, role).user_id


def resolved(
    world: World, spec: dict[str, Any], *, agreement_id: int | None = None, today: date = TODAY
) -> Resolution:
    world.session.rollback()
    return resolve_message(
        world.session, outbox_id=0, agreement_id=agreement_id, recipients=spec, today=today
    )


def shape(resolution: Resolution) -> list[tuple[int, list[int]]]:
    """Each envelope as (To, [Cc...]) user ids."""
    return [(e.to.user_id, [c.user_id for c in e.cc]) for e in resolution.envelopes]


def delegate(world: World, frm: tuple[Side, Role], to: tuple[Side, Role], days: int = 5) -> None:
    commands.create_delegation(
        world.session,
        actor=world.who(*frm),
        delegate_id=uid(world, *to),
        starts_on=TODAY,
        ends_on=TODAY + timedelta(days=days),
        now=T0,
    )


def deactivate(world: World, user_id: int) -> None:
    user = world.session.get(User, user_id)
    assert user is not None
    user.is_active = False
    world.session.add(user)
    world.session.commit()


def digest_mode(world: World, user_id: int) -> None:
    set_notification_mode(world.session, actor=None, user_id=user_id, mode="digest", now=T0)


def test_the_assignee_receives_it(world: World) -> None:
    pm = uid(world, C, Role.PROGRAM_MANAGER)
    result = resolved(world, {"user_ids": [pm]})
    assert shape(result) == [(pm, [])]
    assert result.envelopes[0].to.reason == "assignee"
    assert result.envelopes[0].to.person.email == world.who(C, Role.PROGRAM_MANAGER).email


def test_an_active_delegate_receives_it_with_the_delegator_in_copy(world: World) -> None:
    pm, lead = uid(world, C, Role.PROGRAM_MANAGER), uid(world, C, Role.PMO_LEAD)
    delegate(world, (C, Role.PROGRAM_MANAGER), (C, Role.PMO_LEAD), days=2)
    result = resolved(world, {"user_ids": [pm]})
    assert shape(result) == [(lead, [pm])]
    to, (cc,) = result.envelopes[0].to, result.envelopes[0].cc
    assert (to.reason, to.acting_for and to.acting_for.user_id) == ("delegate", pm)
    assert (cc.reason, cc.delegate and cc.delegate.user_id) == ("delegator", lead)
    # Before it starts and after it ends, the assignee is mailed directly.
    assert shape(resolved(world, {"user_ids": [pm]}, today=TODAY - timedelta(days=1))) == [(pm, [])]
    assert shape(resolved(world, {"user_ids": [pm]}, today=TODAY + timedelta(days=3))) == [(pm, [])]
    # `"delegate": false` (e.g. for a message about the delegation itself) names people as is.
    assert shape(resolved(world, {"user_ids": [pm], "delegate": False})) == [(pm, [])]


def test_a_delegation_started_message_reaches_both_once(world: World) -> None:
    pm, lead = uid(world, C, Role.PROGRAM_MANAGER), uid(world, C, Role.PMO_LEAD)
    delegate(world, (C, Role.PROGRAM_MANAGER), (C, Role.PMO_LEAD))
    row = world.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "delegation.started")
    ).one()
    assert shape(resolved(world, row.recipients)) == [(lead, [pm])]


def test_every_stakeholder_of_both_sides_once(world: World) -> None:
    agreement = world.create()
    everyone = {a.user_id for a in world.parties.actors.values()}
    result = resolved(world, {"stakeholders": "all"}, agreement_id=agreement.id)
    to = [e.to.user_id for e in result.envelopes]
    assert len(to) == len(everyone) == 18
    assert set(to) == everyone
    assert all(e.to.reason == "role_holder" and e.to.side and e.to.role for e in result.envelopes)
    assert result.envelopes[0].to.side == "customer"


def test_one_person_in_two_roles_or_named_twice_is_mailed_once(world: World) -> None:
    pm = world.who(C, Role.PROGRAM_MANAGER)
    stakeholders = [
        s if (s.side, s.role) != (C, Role.PMO_LEAD) else replace(s, user_id=pm.user_id)
        for s in world.parties.stakeholders()
    ]
    agreement = world.create(stakeholders=stakeholders)
    result = resolved(
        world,
        {"stakeholders": "all", "user_ids": [pm.user_id, pm.user_id]},
        agreement_id=agreement.id,
    )
    to = [e.to.user_id for e in result.envelopes]
    assert len(to) == len(set(to)) == 17
    assert to[0] == pm.user_id
    assert result.envelopes[0].to.reason == "assignee"


def test_a_delegate_who_is_also_a_stakeholder_gets_one_email_with_the_delegator_copied(
    world: World,
) -> None:
    agreement = world.create()
    pm, lead = uid(world, C, Role.PROGRAM_MANAGER), uid(world, C, Role.PMO_LEAD)
    delegate(world, (C, Role.PMO_LEAD), (C, Role.PROGRAM_MANAGER))
    result = resolved(world, {"stakeholders": "all"}, agreement_id=agreement.id)
    people = [p.user_id for e in result.envelopes for p in e.people]
    assert len(people) == len(set(people)) == 18
    assert (pm, [lead]) in shape(result)


def test_role_holders_and_the_program_manager_for_an_empty_role(world: World) -> None:
    stakeholders = [
        s for s in world.parties.stakeholders() if (s.side, s.role) != (P, Role.PMO_LEAD)
    ]
    agreement = world.create(stakeholders=stakeholders)
    spec = {
        "roles": [
            {"side": "customer", "role": "executive_sponsor"},
            {"side": "provider", "role": "pmo_lead"},
        ],
        "reason": "escalation",
    }
    result = resolved(world, spec, agreement_id=agreement.id)
    assert shape(result) == [
        (uid(world, C, Role.EXECUTIVE_SPONSOR), []),
        (uid(world, P, Role.PROGRAM_MANAGER), []),
    ]
    assert [e.to.reason for e in result.envelopes] == ["escalation", "escalation"]
    assert result.envelopes[1].to.role == "program_manager"


def test_inactive_users_receive_nothing(world: World) -> None:
    pm, lead, sme = (
        uid(world, C, Role.PROGRAM_MANAGER),
        uid(world, C, Role.PMO_LEAD),
        uid(world, C, Role.TECHNICAL_SME),
    )
    delegate(world, (C, Role.PROGRAM_MANAGER), (C, Role.PMO_LEAD))
    deactivate(world, sme)
    assert shape(resolved(world, {"user_ids": [sme]})) == []
    # An inactive delegate is passed over: the assignee gets it directly.
    deactivate(world, lead)
    assert shape(resolved(world, {"user_ids": [pm]})) == [(pm, [])]


def test_an_inactive_assignees_work_still_reaches_their_delegate(world: World) -> None:
    pm, lead = uid(world, C, Role.PROGRAM_MANAGER), uid(world, C, Role.PMO_LEAD)
    delegate(world, (C, Role.PROGRAM_MANAGER), (C, Role.PMO_LEAD))
    deactivate(world, pm)
    assert shape(resolved(world, {"user_ids": [pm]})) == [(lead, [])]


def test_digest_users_get_a_share_instead_of_an_email(world: World) -> None:
    pm, lead, bo = (
        uid(world, C, Role.PROGRAM_MANAGER),
        uid(world, C, Role.PMO_LEAD),
        uid(world, C, Role.BUSINESS_OWNER),
    )
    digest_mode(world, bo)
    result = resolved(world, {"user_ids": [pm, bo]})
    assert shape(result) == [(pm, [])]
    assert [r.user_id for r in result.digest] == [bo]
    # The digest itself is mailed at once.
    assert shape(resolved(world, {"user_ids": [bo], "immediate": True})) == [(bo, [])]
    # A delegate on digest: the delegator (immediate) is mailed on their own.
    digest_mode(world, lead)
    delegate(world, (C, Role.PROGRAM_MANAGER), (C, Role.PMO_LEAD))
    result = resolved(world, {"user_ids": [pm]})
    assert shape(result) == [(pm, [])]
    assert result.envelopes[0].to.reason == "delegator"
    assert [r.user_id for r in result.digest] == [lead]


def test_people_an_earlier_attempt_reached_are_left_out(world: World) -> None:
    pm, bo = uid(world, C, Role.PROGRAM_MANAGER), uid(world, C, Role.BUSINESS_OWNER)
    world.session.rollback()
    row = OutboxMessage(
        topic="task.assigned", dedupe_key="x", recipients={"user_ids": [pm, bo]}, next_attempt_at=T0
    )
    world.session.add(row)
    world.session.flush()
    assert row.id is not None
    world.session.add(
        NotificationDelivery(
            outbox_id=row.id, user_id=pm, channel="to", reason="assignee", recorded_at=T0
        )
    )
    world.session.commit()
    results = resolve(world.session, [Request(row.id, None, row.recipients)], today=TODAY)
    result = results[row.id]
    assert isinstance(result, Resolution)
    assert shape(result) == [(bo, [])]


def test_roles_without_an_agreement_are_refused(world: World) -> None:
    with pytest.raises(RecipientSpecError, match="agreement_id"):
        resolved(world, {"stakeholders": "all"})
