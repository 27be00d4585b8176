"""Correcting observations: each correction its own audited act that keeps the old value.

Who: the provider, or the side that provides the metric's data (`Metric.data_party`). When:
the observation's reporting period decides. Open or disputed (or not opened yet): the value
changes now, the old one kept in `measurement_correction`. Final: the corrections become an
`amendment` proposal for the other side, applied only when accepted (a numbered amendment).
Submitted, resubmitted or escalated: refused, the results are under review as submitted.

One request is one transaction: any unknown observation or bad field refuses all of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from states import REPORTING, PeriodState, ProposalKind, Side
from workflow.access import Actor, Grant, require_role
from workflow.calendar import BUSINESS_TIME_ZONE, local_date
from workflow.command import Command, command
from workflow.compliance.windows import window_for_day
from workflow.content import Metric, Party
from workflow.corrections import apply_correction
from workflow.errors import Forbidden, InvalidInput, NotAllowedNow
from workflow.measurements.rules import parse_time
from workflow.models import (
    Agreement,
    AgreementVersion,
    Measurement,
    Proposal,
    ReportingPeriod,
)
from workflow.permissions import actor_grants, lock_agreement
from workflow.subjects.period_effects import REASON_MAX
from workflow.subjects.proposal import make_proposal

MAX_CORRECTIONS = 1000
DIRECT = (PeriodState.OPEN, PeriodState.DISPUTED)
UNDER_REVIEW = (PeriodState.SUBMITTED, PeriodState.RESUBMITTED, PeriodState.ESCALATED)


@dataclass(frozen=True)
class CorrectionInput:
    metric: str
    observed_at: str  # RFC 3339 with an offset, as uploads are
    value: float
    reason: str


@dataclass
class CorrectionOutcome:
    applied: int = 0  # corrected now
    proposed: int = 0  # corrections of final reports, waiting in `proposals`
    proposals: list[Proposal] = field(default_factory=list)


@dataclass(frozen=True)
class _Checked:
    index: int
    measurement: Measurement
    metric: Metric
    value: float
    reason: str
    period: ReportingPeriod | None


def correct_observations(
    session: Session,
    *,
    actor: Actor,
    agreement_id: int,
    corrections: Sequence[CorrectionInput],
    now: datetime,
) -> CorrectionOutcome:
    """Correct each observation (or propose to, where its report is final): 422 naming every
    bad or unknown one, 403 for a metric whose data the actor's side does not provide, 409
    while a report is under review; nothing written unless all of it can be."""
    with command(session) as tx:
        agreement = lock_agreement(session, agreement_id, actor)
        grants = actor_grants(session, agreement, actor, local_date(now))
        grant = require_role(
            grants, REPORTING.action("correct_observation").roles, "correcting observations"
        )
        checked = _check(session, agreement, corrections)
        _may_correct(grant.side, checked)
        direct, final = _by_period_state(checked)
        outcome = CorrectionOutcome()
        for item in direct:
            apply_correction(
                tx,
                agreement,
                item.measurement,
                value=item.value,
                reason=item.reason,
                actor_id=actor.user_id,
                on_behalf_of_id=grant.on_behalf_of_id,
                now=now,
                period=item.period,
            )
            outcome.applied += 1
        for period, items in final.items():
            amending = require_role(
                grants, REPORTING.action("amend_report").roles, "amending a final report"
            )
            outcome.proposals.append(_propose(tx, agreement, actor, amending, period, items, now))
            outcome.proposed += len(items)
    return outcome


def _check(
    session: Session, agreement: Agreement, corrections: Sequence[CorrectionInput]
) -> list[_Checked]:
    """Each correction read against the stored observation; InvalidInput names every bad one."""
    errors: list[dict[str, str]] = []
    if not corrections:
        errors.append({"field": "corrections", "message": "name at least one correction"})
    if len(corrections) > MAX_CORRECTIONS:
        errors.append({"field": "corrections", "message": f"at most {MAX_CORRECTIONS}"})
    if errors:
        raise InvalidInput("invalid corrections", errors)
    metrics = _metric_definitions(session, agreement.id or 0)
    zone = _zone(session, agreement.id or 0)
    checked: list[_Checked] = []
    seen: set[tuple[str, datetime]] = set()
    for i, c in enumerate(corrections):
        at = f"corrections.{i}"
        moment = parse_time(c.observed_at)
        reason = (c.reason or "").strip()
        if not reason:
            errors.append({"field": f"{at}.reason", "message": "required"})
        elif len(reason) > REASON_MAX:
            errors.append({"field": f"{at}.reason", "message": f"at most {REASON_MAX}"})
        if not isinstance(c.value, int | float) or not math.isfinite(c.value):
            errors.append({"field": f"{at}.value", "message": "must be a finite number"})
        if isinstance(moment, str):
            errors.append({"field": f"{at}.observed_at", "message": moment})
            continue
        measurement = session.exec(
            select(Measurement)
            .where(
                Measurement.agreement_id == agreement.id,
                Measurement.metric_key == c.metric,
                Measurement.observed_at == moment,
            )
            .execution_options(populate_existing=True)
        ).first()
        metric = metrics.get(c.metric)
        if measurement is None or metric is None:
            errors.append(
                {
                    "field": at,
                    "message": f"no observation of {c.metric!r} at {moment.isoformat()}",
                }
            )
            continue
        if (c.metric, moment) in seen:
            errors.append({"field": at, "message": "the same observation is corrected twice"})
            continue
        seen.add((c.metric, moment))
        if measurement.value == c.value:
            errors.append({"field": f"{at}.value", "message": f"is already {c.value!r}"})
        period = _period_of(session, agreement, metric, moment, zone)
        checked.append(_Checked(i, measurement, metric, float(c.value), reason, period))
    if errors:
        raise InvalidInput("invalid corrections", errors)
    return checked


def _may_correct(side: Side, checked: list[_Checked]) -> None:
    """The provider corrects any observation; the customer those whose data it provides."""
    if side is Side.PROVIDER:
        return
    others = sorted(
        {c.metric.key for c in checked if c.metric.data_party not in (Party.CUSTOMER, Party.SHARED)}
    )
    if others:
        raise Forbidden(
            "only the provider, or the side that provides a metric's data, corrects its "
            f"observations; the provider provides {', '.join(others)}"
        )


def _by_period_state(
    checked: list[_Checked],
) -> tuple[list[_Checked], dict[str, list[_Checked]]]:
    """Corrections to make now, and those of final reports by period; 409 while a report
    is under review, or when one request mixes both."""
    reviewing = [c for c in checked if c.period is not None and c.period.state in UNDER_REVIEW]
    if reviewing:
        named = sorted({f"{c.period.period} is {c.period.state}" for c in reviewing if c.period})
        raise NotAllowedNow(
            "an observation of a period under review cannot be corrected now: "
            + "; ".join(named)
            + " (the customer reviews the results as submitted; dispute them to reopen)",
            current_state=reviewing[0].period.state if reviewing[0].period else "",
            allowed_events=[],
            reasons=[f"corrections.{c.index}: {c.measurement.metric_key}" for c in reviewing],
        )
    direct = [c for c in checked if c.period is None or c.period.state in DIRECT]
    final: dict[str, list[_Checked]] = {}
    for c in checked:
        if c.period is not None and c.period.state == PeriodState.FINAL:
            final.setdefault(c.period.period, []).append(c)
    if direct and final:
        raise NotAllowedNow(
            "corrections of final reports are proposals to the other side: send them apart "
            f"from corrections made now (final: {', '.join(sorted(final))})",
            current_state=PeriodState.FINAL,
            allowed_events=[],
        )
    return direct, final


def _propose(
    tx: Command,
    agreement: Agreement,
    actor: Actor,
    grant: Grant,
    period: str,
    items: list[_Checked],
    now: datetime,
) -> Proposal:
    """An amendment proposal carrying the corrections; inert until the other side accepts."""
    corrections = [
        {
            "metric": c.measurement.metric_key,
            "observed_at": c.measurement.observed_at.isoformat(),
            "old_value": c.measurement.value,
            "value": c.value,
            "reason": c.reason,
        }
        for c in items
    ]
    reason = "; ".join(dict.fromkeys(c.reason for c in items))[:REASON_MAX]
    effect: dict[str, Any] = {
        "period": period,
        "reason": f"corrected observations: {reason}"[:REASON_MAX],
        "corrections": corrections,
        "changes": [
            {
                "what": f"{c['metric']} at {c['observed_at']}",
                "before": f"{c['old_value']:g}",
                "after": f"{c['value']:g} ({c['reason']})"[:500],
            }
            for c in corrections
        ],
    }
    return make_proposal(
        tx,
        agreement,
        kind=ProposalKind.AMENDMENT,
        actor=actor,
        on_behalf_of_id=grant.on_behalf_of_id,
        summary=(
            f"amend the final report for {period}: correct {len(items)} observation(s): {reason}"
        ),
        effect=effect,
        now=now,
    )


def _metric_definitions(session: Session, agreement_id: int) -> dict[str, Metric]:
    """Each metric as its newest non-withdrawn version defines it."""
    rows = session.exec(
        select(AgreementVersion.metrics)
        .where(
            AgreementVersion.agreement_id == agreement_id,
            col(AgreementVersion.state) != "withdrawn",
        )
        .order_by(col(AgreementVersion.number))
    ).all()
    found: dict[str, Metric] = {}
    for metrics in rows:
        for m in metrics or []:
            found[m["key"]] = Metric.model_validate(m)
    return found


def _zone(session: Session, agreement_id: int) -> str:
    terms = session.exec(
        select(AgreementVersion.terms)
        .where(AgreementVersion.agreement_id == agreement_id)
        .order_by(col(AgreementVersion.number).desc())
    ).first()
    return str((terms or {}).get("time_zone") or BUSINESS_TIME_ZONE)


def _period_of(
    session: Session, agreement: Agreement, metric: Metric, moment: datetime, zone: str
) -> ReportingPeriod | None:
    """The reporting period whose report holds the observation's window: the one the window
    closes in (a quarterly window in the period holding its last day)."""
    try:
        window = window_for_day(local_date(moment, zone), metric.window, zone)
    except (KeyError, ValueError):
        window = window_for_day(local_date(moment), metric.window, BUSINESS_TIME_ZONE)
    return session.exec(
        select(ReportingPeriod)
        .where(
            ReportingPeriod.agreement_id == agreement.id,
            col(ReportingPeriod.first_day) <= window.last_day,
            col(ReportingPeriod.last_day) >= window.last_day,
        )
        .execution_options(populate_existing=True)
    ).first()
