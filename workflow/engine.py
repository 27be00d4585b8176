"""The one engine every machine runs on.

A machine is a `states.MachineSpec`; one instance of it (a version, a reporting period) is seen
through a `Subject`: the row the state lives on, the guards by the spec's names, and the few
things only the instance knows (who holds a task, how its tasks are titled, what its audit
events carry). Everything else is here, once: authorise, guard, move, run the transition's
named effects, open its tasks, audit, announce, and fire the system event that follows.

The caller has begun the command's transaction and locked the agreement; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Protocol

from sqlmodel import Session
from transitions import Machine

from states import (
    CORRECTIVE_ACTIONS,
    EXTENSION,
    LIFECYCLE,
    PROPOSAL,
    REPORTING,
    FiredBy,
    MachineSpec,
    Outcome,
    Role,
    Side,
    TaskState,
    Transition,
)
from workflow.access import Actor, Grant, require_role
from workflow.announcements import ALL_STAKEHOLDERS
from workflow.calendar import local_date
from workflow.command import Command
from workflow.completion import chosen_outcome, record_completion
from workflow.errors import Forbidden, NotAllowedNow, NotFound
from workflow.models import Agreement, Task
from workflow.transaction import flush


class Subject(Protocol):
    """One instance of a machine, as the engine and `transitions` see it."""

    spec: ClassVar[MachineSpec]
    # Refuse a person's event before their task's outcome is checked (a period's refusal
    # names each bad dispute, which matters more than a missing comment).
    check_event_first: ClassVar[bool]
    tx: Command
    session: Session
    agreement: Agreement

    @property
    def state(self) -> str: ...

    @property
    def title(self) -> str: ...  # how refusals name the instance: "version 2", "period 2026-10"

    def delegators(self, user_id: int, day: date) -> list[int]: ...

    def failed_guards(self, guards: tuple[str, ...]) -> list[str]: ...

    def refusal_details(self) -> list[str]: ...

    def entered(self, transition: Transition, now: datetime) -> None: ...

    def snapshot(self) -> dict[str, Any] | None: ...

    def event_data(self) -> dict[str, Any]: ...

    def audit_target(self) -> dict[str, Any]: ...

    def cancel_open_tasks(self, now: datetime) -> list[int]: ...

    def new_tasks(
        self, transition: Transition, grant: Grant | None, now: datetime
    ) -> list[Task]: ...

    def announce_tasks(self, tasks: list[Task], now: datetime) -> None: ...

    def announcement(self, transition: Transition, source: str) -> tuple[str, dict[str, Any]]: ...

    def grants(self, actor: Actor, day: date) -> list[Grant]: ...

    def task_for(self, actor: Actor, kind: str, day: date) -> tuple[Task, int | None]: ...

    def refuse(self, actor: Actor, event: str, day: date) -> NotAllowedNow: ...

    def allowed_events(self, actor: Actor, day: date) -> list[str]: ...

    def prepare_completion(
        self,
        task: Task,
        outcome: Outcome,
        actor: Actor,
        on_behalf_of: int | None,
        comment: str | None,
    ) -> dict[str, Any]: ...

    def completion_data(self, task: Task, before: dict[str, Any]) -> dict[str, Any]: ...

    def completed(self, task: Task, actor: Actor, now: datetime) -> None: ...


@dataclass(frozen=True)
class Firing:
    """What an effect is told about the transition it runs in."""

    transition: Transition
    actor: Actor | None
    grant: Grant | None
    now: datetime
    comment: str | None


# An effect changes the subject's world and returns what the audit event records of it.
Effect = Callable[[Any, Firing], dict[str, Any]]


def _machine(spec: MachineSpec) -> Machine:
    # model=None and trigger-by-event keep rows free of attributes the library would add,
    # and cost nothing per row (no add_model, no machine per instance). States go in as plain
    # strings: `transitions` would name Enum states by member name, not by the stored value.
    return Machine(
        model=None,
        states=[str(s) for s in spec.state_names],
        initial=str(spec.initial),
        transitions=[
            {
                "trigger": t.event,
                "source": [str(s) for s in t.sources],
                "dest": str(t.dest),
                "conditions": list(t.guards),
            }
            for t in spec.transitions
        ],
        auto_transitions=False,
        send_event=True,
    )


MACHINES: dict[str, Machine] = {
    spec.name: _machine(spec)
    for spec in (LIFECYCLE, REPORTING, PROPOSAL, EXTENSION, CORRECTIVE_ACTIONS)
}
_EFFECTS: dict[str, Mapping[str, Effect]] = {}


def register_effects(spec: MachineSpec, effects: Mapping[str, Effect]) -> None:
    """Give `spec`'s named effects their implementations: exactly the names it declares."""
    missing = sorted(set(spec.effects) - set(effects))
    unknown = sorted(set(effects) - set(spec.effects))
    if missing or unknown:
        raise RuntimeError(
            f"machine {spec.name!r}: effects without implementation {missing}, "
            f"implementations without a declared effect {unknown}"
        )
    _EFFECTS[spec.name] = effects


