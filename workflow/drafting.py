"""Editing a draft's content: every draft edit (a form, an imported document, a catalogue
measure) is checked and stored here, inside the caller's command."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from states import LIFECYCLE, VersionState
from workflow.access import Actor, Grant, require_role
from workflow.calendar import local_date
from workflow.canonical import content_hash
from workflow.command import Command
from workflow.content import Content, Metric, describe_changes, dump_metrics, dump_terms
from workflow.errors import (
    InvalidInput,
    NotAllowedNow,
    StaleVersion,
)
from workflow.field_errors import plain
from workflow.guards import VersionContext
from workflow.models import (
    Agreement,
    AgreementVersion,
)
from workflow.permissions import (
    actor_grants,
    allowed_events,
)
from workflow.snapshots import version_summary

IMPORTABLE_KEYS = {
    "title",
    "customer",
    "provider",
    "remedy_policy",
    "terms",
    "metrics",
    "stakeholders",
    "agreement",
    "version",
    "modification_number",
    "state",
    "content_hash",
}


def check_draft_edit(
    session: Session,
    agreement: Agreement,
    version: AgreementVersion,
    actor: Actor,
    expected_lock_version: int,
    now: datetime,
) -> Grant:
    """The grant under which the actor may edit this draft now; refuses otherwise (role, state,
    stale lock_version). Public so that other draft edits refuse exactly like edit_draft."""
    day = local_date(now)
    grants_ = actor_grants(session, agreement, actor, day)
    grant = require_role(grants_, LIFECYCLE.action("edit_draft").roles, "editing a draft")
    if version.state != VersionState.DRAFT:
        ctx = VersionContext(session, agreement, version, now=now)
        raise NotAllowedNow(
            f"version {version.number} is {version.state}; only a draft can be edited",
            current_state=version.state,
            allowed_events=allowed_events(ctx, actor, grants_, day),
        )
    if expected_lock_version != version.lock_version:
        raise StaleVersion(
            f"version {version.number} changed since you read it (lock_version is now "
            f"{version.lock_version}); reload it and apply your change again",
            current_lock_version=version.lock_version,
        )
    return grant


def replace_draft_content(
    tx: Command,
    agreement: Agreement,
    version: AgreementVersion,
    actor: Actor,
    expected_lock_version: int,
    terms: dict[str, Any],
    metrics: list[dict[str, Any]],
    now: datetime,
    *,
    action: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """Validate and store a draft's new content, audited as `action` (plus `extra` data);
    the caller commits. Every draft edit goes through here."""
    session = tx.session
    grant = check_draft_edit(session, agreement, version, actor, expected_lock_version, now)
    content = parse_content(terms, metrics)
    _require_target_change_reasons(session, agreement, version, content.metrics)
    new_terms, new_metrics = dump_terms(content.terms), dump_metrics(content.metrics)
    before = version_summary(version)
    changes = describe_changes(version.terms, version.metrics, new_terms, new_metrics)
    version.terms, version.metrics = new_terms, new_metrics
    version.content_hash = content_hash(new_terms, new_metrics)
    version.last_edited_by_id = actor.user_id
    session.add(version)
    session.flush()
    tx.audit(
        action=action,
        now=now,
        agreement_id=agreement.id,
        version_id=version.id,
        actor_id=actor.user_id,
        on_behalf_of_id=grant.on_behalf_of_id,
        data={
            **(extra or {}),
            "changes": changes,
            "before": before,
            "after": version_summary(version),
        },
    )


def parse_content(terms: dict[str, Any], metrics: list[dict[str, Any]]) -> Content:
    """Validate terms and metrics, naming every offending field."""
    try:
        return Content.model_validate({"terms": terms, "metrics": metrics})
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": plain(e)}
            for e in exc.errors()
        ]
        raise InvalidInput("invalid terms or metrics", errors) from None


def _require_target_change_reasons(
    session: Session, agreement: Agreement, version: AgreementVersion, metrics: list[Metric]
) -> None:
    active = session.exec(
        select(AgreementVersion).where(
            AgreementVersion.agreement_id == agreement.id,
            AgreementVersion.state == VersionState.ACTIVE,
        )
    ).first()
    if active is None or active.id == version.id:
        return
    previous = {m["key"]: m for m in active.metrics}
    errors = [
        {
            "field": f"metrics.{i}.target_change",
            "message": f"target of {m.key} changed from {previous[m.key]['target']:g} to "
            f"{m.target:g}: say who drove it (customer or provider) and why",
        }
        for i, m in enumerate(metrics)
        if m.key in previous and previous[m.key]["target"] != m.target and m.target_change is None
    ]
    if errors:
        raise InvalidInput(errors[0]["message"], errors)
