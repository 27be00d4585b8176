"""The message every new task sends its assignee, whichever machine opened it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from workflow.command import Command
from workflow.models import Task

ALL_STAKEHOLDERS: dict[str, Any] = {"stakeholders": "all"}


def task_ref(task: Any) -> dict[str, Any]:
    """How every message names a task (a row or a task read with its columns)."""
    return {
        "id": task.id,
        "kind": task.kind,
        "title": task.title,
        "side": task.side,
        "role": task.role,
        "due_on": task.due_on.isoformat(),
        "assignee_id": task.assignee_id,
    }


def announce_task(tx: Command, task: Task, *, about: dict[str, Any], now: datetime) -> None:
    """Tell the assignee of a new task (`about`: the agreement and version, or period)."""
    tx.enqueue(
        topic="task.assigned",
        dedupe_key=f"task.assigned:{task.id}",
        now=now,
        agreement_id=task.agreement_id,
        recipients={"user_ids": [task.assignee_id] if task.assignee_id else []},
        payload={**about, "task": {**task_ref(task), "detail": task.detail}},
    )
