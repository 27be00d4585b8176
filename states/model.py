"""The vocabulary in which machines are declared: plain frozen data, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Side(StrEnum):
    CUSTOMER = "customer"
    PROVIDER = "provider"

    @property
    def other(self) -> Side:
        return Side.PROVIDER if self is Side.CUSTOMER else Side.CUSTOMER


class Role(StrEnum):
    EXECUTIVE_SPONSOR = "executive_sponsor"
    BUSINESS_OWNER = "business_owner"
    PROGRAM_MANAGER = "program_manager"
    PMO_LEAD = "pmo_lead"
    PMO_TEAM = "pmo_team"
    FUNCTIONAL_LEAD = "functional_lead"
    TECHNICAL_LEAD = "technical_lead"
    TECHNICAL_SME = "technical_sme"
    FUNCTIONAL_SME = "functional_sme"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {
    Role.EXECUTIVE_SPONSOR: "Executive Sponsor",
    Role.BUSINESS_OWNER: "Business Owner",
    Role.PROGRAM_MANAGER: "Program Manager",
    Role.PMO_LEAD: "PMO Lead",
    Role.PMO_TEAM: "PMO Team",
    Role.FUNCTIONAL_LEAD: "Functional Lead",
    Role.TECHNICAL_LEAD: "Technical Lead",
    Role.TECHNICAL_SME: "Technical SME",
    Role.FUNCTIONAL_SME: "Functional SME",
}


class TaskState(StrEnum):
    """Where a task of any machine stands; only an open task can be completed."""

    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class SideRef(StrEnum):
    """Which side a task template targets, possibly relative to the version or the actor."""

    CUSTOMER = "customer"
    PROVIDER = "provider"
    DRAFTING = "drafting"  # the side that drafted the version
    ACTOR = "actor"  # the side of whoever caused the transition
    OWNER = "owner"  # the side that owns the instance (a corrective action's side)
    # The other side: of whoever proposed (a proposal's reviewer), or of the owner.
    COUNTERPART = "counterpart"


class FiredBy(StrEnum):
    """Who may fire an event besides role holders."""

    ROLES = "roles"  # holders of `roles` on either side (or their delegates)
    TASK_ASSIGNEE = "task_assignee"  # the assignee of an open task of `task_kind` (or delegate)
    SYSTEM = "system"  # the engine itself, when its guards become true, or the scheduler


@dataclass(frozen=True)
class TaskTemplate:
    """A task a transition opens: for whom, by when, and who hears when it is late."""

    kind: str
    side: SideRef
    role: Role
    due_business_days: int
    escalation_roles: tuple[Role, ...] = (Role.PROGRAM_MANAGER, Role.EXECUTIVE_SPONSOR)
    required: bool = True
    condition: str | None = None  # a named predicate; the task opens only when it holds
    title: str = ""


@dataclass(frozen=True)
class Transition:
    event: str
    sources: tuple[str, ...]
    dest: str
    fired_by: FiredBy
    roles: tuple[Role, ...] = ()
    task_kind: str | None = None
    guards: tuple[str, ...] = ()
    opens: tuple[TaskTemplate, ...] = ()
    cancels_open_tasks: bool = False
    effects: tuple[str, ...] = ()  # named effects (MachineSpec.effects), run in this order
    then: str | None = None  # a system event fired right after this one, when its guards hold
    topic: str = ""  # outbox topic announcing the transition to every stakeholder
    description: str = ""


@dataclass(frozen=True)
class State:
    name: str
    final: bool = False
    in_progress: bool = False  # a version here is "the revision in progress"
    description: str = ""


@dataclass(frozen=True)
class Action:
    """Something people may do to a machine's owner that is not a transition of one instance."""

    name: str
    roles: tuple[Role, ...]
    guards: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Outcome:
    """A way to complete a task of some kind, and the event it fires, if any."""

    name: str
    fires: str | None = None
    comment_required: bool = False


@dataclass(frozen=True)
class TaskKind:
    name: str
    outcomes: tuple[Outcome, ...]
    description: str = ""

    def outcome(self, name: str) -> Outcome | None:
        return next((o for o in self.outcomes if o.name == name), None)


@dataclass(frozen=True)
class ReminderPolicy:
    """When reminders and escalations go out for an open task, in business days."""

    before_due: tuple[int, ...] = (2,)
    on_due_date: bool = True
    overdue_every: int = 2
    escalations: tuple[tuple[int, Role], ...] = (
        (3, Role.PROGRAM_MANAGER),
        (10, Role.EXECUTIVE_SPONSOR),
    )


@dataclass(frozen=True)
class GovernanceCalendar:
    """Recurring governance work while an agreement is active (calendar days, not business days).

    Anchored on the agreement's period of performance, never on a version's activation, so a
    revision moves nothing. The annual review is due `annual_review_days_before_end` days before
    the end of each 12 months of the period (the last 12 months end with the period itself) and
    opens `annual_review_opens_days_before_due` days before that. The renewal decision opens
    `renewal_decision_days_before` the end; the renewal emails (`renewal_days_before`) are its
    early reminders. Service reviews open at the start of each calendar quarter after the first
    activation (the quarters of the US fiscal year). Open tasks of `agreement_task_kinds` are
    about the agreement, not one version's content: they follow it to the version in force.
    """

    renewal_days_before: tuple[int, ...] = (90, 60)
    annual_review: TaskTemplate | None = None
    service_reviews: tuple[TaskTemplate, ...] = ()
    annual_review_days_before_end: int = 60
    annual_review_opens_days_before_due: int = 30
    renewal_decisions: tuple[TaskTemplate, ...] = ()
    renewal_decision_days_before: int = 120
    renewal_decision_due_days_before: int = 30
    agreement_task_kinds: tuple[str, ...] = ()

    @property
    def templates(self) -> tuple[TaskTemplate, ...]:
        first = (self.annual_review,) if self.annual_review is not None else ()
        return (*first, *self.service_reviews, *self.renewal_decisions)


@dataclass(frozen=True)
class MachineSpec:
    """A whole machine: what the engine builds its `transitions.Machine` from."""

    name: str
    subject: str  # what one instance is called in audit actions: "version", "period"
    initial: str
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]
    guards: dict[str, str]  # guard name -> the refusal people read when it does not hold
    conditions: dict[str, str] = field(default_factory=dict)  # task-template predicates
    # effect name -> what it does, in words; the engine holds one implementation per name
    effects: dict[str, str] = field(default_factory=dict)
    task_kinds: tuple[TaskKind, ...] = ()
    actions: tuple[Action, ...] = ()
    reminders: ReminderPolicy = ReminderPolicy()
    governance: GovernanceCalendar = GovernanceCalendar()
    spec_version: int = 1

    def state(self, name: str) -> State:
        for s in self.states:
            if s.name == name:
                return s
        raise KeyError(name)

    def transition(self, event: str) -> Transition:
        for t in self.transitions:
            if t.event == event:
                return t
        raise KeyError(event)

    def task_kind(self, name: str) -> TaskKind:
        for k in self.task_kinds:
            if k.name == name:
                return k
        raise KeyError(name)

    def action(self, name: str) -> Action:
        for a in self.actions:
            if a.name == name:
                return a
        raise KeyError(name)

    def events_from(self, state: str) -> tuple[Transition, ...]:
        return tuple(t for t in self.transitions if state in t.sources)

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)

    @property
    def final_states(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states if s.final)

    @property
    def in_progress_states(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states if s.in_progress)
