"""Commands: each one function, one transaction, one commit."""

from workflow.commands.admin import (
    create_delegation,
    create_organization,
    create_token,
    create_user,
    revoke_token,
    set_active,
    set_role,
)
from workflow.commands.agreements import StakeholderInput, create_agreement, set_stakeholders
from workflow.commands.calendar_jobs import CalendarReport, run_calendar
from workflow.commands.catalog import add_catalog_measure, import_catalog
from workflow.commands.corrections import (
    CorrectionInput,
    CorrectionOutcome,
    correct_observations,
)
from workflow.commands.corrective_actions import fire_corrective_action_event
from workflow.commands.drafts import edit_draft, import_version, start_revision
from workflow.commands.excusals import excuse_miss
from workflow.commands.gaps import add_gap, resolve_gap
from workflow.commands.lifecycle import fire_event
from workflow.commands.maintenance import (
    JobOutcome,
    checkpoint_audit,
    expire_idempotency_keys,
    record_job_run,
)
from workflow.commands.measurements import IngestReport, check_upload, import_measurements
from workflow.commands.periods import (
    PeriodsOpened,
    amend_period,
    fire_period_event,
    open_due_periods,
)
from workflow.commands.proposals import (
    decide_proposal,
    propose_excusal_withdrawal,
    withdraw_proposal,
)
from workflow.commands.sweeps import SweepReport, sweep_reminders
from workflow.commands.tasks import complete_task

__all__ = [
    "CalendarReport",
    "CorrectionInput",
    "CorrectionOutcome",
    "IngestReport",
    "JobOutcome",
    "PeriodsOpened",
    "StakeholderInput",
    "SweepReport",
    "add_catalog_measure",
    "add_gap",
    "amend_period",
    "check_upload",
    "checkpoint_audit",
    "complete_task",
    "correct_observations",
    "create_agreement",
    "create_delegation",
    "create_organization",
    "create_token",
    "create_user",
    "decide_proposal",
    "edit_draft",
    "excuse_miss",
    "expire_idempotency_keys",
    "fire_corrective_action_event",
    "fire_event",
    "fire_period_event",
    "import_catalog",
    "import_measurements",
    "import_version",
    "open_due_periods",
    "propose_excusal_withdrawal",
    "record_job_run",
    "resolve_gap",
    "revoke_token",
    "run_calendar",
    "set_active",
    "set_role",
    "set_stakeholders",
    "start_revision",
    "sweep_reminders",
    "withdraw_proposal",
]
