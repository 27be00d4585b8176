"""The machines as data: states, events, guards, task templates and reminder policy."""

from states.corrective_actions import (
    CORRECTIVE_ACTION,
    CORRECTIVE_ACTIONS,
    DEFAULT_CHRONIC_MISS_WINDOWS,
    CorrectiveActionState,
)
from states.extensions import EXTENSION, ExtensionState
from states.lifecycle import FOLLOW_UP, LIFECYCLE, VersionState
from states.model import (
    Action,
    FiredBy,
    GovernanceCalendar,
    MachineSpec,
    Outcome,
    ReminderPolicy,
    Role,
    Side,
    SideRef,
    State,
    TaskKind,
    TaskState,
    TaskTemplate,
    Transition,
)
from states.proposals import PROPOSAL, ProposalKind, ProposalState
from states.reporting import (
    DEFAULT_DISPUTE_BUSINESS_DAYS,
    DEFAULT_DISPUTE_ROUNDS,
    DEFAULT_REPORTING_DAY,
    REPORTING,
    SUBMIT_RESULTS,
    PeriodState,
)
from states.validate import SpecError, validate

# Every machine on the one engine.
MACHINES: tuple[MachineSpec, ...] = (LIFECYCLE, REPORTING, PROPOSAL, EXTENSION, CORRECTIVE_ACTIONS)
for _spec in MACHINES:
    validate(_spec)

# Every task kind of every machine, by name: a task row names only its kind.
TASK_KINDS: dict[str, TaskKind] = {}
for _kind in (kind for spec in MACHINES for kind in spec.task_kinds):
    if _kind.name in TASK_KINDS:
        raise SpecError(f"task kind {_kind.name!r} is declared by two machines")
    TASK_KINDS[_kind.name] = _kind


def task_kind(name: str) -> TaskKind:
    """The kind of a task of any machine; KeyError for a name no machine declares."""
    return TASK_KINDS[name]


__all__ = [
    "CORRECTIVE_ACTION",
    "CORRECTIVE_ACTIONS",
    "DEFAULT_CHRONIC_MISS_WINDOWS",
    "DEFAULT_DISPUTE_BUSINESS_DAYS",
    "DEFAULT_DISPUTE_ROUNDS",
    "DEFAULT_REPORTING_DAY",
    "EXTENSION",
    "FOLLOW_UP",
    "LIFECYCLE",
    "MACHINES",
    "PROPOSAL",
    "REPORTING",
    "SUBMIT_RESULTS",
    "TASK_KINDS",
    "Action",
    "CorrectiveActionState",
    "ExtensionState",
    "FiredBy",
    "GovernanceCalendar",
    "MachineSpec",
    "Outcome",
    "PeriodState",
    "ProposalKind",
    "ProposalState",
    "ReminderPolicy",
    "Role",
    "Side",
    "SideRef",
    "SpecError",
    "State",
    "TaskKind",
    "TaskState",
    "TaskTemplate",
    "Transition",
    "VersionState",
    "task_kind",
    "validate",
]
