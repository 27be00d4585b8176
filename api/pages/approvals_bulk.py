"""Approving several versions at once from the queue: choose, confirm the list, and each
approval is recorded by its own command (its own transaction and audit event), as if given one
by one. Only a plain approval: conditions and rejections carry a comment of their own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import NowDep, SessionDep
from api.pages.approvals import approval_task, may_decide
from api.pages.render import Flash, redirect, render
from api.pages.session import PageUserDep
from api.types import Id
from workflow import commands
from workflow.access import Actor
from workflow.errors import DomainError, NotAllowedNow
from workflow.queries.tasks import TaskView

router = APIRouter()

# A page of the queue: enough for a morning's approvals, bounded like every form.
BULK_LIMIT = 50
# Ids bounded like every id a client sends: one past INT32_MAX is a 422, not a driver error.
TaskIds = Annotated[list[Id], Form(max_length=BULK_LIMIT)]


def _chosen(session: Session, actor: Actor, ids: list[int], now: NowDep) -> list[TaskView]:
    """The chosen approvals the actor may still give, in the queue's order, each once."""
    tasks = [approval_task(session, actor, task_id, now) for task_id in dict.fromkeys(ids)]
    return sorted((t for t in tasks if may_decide(t, actor)), key=lambda t: (t.due_on, t.id))


def _label(task: TaskView) -> str:
    return f"{task.agreement.key} version {task.version_number}"


@router.post("/approvals/bulk/confirm")
def confirm_several(
    request: Request,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    task: TaskIds = [],  # noqa: B006 (FastAPI copies form defaults)
) -> Response:
    chosen = _chosen(session, user.actor, task[:BULK_LIMIT], now)
    if not chosen:
        return redirect(
            "/approvals", flash=Flash("error", "Tick the approvals you want to give first.")
        )
    return render(request, "approvals/bulk_confirm.html", {"section": "approvals", "tasks": chosen})


@router.post("/approvals/bulk")
def approve_several(
    request: Request,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    task: TaskIds = [],  # noqa: B006 (FastAPI copies form defaults)
) -> Response:
    approved: list[str] = []
    refused: list[str] = []
    for chosen in _chosen(session, user.actor, task[:BULK_LIMIT], now):
        try:
            commands.complete_task(
                session,
                actor=user.actor,
                task_id=chosen.id,
                outcome="approved",
                comment=None,
                now=now,
            )
        except NotAllowedNow:
            continue  # decided meanwhile (another tab, a delegate): it counted once
        except DomainError as exc:
            refused.append(f"{_label(chosen)}: {exc.message}")
            continue
        approved.append(_label(chosen))
    if not approved and not refused:
        return redirect(
            "/approvals", flash=Flash("info", "Nothing more to do: those were already decided.")
        )
    text = f"You approved {', '.join(approved)}." if approved else "Nothing was approved."
    if refused:
        text += " Not approved: " + "; ".join(refused) + "."
    return redirect("/approvals", flash=Flash("success" if not refused else "error", text))
