"""Corrected observations as people see them: every value an observation has had, who set it,
when and why; and the corrections inside one period's report."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from workflow.access import Actor
from workflow.calendar import start_of_day
from workflow.compliance.closing import report_start
from workflow.errors import NotFound
from workflow.models import Measurement, MeasurementBatch, MeasurementCorrection
from workflow.queries.agreements import visible_agreement
from workflow.queries.common import Person, View, people


class ValueView(View):
    value: float
    set_by: Person | None
    set_at: datetime
    reason: str
    proposal_id: int | None = None  # set when an accepted amendment made the correction


class ObservationHistory(View):
    metric: str
    observed_at: datetime
    value: float  # as it stands
    history: list[ValueView]  # oldest first: the first value, then each correction


class CorrectionView(View):
    metric: str
    observed_at: datetime
    old_value: float
    value: float
    reason: str
    corrected_by: Person | None
    corrected_at: datetime
    proposal_id: int | None


def observation_history(
    session: Session, actor: Actor, agreement_id: int, metric: str, observed_at: datetime
) -> ObservationHistory:
    """Every value of one observation; 404 when the agreement has no such observation."""
    visible_agreement(session, actor, agreement_id)
    row = session.exec(
        select(Measurement, MeasurementBatch.submitted_by_id, MeasurementBatch.source)
        .join(MeasurementBatch, col(MeasurementBatch.id) == Measurement.batch_id)
        .where(
            Measurement.agreement_id == agreement_id,
            Measurement.metric_key == metric,
            Measurement.observed_at == observed_at,
        )
    ).first()
    if row is None:
        raise NotFound(f"no observation of {metric!r} at {observed_at.isoformat()}")
    measurement, uploaded_by, source = row
    corrections = list(
        session.exec(
            select(MeasurementCorrection)
            .where(
                MeasurementCorrection.agreement_id == agreement_id,
                MeasurementCorrection.metric_key == metric,
                MeasurementCorrection.observed_at == observed_at,
            )
            .order_by(col(MeasurementCorrection.id))
        ).all()
    )
    who = people(session, [uploaded_by, *(c.corrected_by_id for c in corrections)])
    first = corrections[0].old_value if corrections else measurement.value
    history = [
        ValueView(
            value=first,
            set_by=who.get(uploaded_by or 0),
            set_at=measurement.ingested_at,
            reason=f"uploaded ({source} batch {measurement.batch_id})",
        ),
        *(
            ValueView(
                value=c.value,
                set_by=who.get(c.corrected_by_id or 0),
                set_at=c.corrected_at,
                reason=c.reason,
                proposal_id=c.proposal_id,
            )
            for c in corrections
        ),
    ]
    return ObservationHistory(
        metric=metric, observed_at=measurement.observed_at, value=measurement.value, history=history
    )


def period_corrections(
    session: Session, agreement_id: int, first_day: date, last_day: date
) -> list[CorrectionView]:
    """The corrections of observations a period's report reads (its quarter's, when a
    quarterly window closes in it), in the order they were made."""
    start = start_of_day(report_start(first_day))
    end = start_of_day(last_day + timedelta(days=1))
    rows = list(
        session.exec(
            select(MeasurementCorrection)
            .where(
                MeasurementCorrection.agreement_id == agreement_id,
                col(MeasurementCorrection.observed_at) >= start,
                col(MeasurementCorrection.observed_at) < end,
            )
            .order_by(col(MeasurementCorrection.id))
        ).all()
    )
    who = people(session, (c.corrected_by_id for c in rows))
    return [
        CorrectionView(
            metric=c.metric_key,
            observed_at=c.observed_at,
            old_value=c.old_value,
            value=c.value,
            reason=c.reason,
            corrected_by=who.get(c.corrected_by_id or 0),
            corrected_at=c.corrected_at,
            proposal_id=c.proposal_id,
        )
        for c in rows
    ]
