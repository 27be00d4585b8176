"""workflow/guards.py: each guard of the lifecycle holds and refuses, on both databases, and a
refusal names the failed guards in the spec's words (states/lifecycle.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlmodel import Session

from states import LIFECYCLE, Role
from tests.helpers import C, P, World, make_world
from workflow import commands
from workflow.content import Content
from workflow.errors import Conflict, NotAllowedNow
from workflow.guards import VersionContext
from workflow.models import Agreement

# The example's period of performance ends on 30 September 2027 (New York time).
LAST_EVENING = datetime(2027, 10, 1, 2, 0, tzinfo=UTC)  # 22:00 on the 30th in New York
NEXT_MORNING = datetime(2027, 10, 1, 5, 0, tzinfo=UTC)  # 01:00 on the 1st in New York


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def context(
    world: World,
    agreement: Agreement,
    number: int = 1,
    *,
    comment: str | None = None,
    now: datetime | None = None,
) -> VersionContext:
    """The context a command would build for version `number`, read afresh."""
    version = world.version(agreement, number)
    loaded = world.session.get(Agreement, agreement.id)
    assert loaded is not None
    return VersionContext(world.session, loaded, version, now=now or world.now, comment=comment)


def _draft(world: World, **overrides: object) -> VersionContext:
    return context(world, world.create(**overrides))


def _without_metrics(world: World) -> VersionContext:
    return _draft(world, content=Content.model_validate({"terms": world.document["terms"]}))


def _without_period(world: World) -> VersionContext:
    terms = {k: v for k, v in world.document["terms"].items() if not k.startswith("period_")}
    content = Content.model_validate({"terms": terms, "metrics": world.document["metrics"]})
    return _draft(world, content=content)


def _without_provider_owner(world: World) -> VersionContext:
    stakeholders = [
        s for s in world.parties.stakeholders() if (s.side, s.role) != (P, Role.BUSINESS_OWNER)
    ]
    return _draft(world, stakeholders=stakeholders)


def _in_joint_review_half_accepted(world: World) -> VersionContext:
    agreement = world.create()
    world.to_joint_review(agreement)
    (review,) = (t for t in world.open_tasks(agreement, "review") if t.side == C)
    world.complete(review, "accepted")
    return context(world, agreement)


def _in_gap_analysis(world: World, *, gaps_resolved: bool, tasks_done: bool) -> VersionContext:
    agreement = world.create()
    world.to_gap_analysis(agreement)
    if gaps_resolved:
        world.resolve_all_gaps(agreement)
    if tasks_done:
        for kind in ("confirm_requirements", "confirm_capabilities", "lcce_review"):
            world.complete_all(agreement, kind, "done")
    return context(world, agreement)


def _in_approval_one_missing(world: World) -> VersionContext:
    agreement = world.create()
    world.to_approval(agreement)
    *given, _missing = world.open_tasks(agreement, "approval")
    for task in given:
        world.complete(task, "approved")
    return context(world, agreement)


def _active(world: World) -> VersionContext:
    agreement = world.create()
    world.to_active(agreement)
    return context(world, agreement)


Setup = Callable[[World], VersionContext]

# guard -> (a context where it holds, a context where it refuses)
CASES: dict[str, tuple[Setup, Setup]] = {
    "has_metrics": (_draft, _without_metrics),
    "has_period_of_performance": (_draft, _without_period),
    "has_required_stakeholders": (_draft, _without_provider_owner),
    "has_comment": (
        lambda w: context(w, w.create(), comment="targets too low"),
        lambda w: context(w, w.create(), comment="   "),
    ),
    "all_reviews_accepted": (
        lambda w: _in_gap_analysis(w, gaps_resolved=False, tasks_done=False),
        _in_joint_review_half_accepted,
    ),
    "all_gaps_resolved": (
        lambda w: _in_gap_analysis(w, gaps_resolved=True, tasks_done=False),
        lambda w: _in_gap_analysis(w, gaps_resolved=False, tasks_done=True),
    ),
    "all_gap_analysis_tasks_done": (
        lambda w: _in_gap_analysis(w, gaps_resolved=False, tasks_done=True),
        lambda w: _in_gap_analysis(w, gaps_resolved=True, tasks_done=False),
    ),
    "all_approvals_approved": (_active, _in_approval_one_missing),
    "period_ended": (
        lambda w: context(w, w.create(), now=NEXT_MORNING),
        lambda w: context(w, w.create(), now=LAST_EVENING),
    ),
    "has_active_version": (_active, _draft),
    # A draft is itself the version in progress; an active version alone is not one.
    "no_version_in_progress": (_active, _draft),
}


def test_every_guard_of_the_spec_is_a_method_and_has_a_case() -> None:
    assert set(CASES) == set(LIFECYCLE.guards)
    assert all(callable(getattr(VersionContext, guard, None)) for guard in LIFECYCLE.guards)


@pytest.mark.parametrize("guard", list(CASES))
def test_the_guard_holds(world: World, guard: str) -> None:
    ctx = CASES[guard][0](world)
    assert getattr(ctx, guard)() is True
    assert ctx.failed_guards((guard,)) == []


@pytest.mark.parametrize("guard", list(CASES))
def test_the_guard_refuses(world: World, guard: str) -> None:
    ctx = CASES[guard][1](world)
    assert getattr(ctx, guard)() is False
    assert ctx.failed_guards((guard,)) == [guard]


def test_approvals_count_only_on_the_content_they_approved(world: World) -> None:
    ctx = _active(world)
    assert ctx.all_approvals_approved()
    ctx.current("approval")[0].approved_content_hash = "0" * 64  # approved something else
    assert not ctx.all_approvals_approved()
    world.session.rollback()


def test_a_refusal_lists_every_failed_guard_in_the_spec_s_words(world: World) -> None:
    agreement = world.create(
        content=Content(),
        stakeholders=[s for s in world.parties.stakeholders() if s.role != Role.BUSINESS_OWNER],
    )
    with pytest.raises(NotAllowedNow) as refusal:
        world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    guards = ("has_metrics", "has_period_of_performance", "has_required_stakeholders")
    assert refusal.value.reasons == [LIFECYCLE.guards[g] for g in guards]
    assert refusal.value.message == "cannot submit_for_review now: " + "; ".join(
        LIFECYCLE.guards[g] for g in guards
    )


def test_submit_for_approval_names_open_gaps_and_open_tasks(world: World) -> None:
    agreement = world.create()
    world.to_gap_analysis(agreement)
    with pytest.raises(NotAllowedNow) as refusal:
        world.fire(agreement, "submit_for_approval", world.who(C, Role.PROGRAM_MANAGER))
    assert refusal.value.reasons == [
        LIFECYCLE.guards["all_gaps_resolved"],
        LIFECYCLE.guards["all_gap_analysis_tasks_done"],
    ]
    assert refusal.value.current_state == "gap_analysis"


def test_starting_a_revision_refuses_in_the_words_of_its_guards(world: World) -> None:
    agreement = world.create()
    assert agreement.id is not None
    pm = world.who(C, Role.PROGRAM_MANAGER)
    with pytest.raises(Conflict) as refusal:
        commands.start_revision(
            world.session, actor=pm, agreement_id=agreement.id, now=world.tick()
        )
    assert refusal.value.message == LIFECYCLE.guards["has_active_version"]
    world.to_active(agreement)
    commands.start_revision(world.session, actor=pm, agreement_id=agreement.id, now=world.tick())
    with pytest.raises(Conflict) as again:
        commands.start_revision(
            world.session, actor=pm, agreement_id=agreement.id, now=world.tick()
        )
    assert again.value.message == LIFECYCLE.guards["no_version_in_progress"]


def _revision(world: World, annual_cost: Decimal | None) -> VersionContext:
    """An active version 1 and a revision whose annual cost is `annual_cost` (None: unchanged)."""
    agreement = world.create()
    assert agreement.id is not None
    world.to_active(agreement)
    pm = world.who(C, Role.PROGRAM_MANAGER)
    revision = commands.start_revision(
        world.session, actor=pm, agreement_id=agreement.id, now=world.tick()
    )
    if annual_cost is not None:
        commands.edit_draft(
            world.session,
            actor=pm,
            agreement_id=agreement.id,
            number=2,
            expected_lock_version=revision.lock_version,
            terms={"annual_cost": str(annual_cost)},
            now=world.tick(),
        )
    return context(world, agreement, 2)


def test_version_1_needs_the_lcce_review_and_the_sponsors(world: World) -> None:
    ctx = context(world, world.create())
    assert (ctx.lcce_review_needed(), ctx.executive_approval_needed()) == (True, True)


@pytest.mark.parametrize(
    ("change_pct", "lcce", "sponsors"),
    [(None, False, False), (Decimal(1), True, False), (Decimal(50), True, True)],
)
def test_a_revision_needs_them_as_its_cost_changed(
    world: World, change_pct: Decimal | None, lcce: bool, sponsors: bool
) -> None:
    before = Decimal(world.document["terms"]["annual_cost"])
    after = None if change_pct is None else before * (100 + change_pct) / 100
    ctx = _revision(world, after)
    threshold = ctx.agreement.executive_approval_threshold_pct
    assert change_pct is None or (change_pct > threshold) == sponsors  # the cases straddle it
    assert (ctx.lcce_review_needed(), ctx.executive_approval_needed()) == (lcce, sponsors)
