"""Completing a task of any machine: the outcome chosen, and the task's record of it."""

from __future__ import annotations

from datetime import datetime

from states import Outcome, TaskKind, TaskState
from workflow.access import Actor
from workflow.errors import InvalidInput
from workflow.models import Task


def chosen_outcome(kind: TaskKind, name: str) -> Outcome:
    """The outcome of `kind` called `name`; InvalidInput naming the valid ones otherwise."""
    outcome = kind.outcome(name)
    if outcome is None:
        valid = ", ".join(o.name for o in kind.outcomes)
        raise InvalidInput(
            f"{name!r} is not an outcome of a {kind.name} task (use {valid})",
            [{"field": "outcome", "message": f"must be one of: {valid}"}],
        )
    return outcome


def record_completion(
    task: Task,
    outcome: Outcome,
    actor: Actor,
    on_behalf_of: int | None,
    *,
    comment: str | None,
    now: datetime,
) -> None:
    """Mark `task` completed with `outcome` by `actor` (for `on_behalf_of`, when delegated)."""
    task.state, task.outcome, task.comment = TaskState.COMPLETED.value, outcome.name, comment
    task.completed_by_id, task.on_behalf_of_id, task.completed_at = (
        actor.user_id,
        on_behalf_of,
        now,
    )
