"""Applying one correction of an observation: the new value, the old one kept, audited.

Used directly (an open or disputed period) and by an accepted amendment proposal (a final one).
"""

from __future__ import annotations

from datetime import datetime

from workflow.command import Command
from workflow.models import Agreement, Measurement, MeasurementCorrection, ReportingPeriod
from workflow.transaction import flush


def apply_correction(
    tx: Command,
    agreement: Agreement,
    measurement: Measurement,
    *,
    value: float,
    reason: str,
    actor_id: int | None,
    on_behalf_of_id: int | None,
    now: datetime,
    period: ReportingPeriod | None,
    proposal_id: int | None = None,
) -> MeasurementCorrection:
    """The observation takes `value`; the value it had stays in its history; audited."""
    correction = MeasurementCorrection(
        agreement_id=agreement.id or 0,
        metric_key=measurement.metric_key,
        observed_at=measurement.observed_at,
        old_value=measurement.value,
        value=value,
        reason=reason,
        corrected_by_id=actor_id,
        corrected_at=now,
        proposal_id=proposal_id,
    )
    measurement.value = value
    tx.session.add_all([measurement, correction])
    flush(tx.session)
    tx.audit(
        action="measurement.corrected",
        now=now,
        agreement_id=agreement.id,
        actor_id=actor_id,
        on_behalf_of_id=on_behalf_of_id,
        data={
            "correction_id": correction.id,
            "metric": measurement.metric_key,
            "observed_at": measurement.observed_at.isoformat(),
            "old_value": correction.old_value,
            "value": value,
            "reason": reason,
            "period": period.period if period else None,
            "period_state": period.state if period else None,
            "proposal_id": proposal_id,
        },
    )
    return correction
