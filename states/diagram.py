"""Mermaid state diagrams generated from a machine spec."""

from __future__ import annotations

from states.model import FiredBy, MachineSpec


def mermaid(spec: MachineSpec, highlight: str | None = None) -> str:
    """A `stateDiagram-v2` of the spec; `highlight` marks the current state."""
    lines = ["stateDiagram-v2", f"    [*] --> {spec.initial}"]
    for t in spec.transitions:
        label = t.event if t.fired_by is not FiredBy.SYSTEM else f"{t.event} (automatic)"
        lines.extend(f"    {source} --> {t.dest}: {label}" for source in t.sources)
    lines.extend(f"    {s} --> [*]" for s in spec.final_states)
    if highlight is not None:
        lines.append("    classDef current fill:#ffd54f,stroke:#6d4c00,stroke-width:3px")
        lines.append(f"    class {highlight} current")
    return "\n".join(lines) + "\n"
