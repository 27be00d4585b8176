"""A machine spec drawn as inline SVG: the main path left to right, the other states below.

Pure functions of the spec, so the drawing can never disagree with the machine it shows. Colours
are SVG presentation attributes, not CSS: the pages' CSP allows no inline styles.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from states.model import FiredBy, MachineSpec

MAIN_PATH = ("draft", "joint_review", "gap_analysis", "approval", "active")

COLUMN = 190  # distance between the centres of neighbouring boxes
BOX_W, BOX_H = 124, 40
ROW_GAP = 170  # from the main row to the row below
LABEL_CHARS = 12  # event names wrap to lines this long
LINE_H = 12
BACK_ARC = 44  # how much higher each further-reaching backward arrow climbs
ARC_PEAK = 0.75  # a cubic curve with both control points at one height peaks this far up
MARGIN = 24


@dataclass(frozen=True)
class Box:
    state: str
    x: float  # top-left corner
    y: float

    @property
    def cx(self) -> float:
        return self.x + BOX_W / 2

    @property
    def cy(self) -> float:
        return self.y + BOX_H / 2


@dataclass(frozen=True)
class Arrow:
    event: str
    source: str
    dest: str
    path: str  # SVG path data
    label_x: float
    label_y: float
    automatic: bool  # fired by the engine, not by a person


@dataclass(frozen=True)
class Diagram:
    width: int
    height: int
    boxes: dict[str, Box]
    arrows: list[Arrow]


def _columns(spec: MachineSpec, main: tuple[str, ...]) -> dict[str, tuple[float, int]]:
    """(column, row) per state: the main path in row 0; each other state in row 1 under the
    mean column of the states leading to it, neighbours pushed apart to a column each."""
    places: dict[str, tuple[float, int]] = {s: (float(i), 0) for i, s in enumerate(main)}
    others = [s for s in spec.state_names if s not in places]
    wanted: dict[str, float] = {}
    for state in others:
        sources = [
            places[src][0]
            for t in spec.transitions
            if t.dest == state
            for src in t.sources
            if src in places
        ]
        wanted[state] = sum(sources) / len(sources) if sources else float(len(main))
    # States wanting the same column share it out around that column, in spec order.
    groups: dict[float, list[str]] = {}
    for state in others:
        groups.setdefault(wanted[state], []).append(state)
    spread = {
        state: column - (len(group) - 1) / 2 + i
        for column, group in groups.items()
        for i, state in enumerate(group)
    }
    last = -1.0
    for state in sorted(others, key=lambda s: (spread[s], others.index(s))):
        column = max(spread[state], last + 1)
        places[state] = (column, 1)
        last = column
    return places


def _wrap(event: str) -> list[str]:
    lines: list[str] = []
    for word in event.split("_"):
        if lines and len(lines[-1]) + 1 + len(word) <= LABEL_CHARS:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def layout(spec: MachineSpec, main: tuple[str, ...] = MAIN_PATH) -> Diagram:
    """Where every state and transition goes; one arrow per (event, source state)."""
    places = _columns(spec, main)
    left = min(column for column, _ in places.values())
    reach = max(
        (
            places[src][0] - places[t.dest][0]
            for t in spec.transitions
            for src in t.sources
            if places[src][1] == places[t.dest][1] == 0
        ),
        default=0.0,
    )
    top = MARGIN + ARC_PEAK * BACK_ARC * reach + LINE_H * 2 + 4
    boxes = {
        state: Box(state, MARGIN + (column - left) * COLUMN, top + row * ROW_GAP)
        for state, (column, row) in places.items()
    }
    arrows = [
        _arrow(t.event, boxes[source], boxes[t.dest], t.fired_by is FiredBy.SYSTEM)
        for t in spec.transitions
        for source in t.sources
    ]
    width = max(b.x for b in boxes.values()) + BOX_W + MARGIN
    height = max(b.y for b in boxes.values()) + BOX_H + MARGIN
    return Diagram(int(width), int(height), boxes, arrows)


def _arrow(event: str, a: Box, b: Box, automatic: bool) -> Arrow:
    if a.y == b.y and b.x > a.x:  # forward along a row: a straight line between the boxes
        path = f"M{a.x + BOX_W},{a.cy} L{b.x},{b.cy}"
        return Arrow(event, a.state, b.state, path, (a.x + BOX_W + b.x) / 2, a.cy - 8, automatic)
    if a.y == b.y:  # backward along a row: an arc over the boxes in between
        reach = round(abs(a.x - b.x) / COLUMN)
        apex = a.y - BACK_ARC * reach
        mid = (a.cx + b.cx) / 2
        path = f"M{a.cx - 12},{a.y} C{a.cx - 12},{apex} {b.cx + 12},{apex} {b.cx + 12},{b.y}"
        peak = a.y - ARC_PEAK * BACK_ARC * reach
        return Arrow(event, a.state, b.state, path, mid, peak - 4, automatic)
    # Down to the row below: from the bottom of one box to the top of the other; the label
    # sits near the source, where arrows fanning into one state are still apart.
    x1, y1, x2, y2 = a.cx, a.y + BOX_H, b.cx, b.y
    path = f"M{x1},{y1} L{x2},{y2}"
    share = 0.3
    return Arrow(
        event,
        a.state,
        b.state,
        path,
        x1 + (x2 - x1) * share,
        y1 + (y2 - y1) * share,
        automatic,
    )


def svg(diagram: Diagram, current: str | None, title: str = "Lifecycle") -> Markup:
    """The diagram as an inline <svg>, the `current` state filled and outlined."""
    parts = [
        f'<svg class="lifecycle" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'width="{diagram.width}" height="{diagram.height}" '
        f'viewBox="0 0 {diagram.width} {diagram.height}" aria-labelledby="lifecycle-title">',
        f'<title id="lifecycle-title">{escape(title)}'
        + (f": now {escape(current.replace('_', ' '))}" if current else "")
        + "</title>",
        '<defs><marker id="lifecycle-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ]
    for arrow in diagram.arrows:
        dash = ' stroke-dasharray="5 4"' if arrow.automatic else ""
        parts.append(
            f'<g class="transition" data-event="{escape(arrow.event)}" '
            f'data-from="{escape(arrow.source)}" data-to="{escape(arrow.dest)}">'
            f'<path d="{arrow.path}" fill="none" stroke="#555" stroke-width="1.4"{dash} '
            'marker-end="url(#lifecycle-arrow)"/>' + _label(arrow) + "</g>"
        )
    for box in diagram.boxes.values():
        here = box.state == current
        fill, ink, stroke, width = (
            ("#6d4c00", "#fff", "#000", 3) if here else ("#fff", "#222", "#555", 1.4)
        )
        marker = ' aria-current="step"' if here else ""
        parts.append(
            f'<g class="{"state current" if here else "state"}" '
            f'data-state="{escape(box.state)}"{marker}>'
            f'<rect x="{box.x}" y="{box.y}" width="{BOX_W}" height="{BOX_H}" rx="8" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{width}"/>'
            f'<text x="{box.cx}" y="{box.cy + 5}" text-anchor="middle" font-size="14" '
            f'font-weight="{700 if here else 400}" fill="{ink}">'
            f"{escape(box.state.replace('_', ' '))}</text></g>"
        )
    parts.append("</svg>")
    # Safe: every name in it went through escape(); the rest are numbers and literals.
    return Markup("".join(parts))  # noqa: S704


def _label(arrow: Arrow) -> str:
    lines = _wrap(arrow.event)
    first = arrow.label_y - LINE_H * (len(lines) - 1)
    spans = "".join(
        f'<tspan x="{arrow.label_x}" y="{first + i * LINE_H}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    # A white halo keeps a label readable where it crosses another arrow.
    return (
        f'<text text-anchor="middle" font-size="11" fill="#333" stroke="#fff" '
        f'stroke-width="3" paint-order="stroke">{spans}</text>'
    )
