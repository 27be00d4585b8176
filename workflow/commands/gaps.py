"""Adding gaps by hand and resolving them during gap analysis.

A side resolves alone only what moves its own figure (the provider's capability, the
customer's requirement); anything else is proposed to the other side (domain.md, "Joint
accountability"). A proposed resolution leaves the gap unresolved, so approval waits for it.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from states import LIFECYCLE, ProposalKind, Role
from workflow.access import Actor, require_role
from workflow.calendar import local_date
from workflow.command import Command, command
from workflow.commands.proposals import open_proposals
from workflow.db import is_postgres
from workflow.errors import InvalidInput, NotAllowedNow, NotFound
from workflow.gap_resolutions import (
    FIGURES,
    WAIVED,
    apply_resolution,
    audit_resolution,
    metric_change,
    moves_only_own_figure,
)
from workflow.models import Agreement, AgreementVersion, Gap, Proposal
from workflow.models.tasks import GAP_RESOLUTIONS, GAP_SEVERITIES
from workflow.permissions import actor_grants, lock_agreement, version_by_number
from workflow.subjects.proposal import make_proposal


def _require_gap_analysis(version: AgreementVersion) -> None:
    if version.state != "gap_analysis":
        raise NotAllowedNow(
            f"gaps can change only during gap analysis; version {version.number} is "
            f"{version.state}",
            current_state=version.state,
            allowed_events=[],
        )


def add_gap(
    session: Session,
    *,
    actor: Actor,
    agreement_id: int,
    number: int,
    metric_key: str,
    description: str,
    severity: str,
    now: datetime,
) -> Gap:
    with command(session) as tx:
        agreement = lock_agreement(session, agreement_id, actor)
        version = version_by_number(session, agreement, number)
        grant = require_role(
            actor_grants(session, agreement, actor, local_date(now)),
            LIFECYCLE.action("manage_gaps").roles,
            "adding a gap",
        )
        _require_gap_analysis(version)
        errors = []
        metric = next((m for m in version.metrics if m["key"] == metric_key), None)
        if metric is None:
            errors.append(
                {"field": "metric_key", "message": f"no metric {metric_key!r} in version"}
            )
        if severity not in GAP_SEVERITIES:
            errors.append({"field": "severity", "message": f"one of {', '.join(GAP_SEVERITIES)}"})
        if not description.strip():
            errors.append({"field": "description", "message": "required"})
        if errors:
            raise InvalidInput("invalid gap", errors)
        assert metric is not None
        gap = Gap(
            agreement_id=agreement_id,
            version_id=version.id,  # type: ignore[arg-type]
            metric_key=metric_key,
            source="manual",
            requirement=metric.get("requirement"),
            capability=metric.get("capability"),
            severity=severity,
            description=description.strip(),
            created_by_id=actor.user_id,
            created_at=now,
        )
        session.add(gap)
        session.flush()
        tx.audit(
            action="gap.added",
            now=now,
            agreement_id=agreement_id,
            version_id=version.id,
            actor_id=actor.user_id,
            on_behalf_of_id=grant.on_behalf_of_id,
            data={"gap_id": gap.id, "metric": metric_key, "severity": severity},
        )
    return gap


def resolve_gap(
    session: Session,
    *,
    actor: Actor,
    gap_id: int,
    resolution: str,
    now: datetime,
    note: str | None = None,
    agreed_target: float | None = None,
) -> Gap | Proposal:
    """Resolve a gap one of the four ways; the metric follows the resolution.

    Applied at once (the gap returned) when it moves only the caller's side's figure;
    otherwise a proposal to the other side (returned), as is the first Program Manager's
    waiver (domain.md, "Joint accountability").
    """
    with command(session) as tx:
        gap, agreement = _locked_gap(session, gap_id, actor)
        version = session.get(AgreementVersion, gap.version_id)
        assert version is not None
        grants = actor_grants(session, agreement, actor, local_date(now))
        grant = require_role(grants, LIFECYCLE.action("manage_gaps").roles, "resolving a gap")
        _require_gap_analysis(version)
        _check_resolution(session, gap, resolution, note, agreed_target)
        side = agreement.side_of_org(actor.organization_id)
        assert side is not None  # lock_agreement admits parties only
        if not moves_only_own_figure(resolution, side):
            if resolution == WAIVED:
                # A Program Manager of each side in turn: this one proposes, the other agrees.
                grant = require_role(
                    [g for g in grants if g.side is side], (Role.PROGRAM_MANAGER,), "waiving a gap"
                )
            return _propose(
                tx,
                agreement,
                version,
                gap,
                actor,
                grant.on_behalf_of_id,
                resolution=resolution,
                note=note,
                agreed_target=agreed_target,
                now=now,
            )
        change = apply_resolution(
            version,
            gap,
            resolution=resolution,
            note=note,
            agreed_target=agreed_target,
            resolved_by_id=actor.user_id,
            now=now,
        )
        session.add(gap)
        session.flush()
        audit_resolution(
            tx,
            version,
            gap,
            change,
            actor_id=actor.user_id,
            on_behalf_of_id=grant.on_behalf_of_id,
            now=now,
        )
    return gap


def _propose(
    tx: Command,
    agreement: Agreement,
    version: AgreementVersion,
    gap: Gap,
    actor: Actor,
    on_behalf_of_id: int | None,
    *,
    resolution: str,
    note: str | None,
    agreed_target: float | None,
    now: datetime,
) -> Proposal:
    """A resolution that moves the other side's figure (or waives the gap), proposed to it."""
    _metrics, change = metric_change(version, gap, resolution, agreed_target)
    if resolution == WAIVED:
        changes = [
            {"what": f"gap on {gap.metric_key}", "before": "open", "after": f"waived: {note}"}
        ]
    else:
        changes = [
            {
                "what": f"{gap.metric_key} {figure}",
                "before": _figure(change["before"][figure]),
                "after": _figure(change["after"][figure]),
            }
            for figure in FIGURES
            if change and change["before"][figure] != change["after"][figure]
        ]
    return make_proposal(
        tx,
        agreement,
        kind=ProposalKind.GAP_RESOLUTION,
        actor=actor,
        on_behalf_of_id=on_behalf_of_id,
        summary=f"resolve the gap on {_name(version, gap.metric_key)} of version {version.number}: "
        f"{resolution.replace('_', ' ')}",
        effect={
            "gap_id": gap.id,
            "version_id": version.id,
            "version_number": version.number,
            "metric": gap.metric_key,
            "resolution": resolution,
            "note": note,
            "agreed_target": agreed_target,
            **change,
            "changes": changes,
        },
        now=now,
    )


