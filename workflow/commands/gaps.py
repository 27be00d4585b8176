"""Adding gaps by hand and resolving them during gap analysis."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from states import LIFECYCLE
from workflow.access import Actor, require_role
from workflow.calendar import local_date
from workflow.canonical import content_hash
from workflow.command import command
from workflow.db import is_postgres
from workflow.errors import InvalidInput, NotAllowedNow, NotFound
from workflow.models import Agreement, AgreementVersion, Gap
from workflow.models.tasks import GAP_RESOLUTIONS, GAP_SEVERITIES
from workflow.permissions import actor_grants, lock_agreement, version_by_number


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
) -> Gap:
    """Resolve a gap one of the four ways; the metric follows the resolution."""
    with command(session) as tx:
        gap, agreement = _locked_gap(session, gap_id, actor)
        version = session.get(AgreementVersion, gap.version_id)
        assert version is not None
        grant = require_role(
            actor_grants(session, agreement, actor, local_date(now)),
            LIFECYCLE.action("manage_gaps").roles,
            "resolving a gap",
        )
        _require_gap_analysis(version)
        _check_resolution(gap, resolution, note, agreed_target)
        metric_change = _apply_to_metric(version, gap, resolution, agreed_target)
        gap.resolution, gap.resolution_note, gap.agreed_target = resolution, note, agreed_target
        gap.resolved_by_id, gap.resolved_at = actor.user_id, now
        session.add(gap)
        session.flush()
        tx.audit(
            action="gap.resolved",
            now=now,
            agreement_id=agreement.id,
            version_id=version.id,
            actor_id=actor.user_id,
            on_behalf_of_id=grant.on_behalf_of_id,
            data={
                "gap_id": gap.id,
                "metric": gap.metric_key,
                "resolution": resolution,
                "note": note,
                "agreed_target": agreed_target,
                "metric_change": metric_change,
            },
        )
    return gap


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
    gap: Gap, resolution: str, note: str | None, agreed_target: float | None
) -> None:
    """Refuse a second resolution, then name every problem with this one."""
    if gap.resolution is not None:
        raise NotAllowedNow(
            f"gap {gap.id} is already resolved ({gap.resolution})",
            current_state="resolved",
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


def _apply_to_metric(
    version: AgreementVersion, gap: Gap, resolution: str, agreed_target: float | None
) -> dict[str, object]:
    """Move requirement, capability and target as the resolution says; return the change."""
    metrics = [dict(m) for m in version.metrics]
    metric = next((m for m in metrics if m["key"] == gap.metric_key), None)
    if metric is None or resolution == "waived":
        return {}
    before = {k: metric.get(k) for k in ("requirement", "capability", "target")}
    if resolution == "provider_commits" and metric.get("requirement") is not None:
        metric["capability"] = metric["target"] = metric["requirement"]
    elif resolution == "customer_accepts" and metric.get("capability") is not None:
        metric["requirement"] = metric["target"] = metric["capability"]
    elif resolution == "target_adjusted":
        metric["requirement"] = metric["capability"] = metric["target"] = agreed_target
    after = {k: metric.get(k) for k in ("requirement", "capability", "target")}
    if after != before:
        version.metrics = metrics
        version.content_hash = content_hash(version.terms, metrics)
    return {"before": before, "after": after}
