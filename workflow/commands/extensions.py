"""Extending the period of performance: a Program Manager asks, both Business Owners decide."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, select

from states import EXTENSION, ExtensionState, Role
from workflow.access import Actor, require_role
from workflow.calendar import local_date
from workflow.command import command
from workflow.engine import complete_held_task, fire
from workflow.errors import Conflict, Forbidden, InvalidInput
from workflow.models import Extension
from workflow.permissions import actor_grants, lock_agreement
from workflow.subjects.extension import ExtensionSubject, lock_extension

OPEN_STATES = (ExtensionState.PROPOSED, ExtensionState.REQUESTED)
DECISIONS = ("approved", "rejected")


def request_extension(
    session: Session,
    *,
    actor: Actor,
    agreement_id: int,
    new_end_date: date,
    reason: str,
    now: datetime,
) -> Extension:
    """Ask both Business Owners to move the end of the period of performance to
    `new_end_date`: 403 unless a Program Manager (or their delegate), 422 naming each bad
    field, 409 while another extension or a revision is open."""
    with command(session) as tx:
        agreement = lock_agreement(session, agreement_id, actor)
        grant = require_role(
            actor_grants(session, agreement, actor, local_date(now)),
            EXTENSION.transition("request").roles,
            "requesting an extension",
        )
        extension = Extension(
            agreement_id=agreement_id,
            from_version_id=0,
            state=ExtensionState.PROPOSED.value,
            current_end=new_end_date,
            new_end_date=new_end_date,
            reason=reason.strip(),
            requested_by_id=actor.user_id,
            requested_side=grant.side.value,
            created_at=now,
            state_changed_at=now,
        )
        subject = ExtensionSubject(tx, agreement, extension, now=now, comment=reason)
        source = subject.source_version
        if source is None or not source.terms.get("period_end"):
            raise Conflict(f"{agreement.key} has no version in force or expired to extend")
        extension.from_version_id = source.id or 0
        extension.current_end = date.fromisoformat(str(source.terms["period_end"]))
        errors = []
        if new_end_date <= extension.current_end:
            errors.append(
                {
                    "field": "new_end_date",
                    "message": f"must be after the current end, {extension.current_end}",
                }
            )
        if not extension.reason:
            errors.append({"field": "reason", "message": "required"})
        if errors:
            raise InvalidInput("invalid extension", errors)
        pending = session.exec(
            select(Extension.id).where(
                Extension.agreement_id == agreement_id, col(Extension.state).in_(OPEN_STATES)
            )
        ).first()
        if pending is not None:
            raise Conflict(
                f"extension {pending} of {agreement.key} is still awaiting its approvals"
            )
        session.add(extension)
        session.flush()
        fire(subject, EXTENSION.transition("request"), actor, now=now, comment=reason)
    return extension


def decide_extension(
    session: Session,
    *,
    actor: Actor,
    agreement_id: int,
    extension_id: int,
    outcome: str,
    now: datetime,
    comment: str | None = None,
) -> Extension:
    """A Business Owner approves or rejects (with a comment) through their approval task."""
    if outcome not in DECISIONS:
        raise InvalidInput(
            f"unknown decision {outcome!r}",
            [{"field": "outcome", "message": "approved or rejected"}],
        )
    with command(session) as tx:
        subject = lock_extension(
            tx, agreement_id, actor, now, extension_id=extension_id, comment=comment
        )
        mine = subject.open_tasks("extension_approval")
        day = local_date(now)
        principals = {actor.user_id, *subject.delegators(actor.user_id, day)}
        held = [t for t in mine if t.assignee_id in principals]
        if not held:
            if subject.state != ExtensionState.REQUESTED:
                raise Conflict(f"{subject.title} is already {subject.state}")
            raise Forbidden(
                f"only a {Role.BUSINESS_OWNER.label} holding an approval of this extension "
                "may decide it"
            )
        own = [t for t in held if t.assignee_id == actor.user_id] or held
        complete_held_task(subject, own[0], outcome, actor, comment=comment, now=now)
    return subject.extension
