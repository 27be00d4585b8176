"""Approving several versions at once from the queue (`api.pages.bulk`): choose, confirm the
list, and each approval is recorded by its own command. Only a plain approval: conditions and
rejections carry a comment of their own."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import NowDep, SessionDep
from api.pages.approvals import approval_task, may_decide
from api.pages.bulk import TaskIds, chosen, decide_each, summary
from api.pages.render import Flash, redirect, render
from api.pages.session import PageUserDep
from workflow.access import Actor
from workflow.queries.tasks import TaskView

router = APIRouter()


def _chosen(session: Session, actor: Actor, ids: list[int], now: NowDep) -> list[TaskView]:
    return chosen(
        ids,
        lambda task_id: approval_task(session, actor, task_id, now),
        lambda t: may_decide(t, actor),
    )


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
    tasks = _chosen(session, user.actor, task, now)
    if not tasks:
        return redirect(
            "/approvals", flash=Flash("error", "Tick the approvals you want to give first.")
        )
    return render(request, "approvals/bulk_confirm.html", {"section": "approvals", "tasks": tasks})


@router.post("/approvals/bulk")
def approve_several(
    request: Request,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    task: TaskIds = [],  # noqa: B006 (FastAPI copies form defaults)
) -> Response:
    tasks = _chosen(session, user.actor, task, now)
    done, refused = decide_each(
        session, user.actor, tasks, outcome="approved", label=_label, now=now
    )
    kind, text = summary("approved", done, refused)
    return redirect("/approvals", flash=Flash(kind, text))
