"""Firing lifecycle events on a version."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from states import LIFECYCLE
from workflow.access import Actor
from workflow.command import Command, command
from workflow.engine import fire, transition_named
from workflow.errors import StaleVersion
from workflow.models import AgreementVersion
from workflow.permissions import lock_version
from workflow.subjects.version import VersionSubject


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
    with command(session) as tx:
        return _fire(tx, actor, agreement_id, number, event, now, comment, expected_lock_version)


def _fire(
    tx: Command,
    actor: Actor,
    agreement_id: int,
    number: int,
    event: str,
    now: datetime,
    comment: str | None,
    expected_lock_version: int | None,
) -> AgreementVersion:
    agreement, version, calendars = lock_version(tx.session, agreement_id, actor, number=number)
    transition = transition_named(LIFECYCLE, event)
    subject = VersionSubject(tx, agreement, version, now=now, comment=comment, calendars=calendars)
    if (
        version.state in transition.sources
        and expected_lock_version is not None
        and expected_lock_version != version.lock_version
    ):
        raise StaleVersion(
            f"version {number} changed since you read it (lock_version is now "
            f"{version.lock_version}); reload it",
            current_lock_version=version.lock_version,
        )
    fire(subject, transition, actor, now=now, comment=comment)
    return version
