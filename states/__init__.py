"""The machines as data: states, events, guards, task templates and reminder policy."""

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
from states.reporting import CORRECTIVE_ACTION, DEFAULT_REPORTING_DAY, REPORTING, SUBMIT_RESULTS
from states.validate import SpecError, validate

validate(LIFECYCLE)
validate(REPORTING)

__all__ = [
    "CORRECTIVE_ACTION",
    "DEFAULT_REPORTING_DAY",
    "FOLLOW_UP",
    "LIFECYCLE",
    "REPORTING",
    "SUBMIT_RESULTS",
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
