"""Firing lifecycle events on a version."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from states import LIFECYCLE, FiredBy
from workflow.access import Actor, require_role
from workflow.calendar import local_date
from workflow.commands.tasks import finish_task
from workflow.db import begin_write
from workflow.effects import apply_transition
from workflow.errors import Forbidden, NotAllowedNow, NotFound, StaleVersion
from workflow.guards import VersionContext
from workflow.models import AgreementVersion
from workflow.permissions import (
    allowed_events,
    context_grants,
    lock_version,
    not_allowed_now,
    task_for,
)
from workflow.transaction import command_body, commit


def fire_event(
    session: Session,
    *,
    actor: Actor,
    agreement_id: int,
    number: int,
    event: str,
    now: datetime,
    comment: str | None = None,
    expected_lock_version: int | None = None,
) -> AgreementVersion:
    """Fire `event` on version `number` as `actor`; one transaction, one commit."""
    begin_write(session)
    with command_body(session):
        version = _fire(
            session, actor, agreement_id, number, event, now, comment, expected_lock_version
        )
    commit(session)
    return version


def _fire(
    session: Session,
    actor: Actor,
    agreement_id: int,
    number: int,
    event: str,
    now: datetime,
    comment: str | None,
    expected_lock_version: int | None,
) -> AgreementVersion:
    agreement, version, calendars = lock_version(session, agreement_id, actor, number=number)
    try:
        transition = LIFECYCLE.transition(event)
    except KeyError:
        raise NotFound(f"no event named {event!r}") from None
    ctx = VersionContext(session, agreement, version, now=now, comment=comment, calendars=calendars)
    day = local_date(now)
    grants_ = context_grants(ctx, actor, day)
    if version.state not in transition.sources:
        raise not_allowed_now(ctx, actor, event, grants_, day)
    if expected_lock_version is not None and expected_lock_version != version.lock_version:
        raise StaleVersion(
            f"version {number} changed since you read it (lock_version is now "
            f"{version.lock_version}); reload it",
            current_lock_version=version.lock_version,
        )
    if transition.fired_by is FiredBy.SYSTEM:
        raise Forbidden(f"{event} happens automatically; nobody fires it by hand")
    if transition.fired_by is FiredBy.TASK_ASSIGNEE:
        assert transition.task_kind is not None
        task, on_behalf_of = task_for(ctx, actor, transition.task_kind, day)
        kind = LIFECYCLE.task_kind(transition.task_kind)
        outcome = next(o for o in kind.outcomes if o.fires == event)
        finish_task(ctx, task, outcome.name, actor, on_behalf_of, comment=comment, now=now)
    else:
        grant = require_role(grants_, transition.roles, event)
        try:
            apply_transition(ctx, transition, actor=actor, grant=grant, now=now, comment=comment)
        except NotAllowedNow as refusal:
            refusal.allowed_events = allowed_events(ctx, actor, grants_, day)
            raise
    return version