def _name(version: AgreementVersion, metric_key: str) -> str:
    """The metric as the version names it (its key if the version has no such metric)."""
    metric = next((m for m in version.metrics if m["key"] == metric_key), None)
    return str(metric.get("name") or metric_key) if metric else metric_key


def _figure(value: object) -> str:
    return "not set" if value is None else str(value)


def _locked_gap(session: Session, gap_id: int, actor: Actor) -> tuple[Gap, Agreement]:
    """The gap, read under its agreement's lock, and the agreement."""
    gap = session.get(Gap, gap_id)
    if gap is None:
        raise NotFound("no such gap")
    agreement = lock_agreement(session, gap.agreement_id, actor)
    if is_postgres(session):
        # The gap was read before the agreement lock was granted; read it again under it.
        session.refresh(gap)
    return gap, agreement


def _check_resolution(
    session: Session, gap: Gap, resolution: str, note: str | None, agreed_target: float | None
) -> None:
    """Refuse a second resolution (or one while another is proposed), then name every problem
    with this one."""
    if gap.resolution is not None:
        raise NotAllowedNow(
            f"gap {gap.id} is already resolved ({gap.resolution})",
            current_state="resolved",
            allowed_events=[],
        )
    for proposal in open_proposals(session, gap.agreement_id, ProposalKind.GAP_RESOLUTION):
        if proposal.effect.get("gap_id") == gap.id:
            raise NotAllowedNow(
                f"a resolution of gap {gap.id} is proposed already (proposal {proposal.id}); "
                "the other side decides it",
                current_state="proposed",
                allowed_events=[],
            )
    errors = []
    if resolution not in GAP_RESOLUTIONS:
        errors.append({"field": "resolution", "message": f"one of {', '.join(GAP_RESOLUTIONS)}"})
    if resolution == "target_adjusted" and agreed_target is None:
        errors.append({"field": "agreed_target", "message": "required for target_adjusted"})
    if resolution == "waived" and not (note and note.strip()):
        errors.append({"field": "note", "message": "a waiver needs its justification"})
    if errors:
        raise InvalidInput("invalid resolution", errors)
