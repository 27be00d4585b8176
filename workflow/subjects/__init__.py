"""What each machine's instances are to the engine, and the named effects of each machine.

Importing this package registers every machine's effects with the engine and checks that
none is missing, so a spec naming an effect nobody implemented fails at import.
"""

from states import MACHINES
from workflow.engine import require_effects
from workflow.subjects import (
    corrective_action_effects,
    extension_effects,
    period_effects,
    proposal_effects,
    version_effects,
)

require_effects(*MACHINES)

__all__ = [
    "corrective_action_effects",
    "extension_effects",
    "period_effects",
    "proposal_effects",
    "version_effects",
]
