"""Editing drafts and starting revisions of an active agreement."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from states import LIFECYCLE
from workflow.access import Actor, require_role
from workflow.calendar import local_date
from workflow.canonical import content_hash
from workflow.command import command
from workflow.drafting import IMPORTABLE_KEYS, replace_draft_content
from workflow.errors import (
    Conflict,
    InvalidInput,
)
from workflow.guards import VersionContext
from workflow.models import (
    AgreementVersion,
)
from workflow.permissions import (
    actor_grants,
    lock_agreement,
    version_by_number,
)
from workflow.scope import AgreementScope
from workflow.snapshots import version_summary
from workflow.subjects.extension import current_version


def edit_draft(
    session: Session,
    *,
    actor: Actor,
    agreement_id: int,
    number: int,
    expected_lock_version: int,
    now: datetime,
    terms: dict[str, Any] | None = None,
    metrics: list[dict[str, Any]] | None = None,
) -> AgreementVersion:
    """Change terms (merged key by key) and/or metrics (replaced) of a draft."""
    with command(session) as tx:
        agreement = lock_agreement(session, agreement_id, actor)
        version = version_by_number(session, agreement, number)
        merged_terms = {**version.terms, **(terms or {})}
        new_metrics = metrics if metrics is not None else version.metrics
        replace_draft_content(
            tx,
            agreement,
            version,
            actor,
            expected_lock_version,
            merged_terms,
            new_metrics,
            now,
            action="version.edited",
        )
    return version


def import_version(
    session: Session,
    *,
    actor: Actor,
    agreement_id: int,
    number: int,
    expected_lock_version: int,
    document: dict[str, Any],
    now: datetime,
) -> AgreementVersion:
    """Replace a draft's terms and metrics with those of an exported YAML document."""
    with command(session) as tx:
        agreement = lock_agreement(session, agreement_id, actor)
        version = version_by_number(session, agreement, number)
        unknown = sorted(set(document) - IMPORTABLE_KEYS)
        if unknown:
            raise InvalidInput(
                f"unknown top-level keys: {', '.join(unknown)}",
                [{"field": k, "message": "not allowed"} for k in unknown],
            )
        replace_draft_content(
            tx,
            agreement,
            version,
            actor,
            expected_lock_version,
            document.get("terms") or {},
            document.get("metrics") or [],
            now,
            action="version.imported",
        )
    return version


# What an export holds besides content; import reads content and ignores the rest.
def start_revision(
    session: Session, *, actor: Actor, agreement_id: int, now: datetime
) -> AgreementVersion:
    """A new draft cloned from the active version (or the expired one); the active one stays in
    force until the draft is approved."""
    with command(session) as tx:
        agreement = lock_agreement(session, agreement_id, actor)
        grant = require_role(
            actor_grants(session, agreement, actor, local_date(now)),
            LIFECYCLE.action("start_revision").roles,
            "starting a revision",
        )
        # The version in force, or the last one if it expired: an expired agreement can be
        # revised into a new period of performance (a terminated one cannot).
        active = current_version(AgreementScope(session, agreement))
        if active is None:
            raise Conflict(LIFECYCLE.guards["has_active_version"])
        ctx = VersionContext(session, agreement, active, now=now)
        if not ctx.no_version_in_progress():
            raise Conflict(LIFECYCLE.guards["no_version_in_progress"])
        last = session.exec(
            select(AgreementVersion.number)
            .where(AgreementVersion.agreement_id == agreement.id)
            .order_by(col(AgreementVersion.number).desc())
        ).first()
        metrics = [{k: v for k, v in m.items() if k != "target_change"} for m in active.metrics]
        version = AgreementVersion(
            agreement_id=agreement.id,  # type: ignore[arg-type]
            number=(last or 0) + 1,
            modification_number=active.modification_number + 1,
            state=LIFECYCLE.initial,
            terms=dict(active.terms),
            metrics=metrics,
            content_hash=content_hash(active.terms, metrics),
            drafting_side=grant.side.value,
            created_by_id=actor.user_id,
            last_edited_by_id=None,
            created_at=now,
            state_changed_at=now,
        )
        session.add(version)
        session.flush()
        tx.audit(
            action="version.revision_started",
            now=now,
            agreement_id=agreement.id,
            version_id=version.id,
            actor_id=actor.user_id,
            on_behalf_of_id=grant.on_behalf_of_id,
            data={
                "from_version": active.number,
                "from_state": active.state,
                "after": version_summary(version),
            },
        )
    return version
