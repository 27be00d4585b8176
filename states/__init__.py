"""The lifecycle as data: states, events, guards, task templates and reminder policy."""

from states.lifecycle import FOLLOW_UP, LIFECYCLE
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
    TaskTemplate,
    Transition,
)
from states.validate import SpecError, validate

validate(LIFECYCLE)

__all__ = [
    "FOLLOW_UP",
    "LIFECYCLE",
    "Action",
    "FiredBy",
    "GovernanceCalendar",
    "MachineSpec",
    "Outcome",
    "ReminderPolicy",
    "Role",
    "Side",
    "SideRef",
    "SpecError",
    "State",
    "TaskKind",
    "TaskTemplate",
    "Transition",
    "validate",
]
