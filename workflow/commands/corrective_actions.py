"""Steps of a corrective action plan: submit, accept or rework, report completion, close."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from states import CORRECTIVE_ACTIONS
from workflow.access import Actor
from workflow.command import command
from workflow.corrective_plan import Plan
from workflow.engine import fire, transition_named
from workflow.errors import StaleVersion
from workflow.models import CorrectiveAction
from workflow.subjects.corrective_action import lock_corrective_action


def fire_corrective_action_event(
    session: Session,
    *,
    actor: Actor,
    action_id: int,
    event: str,
    now: datetime,
    comment: str | None = None,
    plan: Plan | None = None,
    expected_lock_version: int | None = None,
) -> CorrectiveAction:
    """Fire `event` on the action as `actor` (the holder of its step, or their delegate; the
    other side's Functional Lead may decide that side's steps); one transaction."""
    with command(session) as tx:
        subject = lock_corrective_action(tx, action_id, actor, now, plan=plan)
        current = subject.action.lock_version
        if expected_lock_version is not None and expected_lock_version != current:
            raise StaleVersion(
                f"the corrective action changed since you read it (lock_version {current})",
                current_lock_version=current,
            )
        transition = transition_named(CORRECTIVE_ACTIONS, event)
        fire(subject, transition, actor, now=now, comment=comment)
    return subject.action
