"""How report statuses and figures look wherever a report is shown: colours, symbols, numbers.

Every status has a symbol and a word as well as a colour, for colour-blind readers.
"""

from __future__ import annotations

from dataclasses import dataclass

from workflow.compliance import Status, WindowResult
from workflow.content import Direction

FONT = "-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
INK = "#172B4D"
MUTED = "#5E6C84"
RULE = "#DFE1E6"
AXIS = "#A5ADBA"
TARGET = "#172B4D"
WARNING_LINE = "#B35900"
PROPOSED_LINE = "#0052CC"  # a what-if's proposed target, beside the current one (TARGET)


@dataclass(frozen=True, slots=True)
class StatusLook:
    """How a status is shown: a symbol and a word as well as colour, for colour-blind readers."""

    symbol: str
    label: str
    bar: str  # the column's fill
    ink: str  # text in that status, dark enough on white
    tint: str  # a cell background in the status grid


LOOKS: dict[Status, StatusLook] = {
    Status.MET: StatusLook("✓", "met", "#36B37E", "#006644", "#E3FCEF"),
    Status.WARNING: StatusLook("!", "warning", "#FFAB00", "#974F0C", "#FFF7D6"),
    Status.MISSED: StatusLook("✗", "missed", "#DE350B", "#BF2600", "#FFEBE6"),
    Status.EXCUSED: StatusLook("E", "excused", "#8777D9", "#403294", "#EAE6FF"),
    Status.MISSING_DATA: StatusLook("?", "missing data", "#FF8B00", "#974F0C", "#FFF4E5"),
    Status.PROVISIONAL: StatusLook("…", "provisional", "#B3D4FF", "#0747A6", "#DEEBFF"),
    Status.NO_DATA: StatusLook("\N{EN DASH}", "no data", "#C1C7D0", "#5E6C84", "#F4F5F7"),
    Status.NO_TARGET: StatusLook("○", "no target", "#97A0AF", "#42526E", "#FFFFFF"),
}


def is_percent(unit: str) -> bool:
    return "%" in unit or unit.strip().lower() in {"percent", "percentage", "pct"}


def number(value: float, decimals: int = 6) -> str:
    """`value` with thousands separators and without trailing zeros (actuals have 6 dp)."""
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def quantity(value: float, unit: str) -> str:
    return f"{number(value)}%" if is_percent(unit) else f"{number(value)} {unit}"


def compact(value: float) -> str:
    """A value short enough for the row under a bar; the bar's title has it in full."""
    size = abs(value)
    if size >= 1_000_000:
        return number(value / 1_000_000, 1) + "M"
    if size >= 10_000:
        return number(value / 1_000, 1) + "k"
    return number(value, 3)


def _threshold(w: WindowResult, value: float, unit: str) -> str:
    higher = w.direction is not Direction.LOWER_IS_BETTER
    return f"{'≥' if higher else '≤'} {quantity(value, unit)}"


def target_text(w: WindowResult, unit: str) -> str:
    if w.target is None:
        return "no target"
    text = f"target {_threshold(w, w.target, unit)}"
    if w.warning is not None:
        side = "below" if w.direction is not Direction.LOWER_IS_BETTER else "above"
        text += f", warning {side} {quantity(w.warning, unit)}"
    return text


def bar_title(w: WindowResult, unit: str) -> str:
    """What a reader hovering over a column (or a screen reader) learns about that window."""
    actual = "no data" if w.actual is None else quantity(w.actual, unit)
    target = target_text(w, unit)
    if w.version is not None:
        target += f" (version {w.version})"
    status = LOOKS[w.status].label
    if w.status is Status.EXCUSED and w.excusal is not None:
        status += f" (missed, attributed to {w.excusal.party.value.replace('_', ' ')})"
    return f"{w.window}: actual {actual}; {target}; {status}"
