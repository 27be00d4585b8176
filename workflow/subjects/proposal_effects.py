"""The named effects of the proposal machine (`states.PROPOSAL.effects`): what an accepted
proposal does, by kind, and telling both sides of the decision."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import select

from states import PROPOSAL, ProposalKind
from workflow.corrections import apply_correction
from workflow.corrective_actions import cancel_for_excusal, reopen_after_withdrawal
from workflow.engine import Firing, register_effects
from workflow.errors import Conflict, NotAllowedNow, NotFound
from workflow.gap_resolutions import apply_resolution, audit_resolution
from workflow.models import AgreementVersion, Excusal, Gap, Measurement, ReportingPeriod
from workflow.subjects.amendments import amend_final_report
from workflow.subjects.period import PeriodSubject
from workflow.subjects.proposal import TOPIC_DECIDED, ProposalSubject
from workflow.transaction import flush


def excusal_in_force(
    subject: ProposalSubject, metric: str, window: str, *, excusal_id: int | None = None
) -> Excusal | None:
    query = select(Excusal).where(
        Excusal.agreement_id == subject.agreement.id,
        Excusal.metric_key == metric,
        Excusal.window == window,
        Excusal.withdrawn_at == None,  # noqa: E711 - SQL IS NULL
    )
    if excusal_id is not None:
        query = query.where(Excusal.id == excusal_id)
    return subject.session.exec(query.execution_options(populate_existing=True)).first()


def _excuse(subject: ProposalSubject, firing: Firing) -> dict[str, Any]:
    """The excusal counts from now; the miss's open corrective action is cancelled."""
    p, effect = subject.proposal, subject.proposal.effect
    metric, window = effect["metric"], effect["window"]
    existing = excusal_in_force(subject, metric, window)
    if existing is not None:
        raise Conflict(f"{metric} in {window} is already excused ({existing.party})")
    excusal = Excusal(
        agreement_id=subject.agreement.id or 0,
        metric_key=metric,
        window=window,
        party=effect["party"],
        reason=effect["reason"],
        created_by_id=p.proposed_by_id,
        created_at=firing.now,
    )
    subject.session.add(excusal)
    flush(subject.session)
    subject.tx.audit(
        action="excusal.added",
        now=firing.now,
        agreement_id=subject.agreement.id,
        actor_id=firing.actor.user_id if firing.actor else None,
        data={
            "excusal_id": excusal.id,
            "metric": metric,
            "window": window,
            "party": excusal.party,
            "reason": excusal.reason,
            "proposal_id": p.id,
            "proposed_by": p.proposed_by_id,
        },
    )
    cancelled = cancel_for_excusal(
        subject.tx,
        subject.session,
        agreement_id=subject.agreement.id or 0,
        metric_key=metric,
        window=window,
        reason=f"excused, charged to the {effect['party']}: {effect['reason']}",
        now=firing.now,
    )
    return {"excusal_id": excusal.id, "cancelled_tasks": cancelled}


def _withdraw_excusal(subject: ProposalSubject, firing: Firing) -> dict[str, Any]:
    """The excusal stays on record but counts no more; the corrective action re-opens."""
    effect = subject.proposal.effect
    excusal = excusal_in_force(
        subject, effect["metric"], effect["window"], excusal_id=effect["excusal_id"]
    )
    if excusal is None:
        raise NotAllowedNow(
            f"excusal {effect['excusal_id']} is no longer in force",
            current_state="withdrawn",
            allowed_events=[],
        )
    excusal.withdrawn_at, excusal.withdrawn_by_id = firing.now, subject.proposal.proposed_by_id
    subject.session.add(excusal)
    flush(subject.session)
    subject.tx.audit(
        action="excusal.withdrawn",
        now=firing.now,
        agreement_id=subject.agreement.id,
        actor_id=firing.actor.user_id if firing.actor else None,
        data={
            "excusal_id": excusal.id,
            "metric": excusal.metric_key,
            "window": excusal.window,
            "proposal_id": subject.proposal.id,
            "proposed_by": subject.proposal.proposed_by_id,
        },
    )
    reopened = reopen_after_withdrawal(
        subject.tx,
        subject.session,
        agreement_id=subject.agreement.id or 0,
        metric_key=excusal.metric_key,
        window=excusal.window,
        now=firing.now,
    )
    return {"excusal_id": excusal.id, "reopened_tasks": reopened}


