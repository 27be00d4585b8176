"""The named effects of the version lifecycle (`states.LIFECYCLE.effects`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, delete, select

from states import FOLLOW_UP, LIFECYCLE, PROPOSAL, ProposalKind, ProposalState, Role, Side
from workflow.access import Grant
from workflow.agreement_tasks import follow_the_agreement
from workflow.content import Metric, Terms, is_stricter
from workflow.engine import Firing, register_effects, run
from workflow.guards import VersionContext
from workflow.models import Gap, Proposal, User
from workflow.queries.what_if import measured_shortfalls, study_zone
from workflow.subjects.proposal import ProposalSubject
from workflow.subjects.version import VersionSubject, open_task
from workflow.transaction import flush


def _compute_gaps(subject: VersionSubject, firing: Firing) -> dict[str, Any]:
    return {"gaps": compute_gaps(subject, firing.now)}


def _take_effect(subject: VersionSubject, firing: Firing) -> dict[str, Any]:
    """The version comes into force now; the one in force until now is superseded."""
    subject.version.activated_at = firing.now
    previous = subject.active_version
    if previous is None:
        return {}
    moved = follow_the_agreement(subject.session, previous.id, subject.version)
    old = VersionSubject(subject.tx, subject.agreement, previous, now=firing.now)
    run(old, LIFECYCLE.transition("supersede"), actor=None, grant=None, now=firing.now)
    return {"superseded_version": previous.number, **({"moved_tasks": moved} if moved else {})}


def _open_follow_ups(subject: VersionSubject, firing: Firing) -> dict[str, Any]:
    """Each condition of approval becomes a follow-up task for the approver who set it."""
    follow_ups = []
    for approval in subject.current("approval"):
        if approval.outcome != "approved_with_conditions":
            continue
        approver = subject.session.get(User, approval.completed_by_id)
        task = open_task(
            subject,
            FOLLOW_UP,
            grant=Grant(Side(approval.side), Role(approval.role)),
            now=firing.now,
            detail=f"Condition of approval by {approver.name if approver else 'an approver'}"
            f": {approval.comment}",
        )
        follow_ups.append(task.id)
    return {"follow_up_tasks": follow_ups} if follow_ups else {}


def _lapse_gap_proposals(subject: VersionSubject, firing: Firing) -> dict[str, Any]:
    """Gaps belong to one round of gap analysis (they are recomputed when the version comes
    back), so a proposal to resolve one cannot be decided once its version has left."""
    proposals = subject.session.exec(
        select(Proposal)
        .where(
            Proposal.agreement_id == subject.agreement.id,
            Proposal.kind == ProposalKind.GAP_RESOLUTION.value,
            Proposal.state == ProposalState.OPEN.value,
        )
        .order_by(col(Proposal.id))
        .execution_options(populate_existing=True)
    ).all()
    lapse = PROPOSAL.transition("lapse")
    lapsed = []
    for proposal in proposals:
        if proposal.effect.get("version_id") != subject.version.id:
            continue
        reason = f"version {subject.version.number} left gap analysis ({firing.transition.event})"
        proposal.comment = reason
        owner = ProposalSubject(subject.tx, subject.agreement, proposal)
        run(owner, lapse, actor=None, grant=None, now=firing.now, comment=reason)
        lapsed.append(proposal.id)
    return {"lapsed_proposals": lapsed} if lapsed else {}


def compute_gaps(ctx: VersionContext, now: datetime) -> list[dict[str, Any]]:
    """Replace the version's gaps with those its requirements and capabilities imply."""
    ctx.session.execute(delete(Gap).where(Gap.version_id == ctx.version.id))  # type: ignore[arg-type]
    metrics = [Metric.model_validate(m) for m in ctx.version.metrics]
    found: list[Gap] = []
    for metric in metrics:
        req, cap = metric.requirement, metric.capability
        if req is None or cap is None or not is_stricter(metric.direction, req, cap):
            continue
        severity, why = gap_severity(metric, req, cap)
        found.append(
            Gap(
                agreement_id=ctx.agreement.id,  # type: ignore[arg-type]
                version_id=ctx.version.id,  # type: ignore[arg-type]
                metric_key=metric.key,
                source="computed",
                requirement=req,
                capability=cap,
                severity=severity,
                description=(
                    f"{metric.name}: the customer requires {req:g} {metric.unit}, "
                    f"the provider can deliver {cap:g}. {why}"
                ),
                created_at=now,
            )
        )
    found.extend(_measured_gaps(ctx, metrics, found, now))
    ctx.session.add_all(found)
    flush(ctx.session)
    ctx.__dict__.pop("gaps", None)
    return [{"metric": g.metric_key, "severity": g.severity, "source": g.source} for g in found]


SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}


def _measured_gaps(
    ctx: VersionContext, metrics: list[Metric], computed: list[Gap], now: datetime
) -> list[Gap]:
    """Gaps from measured performance over the last 6 windows before `now` (see
    `workflow.compliance.what_if`). A metric that already has a requirement-vs-capability gap
    gets the evidence appended to that gap's description (and the higher severity) instead."""
    if not metrics or ctx.agreement.id is None:
        return []
    zone = study_zone(ctx.session, ctx.agreement.id, Terms.model_validate(ctx.version.terms))
    shortfalls = measured_shortfalls(ctx.session, ctx.agreement.id, metrics, now, zone)
    by_key = {g.metric_key: g for g in computed}
    added: list[Gap] = []
    for metric in metrics:
        shortfall = shortfalls.get(metric.key)
        if shortfall is None:
            continue
        evidence = shortfall.describe(metric)
        existing = by_key.get(metric.key)
        if existing is not None:
            existing.description = f"{existing.description} {evidence}"[:2000]
            if SEVERITY_RANK[shortfall.severity] > SEVERITY_RANK[existing.severity]:
                existing.severity = shortfall.severity
            continue
        added.append(
            Gap(
                agreement_id=ctx.agreement.id,
                version_id=ctx.version.id,  # type: ignore[arg-type]
                metric_key=metric.key,
                source="measured",
                requirement=metric.requirement,
                capability=metric.capability,
                severity=shortfall.severity,
                description=evidence[:2000],
                created_at=now,
            )
        )
    return added


def gap_severity(metric: Metric, req: float, cap: float) -> tuple[str, str]:
    """Severity from how far apart the two are, explained in one sentence."""
    if metric.unit == "percent" and metric.direction == "higher_is_better" and req < 100:
        ratio = (100 - cap) / (100 - req)
        severity = "high" if ratio >= 5 else "medium" if ratio >= 2 else "low"
        return severity, f"The provider's shortfall allowance is {ratio:.1f}x the customer's."
    relative = abs(req - cap) / abs(req) if req else 1.0
    severity = "high" if relative >= 0.2 else "medium" if relative >= 0.05 else "low"
    return severity, f"They differ by {relative:.1%} of the requirement."


register_effects(
    LIFECYCLE,
    {
        "compute_gaps": _compute_gaps,
        "take_effect": _take_effect,
        "open_follow_ups": _open_follow_ups,
        "lapse_gap_proposals": _lapse_gap_proposals,
    },
)
