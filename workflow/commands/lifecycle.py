"""Firing lifecycle events on a version."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from states import LIFECYCLE
from workflow.access import Actor
from workflow.db import begin_write
from workflow.engine import fire, transition_named
from workflow.errors import StaleVersion
from workflow.models import AgreementVersion
from workflow.permissions import lock_version
from workflow.subjects.version import VersionSubject
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
    transition = transition_named(LIFECYCLE, event)
    subject = VersionSubject(
        session, agreement, version, now=now, comment=comment, calendars=calendars
    )
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
