"""Corrective actions opened from a final report, and what excusals do to them.

`open_for_miss`, `cancel_for_excusal` and `reopen_after_withdrawal` are what the proposals
(excusals and their withdrawal) call; `open_for_period` is what a final report or its amendment
calls. Each runs inside the caller's command, under its agreement lock, and goes through the one
engine, so every change is a transition with its audit event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from states import CORRECTIVE_ACTION, CORRECTIVE_ACTIONS, CorrectiveActionState, Side
from workflow.chronic_misses import open_chronic_misses
from workflow.command import Command
from workflow.engine import run
from workflow.models import CorrectiveAction, Task
from workflow.permissions import lock_agreement
from workflow.subjects.corrective_action import CorrectiveActionSubject
from workflow.subjects.period import PeriodSubject
from workflow.transaction import flush

CANCELLED = CorrectiveActionState.CANCELLED

__all__ = [
    "cancel_for_excusal",
    "open_chronic_misses",  # the service review's agenda (workflow.chronic_misses)
    "open_for_miss",
    "open_for_period",
    "reopen_after_withdrawal",
    "summary",
]


def open_for_period(
    subject: PeriodSubject, now: datetime
) -> tuple[list[CorrectiveAction], list[Task]]:
    """One action per entry of the period's `corrective_actions` not given one yet (a miss
    charged to a side has one action, however often its report is amended), each with a
    planning task for the owner side's Program Manager."""
    entries = (subject.period.results or {}).get("corrective_actions", [])
    session = subject.session
    have = set(
        session.exec(
            select(
                CorrectiveAction.metric_key, CorrectiveAction.window, CorrectiveAction.side
            ).where(CorrectiveAction.agreement_id == subject.agreement.id)
        ).all()
    )
    created = []
    for entry in entries:
        # Results stored before misses were attributed carry no side: they were the provider's.
        side = Side(entry.get("side", Side.PROVIDER.value))
        key = (entry["metric_key"], entry["window"], side.value)
        if key in have:
            continue
        have.add(key)
        created.append(
            CorrectiveAction(
                agreement_id=subject.agreement.id or 0,
                period_id=subject.period.id or 0,
                metric_key=entry["metric_key"],
                window=entry["window"],
                side=side.value,
                target=entry.get("target"),
                actual=entry.get("actual"),
                created_at=now,
                state_changed_at=now,
            )
        )
    if not created:
        return [], []
    session.add_all(created)
    flush(session)  # ids for the tasks
    subjects = [CorrectiveActionSubject(subject.tx, subject.agreement, a, now=now) for a in created]
    tasks = [s.add_tasks((CORRECTIVE_ACTION,), now) for s in subjects]
    flush(session)
    for s, opened in zip(subjects, tasks, strict=True):
        s.announce_tasks(opened, now)
    return created, [t for opened in tasks for t in opened]


def open_for_miss(session: Session, agreement_id: int, metric_key: str, window: str) -> list[Task]:
    """The open `corrective_action` tasks of the miss's actions that are not cancelled."""
    return list(
        session.exec(
            select(Task)
            .join(CorrectiveAction, col(CorrectiveAction.id) == col(Task.corrective_action_id))
            .where(
                CorrectiveAction.agreement_id == agreement_id,
                CorrectiveAction.metric_key == metric_key,
                CorrectiveAction.window == window,
                CorrectiveAction.state != CANCELLED,
                Task.kind == CORRECTIVE_ACTION.kind,
                Task.state == "open",
            )
            .order_by(col(Task.id))
        ).all()
    )


def _actions_of_miss(
    tx: Command, agreement_id: int, metric_key: str, window: str, now: datetime
) -> list[CorrectiveActionSubject]:
    session = tx.session
    agreement = lock_agreement(session, agreement_id, None)  # the caller's lock, taken again
    actions = session.exec(
        select(CorrectiveAction)
        .where(
            CorrectiveAction.agreement_id == agreement_id,
            CorrectiveAction.metric_key == metric_key,
            CorrectiveAction.window == window,
        )
        .order_by(col(CorrectiveAction.id))
        .execution_options(populate_existing=True)
    ).all()
    return [CorrectiveActionSubject(tx, agreement, a, now=now) for a in actions]


def cancel_for_excusal(
    tx: Command,
    session: Session,
    *,
    agreement_id: int,
    metric_key: str,
    window: str,
    reason: str,
    now: datetime,
) -> list[int]:
    """The excused miss's actions are cancelled with `reason`, and their open tasks with them
    (audited as `corrective_action.cancel`); returns the ids of the tasks cancelled. A closed
    action stays closed: its work is done."""
    assert tx.session is session
    cancel = CORRECTIVE_ACTIONS.transition("cancel")
    cancelled: list[int] = []
    for subject in _actions_of_miss(tx, agreement_id, metric_key, window, now):
        if subject.state not in cancel.sources:
            continue
        open_ids = [t.id or 0 for t in subject.open_tasks()]
        run(subject, cancel, actor=None, grant=None, now=now, comment=reason)
        cancelled.extend(open_ids)
    return cancelled


def reopen_after_withdrawal(
    tx: Command,
    session: Session,
    *,
    agreement_id: int,
    metric_key: str,
    window: str,
    now: datetime,
) -> list[int]:
    """The miss counts again: its cancelled actions are open again, each with a new planning
    task for the owner side (audited as `corrective_action.reopen`); returns the new task ids."""
    assert tx.session is session
    reopen = CORRECTIVE_ACTIONS.transition("reopen")
    opened: list[int] = []
    for subject in _actions_of_miss(tx, agreement_id, metric_key, window, now):
        if subject.state != CANCELLED:
            continue
        run(subject, reopen, actor=None, grant=None, now=now)
        opened.extend(t.id or 0 for t in subject.open_tasks(CORRECTIVE_ACTION.kind))
    return opened


def summary(action: CorrectiveAction) -> dict[str, Any]:
    """How audit events of other subjects name an action."""
    return {
        "id": action.id,
        "metric": action.metric_key,
        "window": action.window,
        "side": action.side,
    }
