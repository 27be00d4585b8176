"""My tasks: every open task of mine (and my delegators'), grouped by agreement, with one-click
completion through the same command as `POST /api/v1/tasks/{id}/complete`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api.deps import NowDep, SessionDep
from api.pages.due import due_status
from api.pages.refusals import as_sentence
from api.pages.render import Flash, is_htmx, redirect, render
from api.pages.session import PageUserDep
from api.pages.tasks_bulk import may_accept_review
from api.types import Id
from states import task_kind
from workflow import commands
from workflow.calendar import local_date
from workflow.errors import DomainError, NotAllowedNow
from workflow.queries.common import AgreementRef
from workflow.queries.tasks import TaskFilter, TaskView, list_tasks, task_detail

router = APIRouter()

TASKS_LIMIT = 300
OUTCOME_LABELS = {
    "accepted": "Accept",
    "changes_requested": "Request changes",
    "done": "Mark done",
    "renew_by_revision": "Renew by revision",
    "extend": "Extend the end date",
    "let_expire": "Let it expire",
}


@dataclass
class AgreementTasks:
    agreement: AgreementRef
    tasks: list[TaskView] = field(default_factory=list)


def group_by_agreement(tasks: list[TaskView]) -> list[AgreementTasks]:
    """Groups in the order of their most urgent task (the list comes by due date)."""
    groups: dict[int, AgreementTasks] = {}
    for task in tasks:
        groups.setdefault(task.agreement.id, AgreementTasks(task.agreement)).tasks.append(task)
    return list(groups.values())


@router.get("/tasks")
def my_tasks(request: Request, user: PageUserDep, session: SessionDep, now: NowDep) -> Response:
    return _tasks_page(request, user, session, now)


def _tasks_page(
    request: Request,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    *,
    errors: dict[int, str] | None = None,
    form: dict[int, str] | None = None,
    status_code: int = 200,
) -> Response:
    tasks = list_tasks(
        session, user.actor, TaskFilter(mine=True, state="open"), now=now, limit=TASKS_LIMIT
    )
    today = local_date(now)
    return render(
        request,
        "tasks/list.html",
        {
            "section": "tasks",
            "groups": group_by_agreement(tasks.items),
            "more": tasks.next_after is not None,
            "due": {t.id: due_status(t, today) for t in tasks.items},
            # Reviews that can be accepted together (tick several, confirm once).
            "reviews": [t.id for t in tasks.items if may_accept_review(t, user.actor)],
            "labels": OUTCOME_LABELS,
            "errors": errors or {},
            "form": form or {},
        },
        status_code=status_code,
    )


@router.post("/tasks/{task_id}/complete")
def complete(
    request: Request,
    task_id: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    outcome: Annotated[str, Form(max_length=40)] = "",
    comment: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    task = task_detail(session, user.actor, task_id, now=now)
    if task.kind == "approval":
        # Approvals have their own page: the version must be read and the decision confirmed.
        return redirect(f"/approvals/{task_id}")
    if task.extension_id is not None:
        return redirect(f"/slas/{task.agreement.id}/extensions/{task.extension_id}")
    error = _missing(task, outcome, comment)
    if error is None:
        try:
            commands.complete_task(
                session,
                actor=user.actor,
                task_id=task_id,
                outcome=outcome,
                comment=comment.strip() or None,
                now=now,
            )
        except NotAllowedNow:
            return _answer(request, task, "info", "This task was already done.")
        except DomainError as exc:
            error = as_sentence(exc.message)
    if error is not None:
        if is_htmx(request):
            return render(
                request,
                "tasks/_task.html",
                _row_context(task, {task.id: error}, {task.id: comment}),
                status_code=422,
            )
        return _tasks_page(
            request,
            user,
            session,
            now,
            errors={task.id: error},
            form={task.id: comment},
            status_code=422,
        )
    return _answer(request, task, "success", f"Done: {task.title} ({task.agreement.key}).")


def _missing(task: TaskView, outcome: str, comment: str) -> str | None:
    """What the form lacks, read from the lifecycle spec (the command checks it again)."""
    chosen = task_kind(task.kind).outcome(outcome)
    if chosen is None or outcome not in task.outcomes:
        return "Choose one of the buttons of this task."
    if chosen.comment_required and not comment.strip():
        return "Write what should change: the comment is required."
    return None


def _row_context(
    task: TaskView, errors: dict[int, str], form: dict[int, str], done: str | None = None
) -> dict[str, object]:
    return {
        "task": task,
        "due": {task.id: ""},
        "labels": OUTCOME_LABELS,
        "errors": errors,
        "form": form,
        "done": done,
    }


def _answer(request: Request, task: TaskView, kind: str, text: str) -> Response:
    if is_htmx(request):
        return render(request, "tasks/_task.html", _row_context(task, {}, {}, done=text))
    return redirect("/tasks", flash=Flash(kind, text))
