"""Checks that a machine spec is coherent before anything runs on it."""

from __future__ import annotations

from collections import deque

from states.model import FiredBy, MachineSpec


class SpecError(ValueError):
    """The spec contradicts itself; the message lists every problem found."""


def validate(spec: MachineSpec) -> MachineSpec:
    """Return the spec unchanged, or raise SpecError naming every problem."""
    problems: list[str] = []
    names = spec.state_names
    if len(set(names)) != len(names):
        problems.append("duplicate state names")
    if spec.initial not in names:
        problems.append(f"initial state {str(spec.initial)!r} is not a state")
    events = [t.event for t in spec.transitions]
    if len(set(events)) != len(events):
        problems.append("duplicate event names")
    kinds = {k.name for k in spec.task_kinds}
    for t in spec.transitions:
        for s in (*t.sources, t.dest):
            if s not in names:
                problems.append(f"{t.event}: unknown state {str(s)!r}")
        for g in t.guards:
            if g not in spec.guards:
                problems.append(f"{t.event}: unknown guard {g!r}")
        if t.fired_by is FiredBy.ROLES and not t.roles:
            problems.append(f"{t.event}: fired by roles but names none")
        if t.fired_by is FiredBy.TASK_ASSIGNEE and t.task_kind not in kinds:
            problems.append(f"{t.event}: unknown task kind {t.task_kind!r}")
        for e in t.effects:
            if e not in spec.effects:
                problems.append(f"{t.event}: unknown effect {e!r}")
        if t.then is not None and (
            t.then not in events or spec.transition(t.then).fired_by is not FiredBy.SYSTEM
        ):
            problems.append(f"{t.event}: then {t.then!r} is not a system event of this machine")
        for tpl in t.opens:
            if tpl.kind not in kinds:
                problems.append(f"{t.event}: opens unknown task kind {tpl.kind!r}")
            if tpl.condition is not None and tpl.condition not in spec.conditions:
                problems.append(f"{t.event}: unknown condition {tpl.condition!r}")
            if tpl.due_business_days < 0:
                problems.append(f"{t.event}: negative due days for {tpl.kind}")
    for tpl in spec.governance.templates:
        if tpl.kind not in kinds:
            problems.append(f"governance calendar: unknown task kind {tpl.kind!r}")
        if tpl.condition is not None:
            problems.append(f"governance calendar: {tpl.kind} cannot have a condition")
    if any(d <= 0 for d in spec.governance.renewal_days_before):
        problems.append("governance calendar: renewal reminders must be days before the end")
    for k in spec.task_kinds:
        for o in k.outcomes:
            if o.fires is not None and o.fires not in events:
                problems.append(f"task kind {k.name}: outcome {o.name} fires unknown {o.fires!r}")
    for a in spec.actions:
        for g in a.guards:
            if g not in spec.guards:
                problems.append(f"action {a.name}: unknown guard {g!r}")
    used = {e for t in spec.transitions for e in t.effects}
    problems.extend(
        f"effect {e!r} is declared but no transition runs it" for e in spec.effects if e not in used
    )
    for state in spec.states:
        if state.final and spec.events_from(state.name):
            problems.append(f"final state {str(state.name)!r} has exits")
    problems.extend(f"state {str(s)!r} is unreachable" for s in _unreachable(spec))
    if problems:
        raise SpecError(f"machine {spec.name!r}: " + "; ".join(problems))
    return spec


def _unreachable(spec: MachineSpec) -> list[str]:
    seen = {spec.initial}
    queue = deque([spec.initial])
    while queue:
        current = queue.popleft()
        for t in spec.events_from(current):
            if t.dest not in seen:
                seen.add(t.dest)
                queue.append(t.dest)
    return [s for s in spec.state_names if s not in seen]
