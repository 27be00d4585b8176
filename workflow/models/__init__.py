"""Every table; importing this package registers them all on SQLModel.metadata."""

from workflow.models.agreements import (
    Agreement,
    AgreementKeySequence,
    AgreementVersion,
    StakeholderAssignment,
)
from workflow.models.catalog import CatalogMeasure, CatalogSource
from workflow.models.corrective_actions import ChronicMiss, CorrectiveAction
from workflow.models.excusals import Excusal
from workflow.models.governance import CalendarSlot, Extension, ServiceReview
from workflow.models.measurements import Measurement, MeasurementBatch, MeasurementCorrection
from workflow.models.notifications import NotificationLinkKey, NotificationPreference
from workflow.models.parties import (
    AccountLink,
    ApiToken,
    Delegation,
    LoginAttempt,
    Organization,
    User,
)
from workflow.models.periods import (
    PeriodAmendment,
    PeriodDispute,
    PeriodException,
    ReportingPeriod,
)
from workflow.models.proposals import Proposal
from workflow.models.records import (
    AuditChainHead,
    AuditEvent,
    IdempotencyRecord,
    JobRun,
    NotificationDelivery,
    OutboxMessage,
    OutboxStatus,
    SweepBasis,
)
from workflow.models.tasks import Gap, Task

__all__ = [
    "AccountLink",
    "Agreement",
    "AgreementKeySequence",
    "AgreementVersion",
    "ApiToken",
    "AuditChainHead",
    "AuditEvent",
    "CalendarSlot",
    "CatalogMeasure",
    "CatalogSource",
    "ChronicMiss",
    "CorrectiveAction",
    "Delegation",
    "Excusal",
    "Extension",
    "Gap",
    "IdempotencyRecord",
    "JobRun",
    "LoginAttempt",
    "Measurement",
    "MeasurementBatch",
    "MeasurementCorrection",
    "NotificationDelivery",
    "NotificationLinkKey",
    "NotificationPreference",
    "Organization",
    "OutboxMessage",
    "OutboxStatus",
    "PeriodAmendment",
    "PeriodDispute",
    "PeriodException",
    "Proposal",
    "ReportingPeriod",
    "ServiceReview",
    "StakeholderAssignment",
    "SweepBasis",
    "Task",
    "User",
]
