"""Accepting several reviews at once from My tasks (`api.pages.bulk`): tick, confirm the list,
and each acceptance is recorded by its own command. Only a plain acceptance: a request for
changes says what should change, one review at a time."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import NowDep, SessionDep
from api.pages.approvals import may_decide
from api.pages.bulk import TaskIds, chosen, decide_each, summary
from api.pages.render import Flash, redirect, render
from api.pages.session import PageUserDep
from workflow.access import Actor
from workflow.queries.tasks import TaskView, task_detail

router = APIRouter()


def may_accept_review(task: TaskView, actor: Actor) -> bool:
    return task.kind == "review" and "accepted" in task.outcomes and may_decide(task, actor)


def _chosen(session: Session, actor: Actor, ids: list[int], now: NowDep) -> list[TaskView]:
    return chosen(
        ids,
        lambda task_id: task_detail(session, actor, task_id, now=now),  # 404: not theirs
        lambda t: may_accept_review(t, actor),
    )


def _label(task: TaskView) -> str:
    return f"the review of {task.agreement.key} version {task.version_number}"


@router.post("/tasks/bulk/confirm")
def confirm_reviews(
    request: Request,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    task: TaskIds = [],  # noqa: B006 (FastAPI copies form defaults)
) -> Response:
    tasks = _chosen(session, user.actor, task, now)
    if not tasks:
        return redirect(
            "/tasks", flash=Flash("error", "Tick the reviews you want to accept first.")
        )
    return render(request, "tasks/bulk_confirm.html", {"section": "tasks", "tasks": tasks})


@router.post("/tasks/bulk")
def accept_reviews(
    request: Request,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    task: TaskIds = [],  # noqa: B006 (FastAPI copies form defaults)
) -> Response:
    tasks = _chosen(session, user.actor, task, now)
    done, refused = decide_each(
        session, user.actor, tasks, outcome="accepted", label=_label, now=now
    )
    kind, text = summary("accepted", done, refused)
    return redirect("/tasks", flash=Flash(kind, text))
