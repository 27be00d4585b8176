"""The lifecycle diagram's layout and SVG, from the spec alone (no database)."""

from __future__ import annotations

import re
from itertools import pairwise
from xml.etree import ElementTree

from api.pages.diagram import BOX_H, BOX_W, MAIN_PATH, layout, svg
from states import LIFECYCLE
from states.model import FiredBy, MachineSpec, State, Transition

SVG = "{http://www.w3.org/2000/svg}"


def test_the_main_path_runs_left_to_right_in_one_row() -> None:
    diagram = layout(LIFECYCLE)
    main = [diagram.boxes[s] for s in MAIN_PATH]
    assert len({b.y for b in main}) == 1
    xs = [b.x for b in main]
    assert xs == sorted(xs)
    assert all(b.x - a.x >= BOX_W for a, b in pairwise(main))


def test_the_other_states_sit_below_without_overlapping() -> None:
    diagram = layout(LIFECYCLE)
    row = diagram.boxes["draft"].y
    others = [diagram.boxes[s] for s in LIFECYCLE.state_names if s not in MAIN_PATH]
    assert {b.state for b in others} == {"superseded", "expired", "terminated", "withdrawn"}
    assert all(b.y >= row + BOX_H * 2 for b in others)
    xs = sorted(b.x for b in others)
    assert all(b - a >= BOX_W for a, b in pairwise(xs))
    # Each sits under the states that lead to it: the ends of an active version under active.
    active = diagram.boxes["active"].x
    assert diagram.boxes["expired"].x == active
    assert diagram.boxes["withdrawn"].x < active


def test_everything_fits_in_the_drawing() -> None:
    diagram = layout(LIFECYCLE)
    for box in diagram.boxes.values():
        assert box.x >= 0
        assert box.y >= 0
        assert box.x + BOX_W <= diagram.width
        assert box.y + BOX_H <= diagram.height
    for arrow in diagram.arrows:
        assert 0 < arrow.label_x < diagram.width
        assert 0 < arrow.label_y < diagram.height
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", arrow.path)]
        assert all(0 <= n <= max(diagram.width, diagram.height) for n in numbers)


def test_one_arrow_per_transition_and_source() -> None:
    diagram = layout(LIFECYCLE)
    expected = {(t.event, s, t.dest) for t in LIFECYCLE.transitions for s in t.sources}
    assert {(a.event, a.source, a.dest) for a in diagram.arrows} == expected
    assert len(diagram.arrows) == len(expected)
    automatic = {a.event for a in diagram.arrows if a.automatic}
    assert automatic == {t.event for t in LIFECYCLE.transitions if t.fired_by is FiredBy.SYSTEM}


def test_backward_arrows_arc_above_the_row_and_further_ones_higher() -> None:
    diagram = layout(LIFECYCLE)
    row = diagram.boxes["draft"].y
    back = {a.event: a for a in diagram.arrows if a.event in ("request_changes", "reject")}
    assert back["request_changes"].label_y < row
    assert back["reject"].label_y < back["request_changes"].label_y


def test_the_svg_highlights_the_current_state_only() -> None:
    markup = str(svg(layout(LIFECYCLE), "gap_analysis", "Lifecycle of SLA-1"))
    root = ElementTree.fromstring(markup)
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    assert title is not None
    assert title.text == "Lifecycle of SLA-1: now gap analysis"
    states = root.findall(f".//{SVG}g[@data-state]")
    assert len(states) == len(LIFECYCLE.state_names)
    current = [g for g in states if "current" in (g.get("class") or "")]
    assert [g.get("data-state") for g in current] == ["gap_analysis"]
    assert current[0].get("aria-current") == "step"
    labels = {
        g.get("data-event"): " ".join(t.text or "" for t in g.iter(f"{SVG}tspan"))
        for g in root.findall(f".//{SVG}g[@data-event]")
    }
    assert labels["submit_for_approval"] == "submit for approval"


def test_without_a_current_state_nothing_is_highlighted() -> None:
    markup = str(svg(layout(LIFECYCLE), None))
    assert "current" not in markup


def test_names_are_escaped() -> None:
    spec = MachineSpec(
        name="odd",
        subject="thing",
        initial="a<b",
        states=(State("a<b"), State("c&d", final=True)),
        transitions=(Transition("go_<now>", ("a<b",), "c&d", FiredBy.ROLES),),
        guards={},
    )
    markup = str(svg(layout(spec, main=("a<b", "c&d")), "c&d"))
    ElementTree.fromstring(markup)  # well-formed
    assert "<now>" not in markup
    assert "&lt;now&gt;" in markup
