"""Compliance maths: pure functions over plain records, the reference the SQL must match.

See docs/compliance.md for every rule. No database access here: callers load versions,
observations, excusals and tasks, and pass them in.
"""

from workflow.compliance.aggregation import Observation, aggregate, percentile, weighted_mean
from workflow.compliance.attribution import ChargedCounts
from workflow.compliance.excusals import Attribution, Excusal, ExcusedCounts
from workflow.compliance.plan import (
    ReportPeriod,
    ReportPlan,
    WindowAggregate,
    agreement_time_zone,
    plan_report,
)
from workflow.compliance.remedies import CorrectiveAction, RemedyPolicy, window_fee
from workflow.compliance.report import (
    ComplianceReport,
    MetricReport,
    Totals,
    WindowCredit,
    WindowResult,
    compliance_report,
    judge_report,
)
from workflow.compliance.responsiveness import ResponsivenessRow, TaskRecord, responsiveness
from workflow.compliance.status import Status, judge
from workflow.compliance.versions import (
    VersionRecord,
    version_for_window,
    version_in_force,
    version_record,
)
from workflow.compliance.windows import TimeWindow, window_of, windows_between

__all__ = [
    "Attribution",
    "ChargedCounts",
    "ComplianceReport",
    "CorrectiveAction",
    "Excusal",
    "ExcusedCounts",
    "MetricReport",
    "Observation",
    "RemedyPolicy",
    "ReportPeriod",
    "ReportPlan",
    "ResponsivenessRow",
    "Status",
    "TaskRecord",
    "TimeWindow",
    "Totals",
    "VersionRecord",
    "WindowAggregate",
    "WindowCredit",
    "WindowResult",
    "aggregate",
    "agreement_time_zone",
    "compliance_report",
    "judge",
    "judge_report",
    "percentile",
    "plan_report",
    "responsiveness",
    "version_for_window",
    "version_in_force",
    "version_record",
    "weighted_mean",
    "window_fee",
    "window_of",
    "windows_between",
]
