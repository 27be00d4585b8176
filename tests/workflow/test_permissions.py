"""workflow/permissions.py: who may fire what now, through roles, tasks and delegations, and
what a refusal offers instead; on both databases."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session

from states import LIFECYCLE, Role, Side
from tests.helpers import C, P, World, make_world
from workflow import commands
from workflow.access import Actor
from workflow.errors import Forbidden, NotAllowedNow, NotFound
from workflow.guards import VersionContext
from workflow.models import Agreement
from workflow.permissions import (
    allowed_events,
    context_grants,
    holds_task,
    lock_agreement,
    lock_version,
    may_fire,
    not_allowed_now,
    task_for,
)


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def _context(world: World, agreement: Agreement, number: int = 1) -> VersionContext:
    version = world.version(agreement, number)
    loaded = world.session.get(Agreement, agreement.id)
    assert loaded is not None
    return VersionContext(world.session, loaded, version, now=world.now)


def _today(world: World) -> date:
    return world.now.date()


def _allowed(world: World, ctx: VersionContext, actor: Actor) -> list[str]:
    day = _today(world)
    return allowed_events(ctx, actor, context_grants(ctx, actor, day), day)


def _stranger(world: World) -> Actor:
    org = commands.create_organization(world.session, actor=None, name="Elsewhere", now=world.now)
    assert org.id is not None
    user = commands.create_user(
        world.session,
        actor=None,
        email="someone@elsewhere.test",
        name="Someone Else",
        organization_id=org.id,
        now=world.now,
    )
    return Actor.of(user)


def _delegate(world: World, delegator: Actor, delegate: Actor) -> None:
    commands.create_delegation(
        world.session,
        actor=delegator,
        delegate_id=delegate.user_id,
        starts_on=_today(world),
        ends_on=_today(world),
        now=world.tick(),
    )


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ((C, Role.PROGRAM_MANAGER), ["submit_for_review", "withdraw"]),
        ((P, Role.PROGRAM_MANAGER), ["submit_for_review", "withdraw"]),
        ((P, Role.TECHNICAL_LEAD), ["submit_for_review"]),
        ((C, Role.BUSINESS_OWNER), []),
        ((C, Role.FUNCTIONAL_SME), []),
    ],
)
def test_in_a_draft_roles_decide(world: World, who: tuple[Side, Role], expected: list[str]) -> None:
    ctx = _context(world, world.create())
    assert _allowed(world, ctx, world.who(*who)) == expected


def test_in_review_only_the_reviewers_may_request_changes(world: World) -> None:
    agreement = world.create()
    world.to_joint_review(agreement)
    ctx = _context(world, agreement)
    assert _allowed(world, ctx, world.who(C, Role.FUNCTIONAL_LEAD)) == ["request_changes"]
    assert _allowed(world, ctx, world.who(P, Role.TECHNICAL_LEAD)) == ["request_changes"]
    # Program Managers may withdraw but hold no review task; nobody fires complete_review.
    assert _allowed(world, ctx, world.who(C, Role.PROGRAM_MANAGER)) == ["withdraw"]
    assert _allowed(world, ctx, world.who(C, Role.BUSINESS_OWNER)) == []


def test_in_approval_each_approver_may_reject_and_only_while_their_task_is_open(
    world: World,
) -> None:
    agreement = world.create()
    world.to_approval(agreement)
    owner = world.who(C, Role.BUSINESS_OWNER)
    assert _allowed(world, _context(world, agreement), owner) == ["reject"]
    (task,) = (t for t in world.open_tasks(agreement, "approval") if t.assignee_id == owner.user_id)
    world.complete(task, "approved")
    assert _allowed(world, _context(world, agreement), owner) == []


def test_system_events_are_nobody_s_to_fire(world: World) -> None:
    agreement = world.create()
    world.to_active(agreement)
    ctx = _context(world, agreement)
    day = _today(world)
    for who in world.parties.actors:
        actor = world.who(*who)
        grants_ = context_grants(ctx, actor, day)
        for event in ("supersede", "expire"):
            assert not may_fire(ctx, LIFECYCLE.transition(event), actor, grants_, day)
    owner = world.who(P, Role.BUSINESS_OWNER)
    assert _allowed(world, ctx, owner) == ["terminate"]


def test_a_delegate_holds_the_delegator_s_roles_and_tasks_for_the_day(world: World) -> None:
    agreement = world.create()
    world.to_joint_review(agreement)
    lead, sme = world.who(C, Role.FUNCTIONAL_LEAD), world.who(C, Role.FUNCTIONAL_SME)
    ctx = _context(world, agreement)
    day = _today(world)
    assert not holds_task(ctx, sme, "review", day)
    _delegate(world, lead, sme)
    ctx = _context(world, agreement)
    grants_ = context_grants(ctx, sme, day)
    assert {(g.side, g.role, g.on_behalf_of_id) for g in grants_} == {
        (C, Role.FUNCTIONAL_SME, None),
        (C, Role.FUNCTIONAL_LEAD, lead.user_id),
    }
    task, on_behalf_of = task_for(ctx, sme, "review", day)
    assert (task.assignee_id, on_behalf_of) == (lead.user_id, lead.user_id)
    assert _allowed(world, ctx, sme) == ["request_changes"]
    # The day after, the delegation is over.
    tomorrow = date.fromordinal(day.toordinal() + 1)
    assert not holds_task(_context(world, agreement), sme, "review", tomorrow)


def test_someone_without_the_task_is_told_who_may(world: World) -> None:
    agreement = world.create()
    world.to_joint_review(agreement)
    ctx = _context(world, agreement)
    with pytest.raises(Forbidden, match="only the holder of an open review task"):
        task_for(ctx, world.who(C, Role.PROGRAM_MANAGER), "review", _today(world))


def test_not_allowed_now_names_the_state_and_what_the_actor_may_do(world: World) -> None:
    agreement = world.create()
    ctx = _context(world, agreement)
    pm, owner = world.who(C, Role.PROGRAM_MANAGER), world.who(C, Role.BUSINESS_OWNER)
    day = _today(world)
    refusal = not_allowed_now(ctx, pm, "activate", context_grants(ctx, pm, day), day)
    assert refusal.message == (
        "activate is not allowed while version 1 is draft; you may: submit_for_review, withdraw"
    )
    assert (refusal.current_state, refusal.allowed_events) == (
        "draft",
        ["submit_for_review", "withdraw"],
    )
    nothing = not_allowed_now(ctx, owner, "activate", context_grants(ctx, owner, day), day)
    assert nothing.message == "activate is not allowed while version 1 is draft"
    assert nothing.allowed_events == []


def test_firing_out_of_state_carries_the_allowed_events(world: World) -> None:
    agreement = world.create()
    with pytest.raises(NotAllowedNow) as refusal:
        world.fire(agreement, "terminate", world.who(P, Role.PROGRAM_MANAGER), comment="x")
    assert refusal.value.allowed_events == ["submit_for_review", "withdraw"]


def test_strangers_and_missing_versions_are_not_found(world: World) -> None:
    agreement = world.create()
    assert agreement.id is not None
    stranger = _stranger(world)
    pm = world.who(C, Role.PROGRAM_MANAGER)
    with pytest.raises(NotFound, match="no such agreement"):
        lock_agreement(world.session, agreement.id, stranger)
    world.session.rollback()
    with pytest.raises(NotFound, match="no such agreement"):
        lock_version(world.session, agreement.id, stranger, number=1)
    world.session.rollback()
    with pytest.raises(NotFound, match=f"{agreement.key} has no version 9"):
        lock_version(world.session, agreement.id, pm, number=9)
    world.session.rollback()
    with pytest.raises(NotFound, match="no such agreement"):
        lock_agreement(world.session, agreement.id + 100, None)
    world.session.rollback()


def test_lock_version_reads_the_version_and_both_calendars(world: World) -> None:
    agreement = world.create()
    assert agreement.id is not None
    pm = world.who(P, Role.PROGRAM_MANAGER)
    locked, version, calendars = lock_version(world.session, agreement.id, pm, number=1)
    assert (locked.id, version.number, version.state) == (agreement.id, 1, "draft")
    assert calendars == {C: "US", P: "US"}
    same = lock_version(world.session, agreement.id, pm, version_id=version.id)
    assert same[1] is version
    world.session.rollback()
