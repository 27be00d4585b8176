"""The lifecycle table of domain.md, scenario by scenario, on both databases."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from states import Role
from tests.helpers import C, P, World, make_world
from workflow import commands
from workflow.errors import Conflict, Forbidden, InvalidInput, NotAllowedNow
from workflow.models import AuditEvent, Gap, OutboxMessage, Task


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def _kinds(tasks: list[Task]) -> list[tuple[str, str, str]]:
    return sorted((t.kind, t.side, t.role) for t in tasks)


def test_a_new_agreement_starts_as_version_1_in_draft(world: World) -> None:
    agreement = world.create()
    version = world.version(agreement)
    assert agreement.key == "SLA-2026-0001"
    assert (version.number, version.modification_number, version.state) == (1, 0, "draft")
    assert len(version.metrics) == 15
    assert world.create().key == "SLA-2026-0002"


def test_submit_for_review_opens_review_tasks_for_both_sides(world: World) -> None:
    agreement = world.create()
    world.fire(agreement, "submit_for_review", world.who(P, Role.TECHNICAL_LEAD))
    assert world.version(agreement).state == "joint_review"
    assert _kinds(world.open_tasks(agreement)) == [
        ("review", "customer", "functional_lead"),
        ("review", "provider", "technical_lead"),
    ]
    topics = world.session.exec(select(OutboxMessage.topic)).all()
    assert "review.requested" in topics
    assert topics.count("task.assigned") == 2


def test_only_program_managers_and_technical_leads_submit_for_review(world: World) -> None:
    agreement = world.create()
    with pytest.raises(Forbidden, match="Program Manager or Technical Lead"):
        world.fire(agreement, "submit_for_review", world.who(C, Role.BUSINESS_OWNER))
    assert world.version(agreement).state == "draft"


def test_submit_for_review_needs_metrics_and_a_period(world: World) -> None:
    from workflow.content import Content

    agreement = world.create(content=Content())
    with pytest.raises(NotAllowedNow) as refusal:
        world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    assert refusal.value.current_state == "draft"
    assert "no metrics" in refusal.value.message
    assert "period of performance" in refusal.value.message
    assert "withdraw" in refusal.value.allowed_events


def test_accepted_reviews_advance_to_gap_analysis_and_compute_gaps(world: World) -> None:
    agreement = world.create()
    world.to_gap_analysis(agreement)
    version = world.version(agreement)
    assert version.state == "gap_analysis"
    gaps = world.session.exec(select(Gap).where(Gap.version_id == version.id)).all()
    # The example states a stricter requirement than capability for two metrics.
    assert sorted((g.metric_key, g.severity) for g in gaps) == [
        ("core-app-availability", "high"),
        ("payroll-posting-timeliness", "medium"),
    ]
    assert _kinds(world.open_tasks(agreement)) == [
        ("confirm_capabilities", "provider", "technical_lead"),
        ("confirm_requirements", "customer", "functional_lead"),
        ("lcce_review", "customer", "pmo_lead"),
        ("lcce_review", "provider", "pmo_lead"),
    ]


def test_changes_requested_sends_the_draft_back_with_a_rework_task(world: World) -> None:
    agreement = world.create()
    world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    review = world.open_tasks(agreement, "review")[0]
    with pytest.raises(InvalidInput, match="comment"):
        world.complete(review, "changes_requested")
    world.complete(review, "changes_requested", comment="targets too low")
    assert world.version(agreement).state == "draft"
    assert _kinds(world.open_tasks(agreement)) == [("rework", "customer", "program_manager")]


def test_resubmitting_the_draft_closes_its_rework_task(world: World) -> None:
    """Found by the stateful test: the rework task used to stay open (reminded, escalated)
    through review, approval and activation."""
    agreement = world.create()
    world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    review = world.open_tasks(agreement, "review")[0]
    world.complete(review, "changes_requested", comment="targets too low")
    (rework,) = world.open_tasks(agreement, "rework")
    world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    assert world.open_tasks(agreement, "rework") == []
    world.session.refresh(rework)
    assert rework.state == "cancelled"
    assert _kinds(world.open_tasks(agreement)) == [
        ("review", "customer", "functional_lead"),
        ("review", "provider", "technical_lead"),
    ]


def test_submit_for_approval_needs_every_gap_resolved(world: World) -> None:
    agreement = world.create()
    world.to_gap_analysis(agreement)
    for kind in ("confirm_requirements", "confirm_capabilities", "lcce_review"):
        world.complete_all(agreement, kind, "done")
    with pytest.raises(NotAllowedNow, match="every gap must be resolved"):
        world.fire(agreement, "submit_for_approval", world.who(C, Role.PROGRAM_MANAGER))
    world.resolve_all_gaps(agreement)
    world.fire(agreement, "submit_for_approval", world.who(C, Role.PROGRAM_MANAGER))
    version = world.version(agreement)
    assert version.state == "approval"
    # Version 1: both Business Owners and both Executive Sponsors approve.
    assert _kinds(world.open_tasks(agreement)) == [
        ("approval", "customer", "business_owner"),
        ("approval", "customer", "executive_sponsor"),
        ("approval", "provider", "business_owner"),
        ("approval", "provider", "executive_sponsor"),
    ]


def test_provider_commits_raises_capability_and_target_to_the_requirement(world: World) -> None:
    agreement = world.create()
    world.to_gap_analysis(agreement)
    world.resolve_all_gaps(agreement)
    metric = next(
        m for m in world.version(agreement).metrics if m["key"] == "core-app-availability"
    )
    assert (metric["requirement"], metric["capability"], metric["target"]) == (99.9, 99.9, 99.9)


def test_the_last_approval_activates_and_conditions_become_follow_ups(world: World) -> None:
    agreement = world.create()
    world.to_approval(agreement)
    approvals = world.open_tasks(agreement, "approval")
    for task in approvals[:-1]:
        world.complete(task, "approved")
        assert world.version(agreement).state == "approval"
    world.complete(approvals[-1], "approved_with_conditions", comment="quarterly cost review")
    version = world.version(agreement)
    assert version.state == "active"
    assert version.activated_at is not None
    follow_ups = world.open_tasks(agreement, "follow_up")
    assert len(follow_ups) == 1
    assert "quarterly cost review" in follow_ups[0].detail


def test_a_rejection_returns_to_draft_and_cancels_the_other_approvals(world: World) -> None:
    agreement = world.create()
    world.to_approval(agreement)
    first, *others = world.open_tasks(agreement, "approval")
    world.complete(first, "approved")
    with pytest.raises(InvalidInput):
        world.complete(others[0], "rejected")
    world.complete(others[0], "rejected", comment="cost too high")
    assert world.version(agreement).state == "draft"
    states = world.session.exec(
        select(Task.state).where(Task.kind == "approval").order_by(col(Task.id))
    ).all()
    assert states == ["completed", "completed", "cancelled", "cancelled"]
    # The loop closes: the same version goes round again and activates.
    world.complete_all(agreement, "rework", "done")
    world.to_active(agreement)
    assert world.version(agreement).state == "active"


def test_a_revision_supersedes_the_active_version_only_when_approved(world: World) -> None:
    agreement = world.create()
    world.to_active(agreement)
    revision = commands.start_revision(
        world.session,
        actor=world.who(P, Role.BUSINESS_OWNER),
        agreement_id=agreement.id,  # type: ignore[arg-type]
        now=world.tick(),
    )
    assert (revision.number, revision.modification_number, revision.state) == (2, 1, "draft")
    with pytest.raises(Conflict, match="already in progress"):
        commands.start_revision(
            world.session,
            actor=world.who(C, Role.PROGRAM_MANAGER),
            agreement_id=agreement.id,  # type: ignore[arg-type]
            now=world.tick(),
        )
    metrics = world.version(agreement, 2).metrics
    metrics[0]["target"] = 99.5
    with pytest.raises(InvalidInput, match="who drove it"):
        commands.edit_draft(
            world.session,
            actor=world.who(C, Role.FUNCTIONAL_LEAD),
            agreement_id=agreement.id,  # type: ignore[arg-type]
            number=2,
            expected_lock_version=revision.lock_version,
            metrics=metrics,
            now=world.tick(),
        )
    metrics[0]["target_change"] = {"driven_by": "provider", "reason": "staffing changes"}
    commands.edit_draft(
        world.session,
        actor=world.who(C, Role.FUNCTIONAL_LEAD),
        agreement_id=agreement.id,  # type: ignore[arg-type]
        number=2,
        expected_lock_version=revision.lock_version,
        terms={"annual_cost": "5000000.00"},
        metrics=metrics,
        now=world.tick(),
    )
    assert world.version(agreement, 1).state == "active"
    world.to_active(agreement, number=2)
    assert world.version(agreement, 1).state == "superseded"
    assert world.version(agreement, 2).state == "active"


def test_segregation_of_duties_refuses_the_last_editor_and_double_approvers(world: World) -> None:
    agreement = world.create(actor=world.who(C, Role.BUSINESS_OWNER))
    world.to_approval(agreement)
    task = next(
        t
        for t in world.open_tasks(agreement, "approval")
        if (t.side, t.role) == ("customer", "business_owner")
    )
    with pytest.raises(Forbidden, match="last edited"):
        world.complete(task, "approved")
    sponsor = next(
        t for t in world.open_tasks(agreement, "approval") if t.role == "executive_sponsor"
    )
    world.complete(sponsor, "approved")
    # Delegating to a colleague who already approved does not let them approve twice.
    sponsor_actor = world.actor_by_id(sponsor.assignee_id)
    owner = next(
        t
        for t in world.open_tasks(agreement, "approval")
        if t.side == sponsor.side and t.role == "business_owner"
    )
    owner_actor = world.actor_by_id(owner.assignee_id)
    commands.create_delegation(
        world.session,
        actor=owner_actor,
        delegate_id=sponsor_actor.user_id,
        starts_on=world.now.date(),
        ends_on=world.now.date(),
        now=world.tick(),
    )
    with pytest.raises(Forbidden, match="nobody approves twice"):
        world.complete(owner, "approved", by=sponsor_actor)


def test_withdraw_and_terminate_need_a_comment_and_the_right_role(world: World) -> None:
    agreement = world.create()
    with pytest.raises(NotAllowedNow, match="comment"):
        world.fire(agreement, "withdraw", world.who(C, Role.PROGRAM_MANAGER))
    world.fire(agreement, "withdraw", world.who(C, Role.PROGRAM_MANAGER), comment="superseded plan")
    assert world.version(agreement).state == "withdrawn"
    with pytest.raises(NotAllowedNow) as refusal:
        world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    assert refusal.value.allowed_events == []
    other = world.create()
    world.to_active(other)
    with pytest.raises(Forbidden, match="Business Owner"):
        world.fire(other, "terminate", world.who(C, Role.PROGRAM_MANAGER), comment="x")
    world.fire(other, "terminate", world.who(P, Role.BUSINESS_OWNER), comment="contract ended")
    assert world.version(other).state == "terminated"


def test_a_refused_command_writes_nothing(world: World) -> None:
    agreement = world.create()
    count = world.session.exec(select(AuditEvent.id)).all()
    outbox = world.session.exec(select(OutboxMessage.id)).all()
    with pytest.raises(NotAllowedNow):
        world.fire(agreement, "withdraw", world.who(C, Role.PROGRAM_MANAGER))
    world.session.rollback()
    assert world.session.exec(select(AuditEvent.id)).all() == count
    assert world.session.exec(select(OutboxMessage.id)).all() == outbox
    assert world.version(agreement).lock_version == 1


def test_a_delegate_acts_on_behalf_of_the_assignee(world: World) -> None:
    agreement = world.create()
    world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    lead = world.who(C, Role.FUNCTIONAL_LEAD)
    sme = world.who(C, Role.FUNCTIONAL_SME)
    commands.create_delegation(
        world.session,
        actor=lead,
        delegate_id=sme.user_id,
        starts_on=world.now.date(),
        ends_on=world.now.date(),
        now=world.tick(),
    )
    review = next(t for t in world.open_tasks(agreement, "review") if t.side == "customer")
    done = world.complete(review, "accepted", by=sme)
    assert (done.completed_by_id, done.on_behalf_of_id) == (sme.user_id, lead.user_id)
    event = world.session.exec(
        select(AuditEvent).where(AuditEvent.action == "task.completed")
    ).one()
    assert (event.actor_id, event.on_behalf_of_id) == (sme.user_id, lead.user_id)


def test_each_approval_is_announced_to_every_stakeholder(world: World) -> None:
    agreement = world.create()
    world.to_approval(agreement)
    first, *rest = world.open_tasks(agreement, "approval")
    world.complete(first, "approved")
    world.complete(rest[0], "approved_with_conditions", comment="monthly cost review")
    rows = world.session.exec(
        select(OutboxMessage).where(col(OutboxMessage.topic).startswith("version.approved"))
    ).all()
    assert sorted(r.topic for r in rows) == [
        "version.approved",
        "version.approved_with_conditions",
    ]
    conditional = next(r for r in rows if r.topic.endswith("conditions"))
    assert conditional.payload["comment"] == "monthly cost review"
    assert conditional.recipients == {"stakeholders": "all"}


def test_superseding_a_version_cancels_its_open_follow_ups(world: World) -> None:
    agreement = world.create()
    world.to_approval(agreement)
    *others, last = world.open_tasks(agreement, "approval")
    for task in others:
        world.complete(task, "approved")
    world.complete(last, "approved_with_conditions", comment="quarterly cost review")
    assert len(world.open_tasks(agreement, "follow_up")) == 1
    commands.start_revision(
        world.session,
        actor=world.who(C, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,  # type: ignore[arg-type]
        now=world.tick(),
    )
    world.to_active(agreement, number=2)
    assert world.version(agreement, 1).state == "superseded"
    assert world.open_tasks(agreement, "follow_up") == []
