"""What each machine's instances are to the engine, and the named effects of each machine.

Importing this package registers every machine's effects with the engine and checks that
none is missing, so a spec naming an effect nobody implemented fails at import.
"""

from states import CORRECTIVE_ACTIONS, LIFECYCLE, REPORTING
from workflow.engine import require_effects
from workflow.subjects import corrective_action_effects, period_effects, version_effects

require_effects(LIFECYCLE, REPORTING, CORRECTIVE_ACTIONS)

__all__ = ["corrective_action_effects", "period_effects", "version_effects"]
