"""Checks that a machine spec is coherent before anything runs on it."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from states.model import FiredBy, MachineSpec, Transition


class SpecError(ValueError):
    """The spec contradicts itself; the message lists every problem found."""


def validate(spec: MachineSpec) -> MachineSpec:
    """Return the spec unchanged, or raise SpecError naming every problem."""
    events = [t.event for t in spec.transitions]
    kinds = {k.name for k in spec.task_kinds}
    problems = [
        *_name_problems(spec, events),
        *(p for t in spec.transitions for p in _transition_problems(spec, t, events, kinds)),
        *_governance_problems(spec, kinds),
        *_reference_problems(spec, events),
        *(f"state {str(s)!r} is unreachable" for s in _unreachable(spec)),
    ]
    if problems:
        raise SpecError(f"machine {spec.name!r}: " + "; ".join(problems))
    return spec


def _name_problems(spec: MachineSpec, events: list[str]) -> Iterator[str]:
    names = spec.state_names
    if len(set(names)) != len(names):
        yield "duplicate state names"
    if spec.initial not in names:
        yield f"initial state {str(spec.initial)!r} is not a state"
    if len(set(events)) != len(events):
        yield "duplicate event names"


def _transition_problems(
    spec: MachineSpec, t: Transition, events: list[str], kinds: set[str]
) -> Iterator[str]:
    """What one transition names that the spec does not have."""
    names = spec.state_names
    for s in (*t.sources, t.dest):
        if s not in names:
            yield f"{t.event}: unknown state {str(s)!r}"
    for g in t.guards:
        if g not in spec.guards:
            yield f"{t.event}: unknown guard {g!r}"
    if t.fired_by is FiredBy.ROLES and not t.roles:
        yield f"{t.event}: fired by roles but names none"
    if t.fired_by is FiredBy.TASK_ASSIGNEE and t.task_kind not in kinds:
        yield f"{t.event}: unknown task kind {t.task_kind!r}"
    for e in t.effects:
        if e not in spec.effects:
            yield f"{t.event}: unknown effect {e!r}"
    if t.then is not None and (
        t.then not in events or spec.transition(t.then).fired_by is not FiredBy.SYSTEM
    ):
        yield f"{t.event}: then {t.then!r} is not a system event of this machine"
    for tpl in t.opens:
        if tpl.kind not in kinds:
            yield f"{t.event}: opens unknown task kind {tpl.kind!r}"
        if tpl.condition is not None and tpl.condition not in spec.conditions:
            yield f"{t.event}: unknown condition {tpl.condition!r}"
        if tpl.due_business_days < 0:
            yield f"{t.event}: negative due days for {tpl.kind}"


def _governance_problems(spec: MachineSpec, kinds: set[str]) -> Iterator[str]:
    for tpl in spec.governance.templates:
        if tpl.kind not in kinds:
            yield f"governance calendar: unknown task kind {tpl.kind!r}"
        if tpl.condition is not None:
            yield f"governance calendar: {tpl.kind} cannot have a condition"
    governance = spec.governance
    if any(d <= 0 for d in governance.renewal_days_before):
        yield "governance calendar: renewal reminders must be days before the end"
    # The emails remind of the decision before it is due; from then on, task reminders do.
    if any(
        d <= governance.renewal_decision_due_days_before for d in governance.renewal_days_before
    ):
        yield "governance calendar: renewal reminders must fall before the decision is due"
    if (
        not 0
        < governance.renewal_decision_due_days_before
        < governance.renewal_decision_days_before
    ):
        yield "governance calendar: the renewal decision must open before it is due"
    if not 0 <= governance.annual_review_days_before_end < 365:
        yield "governance calendar: the annual review must fall inside its 12 months"
    for kind in governance.agreement_task_kinds:
        if kind not in kinds:
            yield f"governance calendar: unknown agreement task kind {kind!r}"


def _reference_problems(spec: MachineSpec, events: list[str]) -> Iterator[str]:
    """Outcomes firing unknown events, actions with unknown guards, effects nothing runs, and
    final states with exits."""
    for k in spec.task_kinds:
        for o in k.outcomes:
            if o.fires is not None and o.fires not in events:
                yield f"task kind {k.name}: outcome {o.name} fires unknown {o.fires!r}"
    for a in spec.actions:
        for g in a.guards:
            if g not in spec.guards:
                yield f"action {a.name}: unknown guard {g!r}"
    used = {e for t in spec.transitions for e in t.effects}
    yield from (
        f"effect {e!r} is declared but no transition runs it" for e in spec.effects if e not in used
    )
    for state in spec.states:
        if state.final and spec.events_from(state.name):
            yield f"final state {str(state.name)!r} has exits"


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