def require_effects(*specs: MachineSpec) -> None:
    """Refuse to start when a machine that names effects has no implementations for them."""
    missing = [s.name for s in specs if s.effects and s.name not in _EFFECTS]
    if missing:
        raise RuntimeError(f"no effects registered for {missing}")


def transition_named(spec: MachineSpec, event: str) -> Transition:
    try:
        return spec.transition(event)
    except KeyError:
        raise NotFound(f"no {spec.subject} event named {event!r}") from None


def check(subject: Subject, transition: Transition) -> None:
    """Refuse `transition` unless the subject is in one of its sources and its guards hold."""
    spec = subject.spec
    if subject.state not in transition.sources:
        raise NotAllowedNow(
            f"{transition.event} is not allowed while {subject.title} is {subject.state}",
            current_state=subject.state,
            allowed_events=[],
        )
    failed = subject.failed_guards(transition.guards)
    if failed:
        reasons = [spec.guards[g] for g in failed]
        raise NotAllowedNow(
            f"cannot {transition.event} now: " + "; ".join(reasons),
            current_state=subject.state,
            allowed_events=[],
            reasons=reasons + subject.refusal_details(),
        )


def run(
    subject: Subject,
    transition: Transition,
    *,
    actor: Actor | None,
    grant: Grant | None,
    now: datetime,
    comment: str | None = None,
) -> None:
    """Move the subject along `transition` and do everything the spec says comes with it."""
    check(subject, transition)
    spec = subject.spec
    before = subject.snapshot()
    source = subject.state
    if not MACHINES[spec.name].events[transition.event].trigger(subject):
        raise RuntimeError(f"machine refused {transition.event} after its guards held")
    subject.entered(transition, now)
    data: dict[str, Any] = {**subject.event_data(), "from_state": source, "to_state": subject.state}
    if comment:
        data["comment"] = comment
    if transition.cancels_open_tasks:
        data["cancelled_tasks"] = subject.cancel_open_tasks(now)
    firing = Firing(transition, actor, grant, now, comment)
    for name in transition.effects:
        data.update(_EFFECTS[spec.name][name](subject, firing))
    opened = subject.new_tasks(transition, grant, now)
    # One flush for everything above: the subject's UPDATE (with its optimistic-lock check),
    # task changes, and ids for the new tasks, which their announcements and the audit name.
    flush(subject.session)
    subject.announce_tasks(opened, now)
    if opened:
        data["opened_tasks"] = [*data.get("opened_tasks", []), *(t.id for t in opened)]
    if before is not None:
        data["before"], data["after"] = before, subject.snapshot()
    subject.tx.audit(
        action=f"{spec.subject}.{transition.event}",
        now=now,
        agreement_id=subject.agreement.id,
        actor_id=actor.user_id if actor else None,
        on_behalf_of_id=grant.on_behalf_of_id if grant else None,
        data=data,
        **subject.audit_target(),
    )
    if transition.topic:
        _announce(subject, transition, source, actor, comment, now)
    if transition.then is not None:
        follow_on = spec.transition(transition.then)
        if subject.state in follow_on.sources and not subject.failed_guards(follow_on.guards):
            run(subject, follow_on, actor=None, grant=None, now=now)


