"""The lifecycle spec is coherent, matches the domain table, and draws itself."""

from __future__ import annotations

from dataclasses import replace

import pytest

from states import LIFECYCLE, FiredBy, Role, SpecError, Transition, validate
from states.diagram import mermaid


def test_the_lifecycle_has_the_domain_states_and_finals() -> None:
    assert LIFECYCLE.state_names == (
        "draft",
        "joint_review",
        "gap_analysis",
        "approval",
        "active",
        "superseded",
        "expired",
        "terminated",
        "withdrawn",
    )
    assert set(LIFECYCLE.final_states) == {"superseded", "expired", "terminated", "withdrawn"}


@pytest.mark.parametrize(
    ("event", "sources", "dest", "roles"),
    [
        ("submit_for_review", ("draft",), "joint_review", {"program_manager", "technical_lead"}),
        ("request_rework", ("gap_analysis",), "draft", {"program_manager"}),
        ("submit_for_approval", ("gap_analysis",), "approval", {"program_manager"}),
        (
            "withdraw",
            ("draft", "joint_review", "gap_analysis", "approval"),
            "withdrawn",
            {"program_manager"},
        ),
        ("terminate", ("active",), "terminated", {"business_owner"}),
    ],
)
def test_role_fired_events_match_the_domain_table(
    event: str, sources: tuple[str, ...], dest: str, roles: set[str]
) -> None:
    t = LIFECYCLE.transition(event)
    assert (t.sources, t.dest, t.fired_by) == (sources, dest, FiredBy.ROLES)
    assert {r.value for r in t.roles} == roles


def test_automatic_events_are_fired_by_the_system_only() -> None:
    automatic = {t.event for t in LIFECYCLE.transitions if t.fired_by is FiredBy.SYSTEM}
    assert automatic == {"complete_review", "activate", "supersede", "expire"}


def test_comment_is_required_where_the_domain_says_so() -> None:
    needs_comment = {t.event for t in LIFECYCLE.transitions if "has_comment" in t.guards}
    assert needs_comment == {"request_changes", "request_rework", "reject", "withdraw", "terminate"}


def test_approval_tasks_go_to_business_owners_and_conditionally_to_sponsors() -> None:
    opens = LIFECYCLE.transition("submit_for_approval").opens
    assert [(t.side.value, t.role, t.condition) for t in opens] == [
        ("customer", Role.BUSINESS_OWNER, None),
        ("provider", Role.BUSINESS_OWNER, None),
        ("customer", Role.EXECUTIVE_SPONSOR, "executive_approval_needed"),
        ("provider", Role.EXECUTIVE_SPONSOR, "executive_approval_needed"),
    ]


def test_validation_names_every_problem() -> None:
    broken = replace(
        LIFECYCLE,
        transitions=(
            *LIFECYCLE.transitions,
            Transition("escape", ("withdrawn",), "draft", FiredBy.ROLES, roles=()),
            Transition("teleport", ("draft",), "nowhere", FiredBy.SYSTEM, guards=("is_magic",)),
        ),
    )
    with pytest.raises(SpecError) as error:
        validate(broken)
    message = str(error.value)
    assert "final state 'withdrawn' has exits" in message
    assert "escape: fired by roles but names none" in message
    assert "teleport: unknown state 'nowhere'" in message
    assert "teleport: unknown guard 'is_magic'" in message


def test_validation_finds_unreachable_states() -> None:
    cut = replace(
        LIFECYCLE,
        transitions=tuple(t for t in LIFECYCLE.transitions if t.event != "terminate"),
    )
    with pytest.raises(SpecError, match="state 'terminated' is unreachable"):
        validate(cut)


def test_the_diagram_has_every_transition_and_highlights_the_current_state() -> None:
    text = mermaid(LIFECYCLE, highlight="approval")
    assert text.startswith("stateDiagram-v2\n    [*] --> draft\n")
    for t in LIFECYCLE.transitions:
        for source in t.sources:
            assert f"    {source} --> {t.dest}: {t.event}" in text
    assert "class approval current" in text
