"""Corrective actions of a miss, as other machines see them: found, cancelled when the miss is
excused, opened again when the excusal is withdrawn.

A corrective action is (for now) a `corrective_action` task of the period whose final report
showed the miss, titled after the miss; callers go through these functions only, never titles.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlmodel import Session, col, select

from states import CORRECTIVE_ACTION, Role, SideRef, TaskState
from workflow.command import Command
from workflow.models import Agreement, ReportingPeriod, Task

KIND = CORRECTIVE_ACTION.kind
CANCELLED = TaskState.CANCELLED


def title_for(metric_key: str, window: str) -> str:
    """How the task of a miss is titled (`period_effects.open_corrective_actions`)."""
    return f"Corrective action: {metric_key} missed in {window}"


def _for_miss(
    session: Session, agreement_id: int, metric_key: str, window: str, state: TaskState
) -> list[Task]:
    return list(
        session.exec(
            select(Task)
            .where(
                Task.agreement_id == agreement_id,
                Task.kind == KIND,
                Task.state == state.value,
                Task.title == title_for(metric_key, window),
            )
            .order_by(col(Task.id))
            .execution_options(populate_existing=True)
        ).all()
    )


def open_for_miss(session: Session, agreement_id: int, metric_key: str, window: str) -> list[Task]:
    """The open corrective actions of one miss (metric and window)."""
    return _for_miss(session, agreement_id, metric_key, window, TaskState.OPEN)


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
    """Cancel the miss's open corrective actions, saying why; audited. Their ids."""
    cancelled = []
    for task in open_for_miss(session, agreement_id, metric_key, window):
        task.state, task.comment, task.completed_at = TaskState.CANCELLED.value, reason, now
        task.next_step_at = None
        session.add(task)
        cancelled.append(task)
    if not cancelled:
        return []
    session.flush()
    ids = [t.id for t in cancelled if t.id is not None]
    tx.audit(
        action="corrective_action.cancelled",
        now=now,
        agreement_id=agreement_id,
        data={"task_ids": ids, "metric": metric_key, "window": window, "reason": reason},
    )
    return ids


def reopen_after_withdrawal(
    tx: Command,
    session: Session,
    *,
    agreement_id: int,
    metric_key: str,
    window: str,
    now: datetime,
) -> list[int]:
    """A new open corrective action for a miss whose action an excusal cancelled, one per side
    that had one; their ids (none when the miss had no cancelled action, or has an open one)."""
    # Imported here: importing workflow.subjects registers the proposal machine's effects,
    # which import this module; at the top that would be a cycle.
    from workflow.subjects.period import PeriodSubject

    if open_for_miss(session, agreement_id, metric_key, window):
        return []
    latest = {t.side: t for t in _for_miss(session, agreement_id, metric_key, window, CANCELLED)}
    agreement = session.get(Agreement, agreement_id)
    ids: list[int] = []
    for side, last in sorted(latest.items()):
        period = session.get(ReportingPeriod, last.period_id) if last.period_id else None
        if agreement is None or period is None:
            continue
        # The same template on the side that had it (a shared miss charges both sides).
        template = replace(CORRECTIVE_ACTION, side=SideRef(side), role=Role(last.role))
        opened = PeriodSubject(tx, agreement, period, now=now).open_new_tasks(
            [(template, last.detail)], now=now, titles=[title_for(metric_key, window)]
        )
        ids += [t.id for t in opened if t.id is not None]
    if ids:
        tx.audit(
            action="corrective_action.reopened",
            now=now,
            agreement_id=agreement_id,
            data={
                "task_ids": ids,
                "metric": metric_key,
                "window": window,
                "replaces": [t.id for t in latest.values()],
            },
        )
    return ids
