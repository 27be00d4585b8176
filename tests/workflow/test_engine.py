"""One engine runs every machine: effects are named in the spec and implemented exactly once,
and the engine's steps (guard, move, effects, tasks, audit, announcement, follow-on) are the
same for a version and for a reporting period."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlmodel import Session, select

from states import (
    CORRECTIVE_ACTIONS,
    EXTENSION,
    LIFECYCLE,
    PROPOSAL,
    REPORTING,
    FiredBy,
    Role,
    Side,
    SpecError,
    validate,
)
from tests.helpers import World, make_world
from workflow.engine import MACHINES, register_effects, transition_named
from workflow.errors import Forbidden, NotAllowedNow, NotFound
from workflow.models import AuditEvent, OutboxMessage


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def test_every_machine_runs_on_the_one_engine() -> None:
    assert set(MACHINES) == {
        LIFECYCLE.name,
        REPORTING.name,
        PROPOSAL.name,
        EXTENSION.name,
        CORRECTIVE_ACTIONS.name,
    }


def test_a_spec_naming_an_undeclared_effect_is_refused() -> None:
    broken = replace(
        LIFECYCLE,
        transitions=tuple(
            replace(t, effects=("send_flowers",)) if t.event == "activate" else t
            for t in LIFECYCLE.transitions
        ),
    )
    with pytest.raises(SpecError, match="activate: unknown effect 'send_flowers'"):
        validate(broken)


def test_a_follow_on_event_must_be_a_system_event() -> None:
    broken = replace(
        REPORTING,
        transitions=tuple(
            replace(t, then="dispute") if t.event == "accept" else t for t in REPORTING.transitions
        ),
    )
    with pytest.raises(SpecError, match="then 'dispute' is not a system event"):
        validate(broken)


def test_effect_implementations_must_match_the_declared_names_exactly() -> None:
    with pytest.raises(RuntimeError, match=r"without implementation \['compute_gaps'"):
        register_effects(LIFECYCLE, {})
    with pytest.raises(RuntimeError, match=r"without a declared effect \['extra'\]"):
        register_effects(
            REPORTING,
            {name: (lambda _s, _f: {}) for name in (*REPORTING.effects, "extra")},
        )


def test_lifecycle_effects_are_named_where_the_spec_says() -> None:
    assert LIFECYCLE.transition("complete_review").effects == ("compute_gaps",)
    assert LIFECYCLE.transition("activate").effects == ("take_effect", "open_follow_ups")
    assert REPORTING.transition("finalize").effects == (
        "freeze_report",
        "open_corrective_actions",
        "detect_chronic_misses",
        "send_final_report",
    )
    assert REPORTING.transition("accept").then == "finalize"


def test_an_unknown_event_names_the_machine() -> None:
    with pytest.raises(NotFound, match="no period event named 'explode'"):
        transition_named(REPORTING, "explode")
    with pytest.raises(NotFound, match="no version event named 'explode'"):
        transition_named(LIFECYCLE, "explode")


def test_activation_audits_its_effects_and_announces_itself(world: World) -> None:
    agreement = world.create()
    world.to_active(agreement)
    version = world.version(agreement)
    activation = world.session.exec(
        select(AuditEvent).where(
            AuditEvent.agreement_id == agreement.id, AuditEvent.action == "version.activate"
        )
    ).one()
    assert activation.version_id == version.id
    assert activation.actor_id is None  # the engine fired it when the last approval came in
    body = json.loads(activation.body)["data"]
    assert (body["from_state"], body["to_state"]) == ("approval", "active")
    assert body["before"]["state"] == "approval"
    assert body["after"]["state"] == "active"
    assert version.activated_at is not None  # take_effect stamped it
    topics = world.session.exec(
        select(OutboxMessage.topic).where(OutboxMessage.agreement_id == agreement.id)
    ).all()
    assert topics.count("version.activated") == 1


def test_a_guard_refusal_gives_the_spec_reason_and_what_the_actor_may_do(world: World) -> None:
    agreement = world.create()
    with pytest.raises(NotAllowedNow) as refusal:
        world.fire(agreement, "withdraw", world.who(Side.CUSTOMER, Role.PROGRAM_MANAGER))
    assert refusal.value.reasons == [LIFECYCLE.guards["has_comment"]]
    assert "submit_for_review" in refusal.value.allowed_events
    assert world.version(agreement).state == "draft"


def test_system_events_cannot_be_fired_by_hand(world: World) -> None:
    agreement = world.create()
    world.to_active(agreement)
    assert LIFECYCLE.transition("expire").fired_by is FiredBy.SYSTEM
    with pytest.raises(Forbidden, match="expire happens automatically"):
        world.fire(agreement, "expire", world.who(Side.CUSTOMER, Role.BUSINESS_OWNER))
    assert world.version(agreement).state == "active"
