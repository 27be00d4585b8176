"""The one `transitions.Machine` every version runs on, built once from the spec."""

from __future__ import annotations

from transitions import Machine

from states import LIFECYCLE
from workflow.guards import VersionContext

# model=None and trigger-by-event keep rows free of attributes the library would add,
# and cost nothing per row (no add_model, no machine per version).
MACHINE = Machine(
    model=None,
    states=list(LIFECYCLE.state_names),
    initial=LIFECYCLE.initial,
    transitions=[
        {
            "trigger": t.event,
            "source": list(t.sources),
            "dest": t.dest,
            "conditions": list(t.guards),
        }
        for t in LIFECYCLE.transitions
    ],
    auto_transitions=False,
    send_event=True,
)


def trigger(context: VersionContext, event: str) -> bool:
    """Run `event` on the version; True when the machine moved it."""
    return bool(MACHINE.events[event].trigger(context))


def offered_events(state: str) -> list[str]:
    return list(MACHINE.get_triggers(state))
