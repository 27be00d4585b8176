"""Deciding several tasks at once, the same way everywhere: the person ticks tasks, confirms the
list on a second step, and each decision is recorded by its own command (its own transaction and
audit event), exactly as if given one by one on its own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Form
from sqlmodel import Session

from api.types import Id
from workflow import commands
from workflow.access import Actor
from workflow.errors import DomainError, NotAllowedNow
from workflow.queries.tasks import TaskView

# A page of a queue: enough for a morning's decisions, bounded like every form.
BULK_LIMIT = 50
# Ids bounded like every id a client sends: one past INT32_MAX is a 422, not a driver error.
TaskIds = Annotated[list[Id], Form(max_length=BULK_LIMIT)]


def chosen(
    ids: list[int], load: Callable[[int], TaskView], decidable: Callable[[TaskView], bool]
) -> list[TaskView]:
    """The ticked tasks the person may still decide, in the queue's order, each once."""
    tasks = [load(task_id) for task_id in dict.fromkeys(ids[:BULK_LIMIT])]
    return sorted((t for t in tasks if decidable(t)), key=lambda t: (t.due_on, t.id))


def decide_each(
    session: Session,
    actor: Actor,
    tasks: list[TaskView],
    *,
    outcome: str,
    label: Callable[[TaskView], str],
    now: datetime,
) -> tuple[list[str], list[str]]:
    """Decides each task by its own command; returns the labels done and the refusals."""
    done: list[str] = []
    refused: list[str] = []
    for task in tasks:
        try:
            commands.complete_task(
                session, actor=actor, task_id=task.id, outcome=outcome, comment=None, now=now
            )
        except NotAllowedNow:
            continue  # decided meanwhile (another tab, a delegate): it counted once
        except DomainError as exc:
            refused.append(f"{label(task)}: {exc.message}")
            continue
        done.append(label(task))
    return done, refused


def summary(verb: str, done: list[str], refused: list[str]) -> tuple[str, str]:
    """The flash after a bulk decision: its kind and one sentence per outcome."""
    if not done and not refused:
        return "info", "Nothing more to do: those were already decided."
    text = f"You {verb} {', '.join(done)}." if done else f"Nothing was {verb}."
    if refused:
        text += f" Not {verb}: " + "; ".join(refused) + "."
    return ("error" if refused else "success"), text