def _resolve_gap(subject: ProposalSubject, firing: Firing) -> dict[str, Any]:
    effect = subject.proposal.effect
    gap = subject.session.get(Gap, effect["gap_id"], populate_existing=True)
    version = subject.session.get(AgreementVersion, effect["version_id"], populate_existing=True)
    if gap is None or version is None:
        raise NotFound("the proposal's gap no longer exists")
    if version.state != "gap_analysis" or gap.resolution is not None:
        raise NotAllowedNow(
            f"gap {gap.id} can no longer be resolved so (version {version.number} is "
            f"{version.state}, the gap {gap.resolution or 'unresolved'})",
            current_state=version.state,
            allowed_events=[],
        )
    change = apply_resolution(
        version,
        gap,
        resolution=effect["resolution"],
        note=effect.get("note"),
        agreed_target=effect.get("agreed_target"),
        resolved_by_id=subject.proposal.proposed_by_id,
        now=firing.now,
    )
    subject.session.add_all([gap, version])
    audit_resolution(
        subject.tx,
        version,
        gap,
        change,
        actor_id=firing.actor.user_id if firing.actor else None,
        on_behalf_of_id=firing.grant.on_behalf_of_id if firing.grant else None,
        now=firing.now,
        proposal_id=subject.proposal.id,
    )
    return {"gap_id": gap.id, "metric_change": change}


def _amend(subject: ProposalSubject, firing: Firing) -> dict[str, Any]:
    effect = subject.proposal.effect
    period = subject.session.exec(
        select(ReportingPeriod)
        .where(
            ReportingPeriod.agreement_id == subject.agreement.id,
            ReportingPeriod.period == effect["period"],
        )
        .execution_options(populate_existing=True)
    ).one()
    period_subject = PeriodSubject(subject.tx, subject.agreement, period, now=firing.now)
    corrected = _correct(subject, period, firing)
    amendment, data = amend_final_report(
        period_subject,
        reason=effect["reason"],
        created_by_id=subject.proposal.proposed_by_id,
        now=firing.now,
    )
    subject.tx.audit(
        action="period.amended",
        now=firing.now,
        agreement_id=subject.agreement.id,
        actor_id=firing.actor.user_id if firing.actor else None,
        data={**data, "proposal_id": subject.proposal.id, "corrections": corrected},
    )
    return {"amendment": amendment.number, "content_hash": amendment.content_hash}


def _correct(subject: ProposalSubject, period: ReportingPeriod, firing: Firing) -> list[int]:
    """The observation corrections an amendment carries, applied before the report is
    recomputed; refused when an observation changed since it was proposed."""
    applied = []
    for c in subject.proposal.effect.get("corrections", []):
        observed_at = datetime.fromisoformat(c["observed_at"])
        measurement = subject.session.exec(
            select(Measurement)
            .where(
                Measurement.agreement_id == subject.agreement.id,
                Measurement.metric_key == c["metric"],
                Measurement.observed_at == observed_at,
            )
            .execution_options(populate_existing=True)
        ).first()
        if measurement is None or measurement.value != c["old_value"]:
            raise Conflict(
                f"{c['metric']} at {c['observed_at']} changed since the correction was "
                "proposed; reject this proposal and propose again"
            )
        correction = apply_correction(
            subject.tx,
            subject.agreement,
            measurement,
            value=c["value"],
            reason=c["reason"],
            actor_id=subject.proposal.proposed_by_id,
            on_behalf_of_id=None,
            now=firing.now,
            period=period,
            proposal_id=subject.proposal.id,
        )
        applied.append(correction.id or 0)
    return applied


_APPLIERS: dict[str, Callable[[ProposalSubject, Firing], dict[str, Any]]] = {
    ProposalKind.EXCUSAL: _excuse,
    ProposalKind.EXCUSAL_WITHDRAWAL: _withdraw_excusal,
    ProposalKind.GAP_RESOLUTION: _resolve_gap,
    ProposalKind.AMENDMENT: _amend,
}


def _apply_proposal(subject: ProposalSubject, firing: Firing) -> dict[str, Any]:
    return _APPLIERS[subject.proposal.kind](subject, firing)


def _tell_both_sides(subject: ProposalSubject, firing: Firing) -> dict[str, Any]:
    actor = firing.actor.name if firing.actor else "Accord"
    subject.tell_both_sides(TOPIC_DECIDED, actor=actor, comment=firing.comment, now=firing.now)
    return {}


register_effects(PROPOSAL, {"apply_proposal": _apply_proposal, "tell_both_sides": _tell_both_sides})
