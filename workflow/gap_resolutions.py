"""How each gap resolution moves a metric, and whose figure it moves (domain.md, "Joint
accountability"): a side decides alone only what it owns; the rest is a proposal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from states import Side
from workflow.canonical import content_hash
from workflow.command import Command
from workflow.models import AgreementVersion, Gap

FIGURES = ("requirement", "capability", "target")
WAIVED = "waived"


def moves_only_own_figure(resolution: str, side: Side) -> bool:
    """True when `side` may apply `resolution` alone: the capability is the provider's, the
    requirement the customer's; an agreed target moves both, and a waiver needs both sides."""
    return (resolution, side) in {
        ("provider_commits", Side.PROVIDER),
        ("customer_accepts", Side.CUSTOMER),
    }


def metric_change(
    version: AgreementVersion, gap: Gap, resolution: str, agreed_target: float | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The metrics after `resolution`, and the change ({before, after}; {} when none)."""
    metrics = [dict(m) for m in version.metrics]
    metric = next((m for m in metrics if m["key"] == gap.metric_key), None)
    if metric is None or resolution == WAIVED:
        return metrics, {}
    before = {k: metric.get(k) for k in FIGURES}
    if resolution == "provider_commits" and metric.get("requirement") is not None:
        metric["capability"] = metric["target"] = metric["requirement"]
    elif resolution == "customer_accepts" and metric.get("capability") is not None:
        metric["requirement"] = metric["target"] = metric["capability"]
    elif resolution == "target_adjusted":
        metric["requirement"] = metric["capability"] = metric["target"] = agreed_target
    return metrics, {"before": before, "after": {k: metric.get(k) for k in FIGURES}}


def apply_resolution(
    version: AgreementVersion,
    gap: Gap,
    *,
    resolution: str,
    note: str | None,
    agreed_target: float | None,
    resolved_by_id: int,
    now: datetime,
) -> dict[str, Any]:
    """Resolve the gap and move the version's metric as the resolution says; the change."""
    metrics, change = metric_change(version, gap, resolution, agreed_target)
    if change and change["after"] != change["before"]:
        version.metrics = metrics
        version.content_hash = content_hash(version.terms, metrics)
    gap.resolution, gap.resolution_note, gap.agreed_target = resolution, note, agreed_target
    gap.resolved_by_id, gap.resolved_at = resolved_by_id, now
    return change


def audit_resolution(
    tx: Command,
    version: AgreementVersion,
    gap: Gap,
    change: dict[str, Any],
    *,
    actor_id: int | None,
    on_behalf_of_id: int | None,
    now: datetime,
    proposal_id: int | None = None,
) -> None:
    """The `gap.resolved` event, whether applied at once or by an accepted proposal."""
    data: dict[str, Any] = {
        "gap_id": gap.id,
        "metric": gap.metric_key,
        "resolution": gap.resolution,
        "note": gap.resolution_note,
        "agreed_target": gap.agreed_target,
        "metric_change": change,
    }
    if proposal_id is not None:
        data["proposal_id"] = proposal_id
    tx.audit(
        action="gap.resolved",
        now=now,
        agreement_id=gap.agreement_id,
        version_id=version.id,
        actor_id=actor_id,
        on_behalf_of_id=on_behalf_of_id,
        data=data,
    )