def _announce(
    subject: Subject,
    transition: Transition,
    source: str,
    actor: Actor | None,
    comment: str | None,
    now: datetime,
) -> None:
    """Tell every stakeholder about the transition, under its topic."""
    dedupe_key, payload = subject.announcement(transition, source)
    subject.tx.enqueue(
        topic=transition.topic,
        dedupe_key=dedupe_key,
        now=now,
        agreement_id=subject.agreement.id,
        recipients=ALL_STAKEHOLDERS,
        payload={
            **payload,
            "event": transition.event,
            "from_state": source,
            "to_state": subject.state,
            "actor": actor.name if actor else "Accord",
            "comment": comment,
        },
    )


def fire(
    subject: Subject, transition: Transition, actor: Actor, *, now: datetime, comment: str | None
) -> None:
    """A person fires `transition`: by holding one of its roles, or the task it completes."""
    day = local_date(now)
    if subject.state not in transition.sources:
        raise subject.refuse(actor, transition.event, day)
    if transition.fired_by is FiredBy.SYSTEM:
        raise Forbidden(f"{transition.event} happens automatically; nobody fires it by hand")
    if transition.fired_by is FiredBy.TASK_ASSIGNEE:
        assert transition.task_kind is not None
        task, on_behalf_of = subject.task_for(actor, transition.task_kind, day)
        kind = subject.spec.task_kind(transition.task_kind)
        outcome = next(o for o in kind.outcomes if o.fires == transition.event)
        complete(subject, task, outcome.name, actor, on_behalf_of, comment=comment, now=now)
        return
    grant = require_role(subject.grants(actor, day), transition.roles, transition.event)
    try:
        run(subject, transition, actor=actor, grant=grant, now=now, comment=comment)
    except NotAllowedNow as refusal:
        refusal.allowed_events = subject.allowed_events(actor, day)
        raise


def complete(
    subject: Subject,
    task: Task,
    outcome_name: str,
    actor: Actor,
    on_behalf_of: int | None,
    *,
    comment: str | None,
    now: datetime,
) -> None:
    """Record the task's outcome, then fire the event it leads to (when its guards hold)."""
    spec = subject.spec
    outcome = chosen_outcome(spec.task_kind(task.kind), outcome_name)
    transition = spec.transition(outcome.fires) if outcome.fires else None
    system = transition is not None and transition.fired_by is FiredBy.SYSTEM
    # A system event's guards are about every task of its kind (the last one completes
    # them), so only a person's event is checked before the outcome is recorded.
    if transition is not None and subject.check_event_first and not system:
        check(subject, transition)
    before = subject.prepare_completion(task, outcome, actor, on_behalf_of, comment)
    record_completion(task, outcome, actor, on_behalf_of, comment=comment, now=now)
    subject.session.add(task)  # written by the transition's flush below, or at commit
    subject.tx.audit(
        action="task.completed",
        now=now,
        agreement_id=subject.agreement.id,
        actor_id=actor.user_id,
        on_behalf_of_id=on_behalf_of,
        data={
            "task_id": task.id,
            **subject.event_data(),
            "outcome": outcome.name,
            "comment": comment,
            **subject.completion_data(task, before),
        },
        **subject.audit_target(),
    )
    subject.completed(task, actor, now)
    if transition is None or subject.state not in transition.sources:
        return
    if system and subject.failed_guards(transition.guards):
        return  # not the last required task yet
    run(
        subject,
        transition,
        actor=None if system else actor,
        grant=Grant(Side(task.side), Role(task.role), on_behalf_of),
        now=now,
        comment=comment,
    )


def complete_held_task(
    subject: Subject,
    task: Task,
    outcome: str,
    actor: Actor,
    *,
    comment: str | None,
    now: datetime,
) -> None:
    """Complete `task` (read under the lock) as its assignee or their delegate."""
    if task.state != TaskState.OPEN:
        raise NotAllowedNow(
            f"task {task.id} is already {task.state}", current_state=task.state, allowed_events=[]
        )
    if task.assignee_id == actor.user_id:
        on_behalf_of = None
    elif task.assignee_id in subject.delegators(actor.user_id, local_date(now)):
        on_behalf_of = task.assignee_id
    else:
        raise Forbidden("only the task's assignee or their delegate may complete it")
    complete(subject, task, outcome, actor, on_behalf_of, comment=comment, now=now)


__all__ = [
    "MACHINES",
    "Effect",
    "Firing",
    "Subject",
    "check",
    "complete",
    "complete_held_task",
    "fire",
    "register_effects",
    "require_effects",
    "run",
    "transition_named",
]
