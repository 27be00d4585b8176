"""The approval queue and one approval: read the version, decide, confirm."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import NowDep, SessionDep
from api.pages.due import due_status
from api.pages.errors import PageError
from api.pages.render import Flash, redirect, render
from api.pages.session import PageUserDep
from api.types import Id
from states import task_kind
from workflow import commands
from workflow.access import Actor
from workflow.calendar import local_date
from workflow.errors import InvalidInput, NotAllowedNow
from workflow.queries.gaps import gaps_of_version
from workflow.queries.tasks import TaskFilter, TaskView, list_tasks, task_detail
from workflow.queries.versions import metric_names, version_detail, version_diff

router = APIRouter()

OutcomeField = Annotated[str, Form(max_length=40)]
CommentField = Annotated[str, Form(max_length=4000)]

OUTCOME_LABELS = {
    "approved": "Approve",
    "approved_with_conditions": "Approve with conditions",
    "rejected": "Reject",
}
DONE_WORDS = {
    "approved": "approved",
    "approved_with_conditions": "approved with conditions",
    "rejected": "rejected",
}
QUEUE_LIMIT = 200


@router.get("/approvals")
def queue(request: Request, user: PageUserDep, session: SessionDep, now: NowDep) -> Response:
    tasks = list_tasks(
        session,
        user.actor,
        TaskFilter(mine=True, state="open", kind="approval"),
        now=now,
        limit=QUEUE_LIMIT,
    )
    today = local_date(now)
    return render(
        request,
        "approvals/queue.html",
        {
            "section": "approvals",
            "tasks": tasks.items,
            "more": tasks.next_after is not None,
            "due": {t.id: due_status(t, today) for t in tasks.items},
        },
    )


def approval_task(session: Session, actor: Actor, task_id: int, now: NowDep) -> TaskView:
    task = task_detail(session, actor, task_id, now=now)  # NotFound for other parties' tasks
    if task.kind != "approval" or task.version_number is None:
        raise PageError(404, "Not an approval", "This task is not an approval; see My tasks.")
    return task


def may_decide(task: TaskView, actor: Actor) -> bool:
    mine = task.assignee is not None and task.assignee.id == actor.user_id
    return task.state == "open" and (mine or task.acting_for is not None)


def _approval_page(
    request: Request,
    session: Session,
    actor: Actor,
    task: TaskView,
    now: NowDep,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    number = task.version_number
    assert number is not None
    agreement_id = task.agreement.id
    version = version_detail(session, actor, agreement_id, number, now=now)
    diff = version_diff(session, actor, agreement_id, number)
    gaps = gaps_of_version(session, actor, agreement_id, number, limit=200)
    approvals = list_tasks(
        session,
        actor,
        TaskFilter(kind="approval", agreement_id=agreement_id),
        now=now,
        limit=200,
    )
    others = [
        t
        for t in approvals.items
        if t.version_number == number and t.id != task.id and t.state != "cancelled"
    ]
    return render(
        request,
        "approvals/detail.html",
        {
            "section": "approvals",
            "task": task,
            "version": version,
            "diff": diff,
            "names": metric_names(session, agreement_id),
            "gaps": gaps.items,
            "others": others,
            "may_decide": may_decide(task, actor),
            "labels": OUTCOME_LABELS,
            "errors": errors or {},
            "form": form or {"outcome": "", "comment": ""},
        },
        status_code=status_code,
    )


@router.get("/approvals/{task_id}")
def approval(
    request: Request, task_id: Id, user: PageUserDep, session: SessionDep, now: NowDep
) -> Response:
    task = approval_task(session, user.actor, task_id, now)
    return _approval_page(request, session, user.actor, task, now)


def _form_errors(task: TaskView, outcome: str, comment: str) -> dict[str, str]:
    """What the form lacks, read from the lifecycle spec (the command checks it again)."""
    chosen = task_kind(task.kind).outcome(outcome)
    if chosen is None or outcome not in task.outcomes:
        return {"outcome": "Choose approve, approve with conditions or reject."}
    if chosen.comment_required and not comment.strip():
        if outcome == "approved_with_conditions":
            return {"comment": "Write the conditions of your approval."}
        return {"comment": "Write why you reject this version."}
    return {}


def _already_done(task: TaskView) -> Response:
    return redirect(
        "/approvals",
        flash=Flash(
            "info",
            f"Nothing more to do: the approval of {task.agreement.key} version "
            f"{task.version_number} was already recorded.",
        ),
    )


@router.post("/approvals/{task_id}/confirm")
def confirm(
    request: Request,
    task_id: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    outcome: OutcomeField = "",
    comment: CommentField = "",
) -> Response:
    """The confirmation step: shows the decision and asks once more (works without JS)."""
    task = approval_task(session, user.actor, task_id, now)
    if task.state != "open":
        return _already_done(task)
    form = {"outcome": outcome, "comment": comment}
    errors = _form_errors(task, outcome, comment)
    if errors:
        return _approval_page(
            request, session, user.actor, task, now, errors=errors, form=form, status_code=422
        )
    return render(
        request,
        "approvals/confirm.html",
        {"section": "approvals", "task": task, "form": form, "label": OUTCOME_LABELS[outcome]},
    )


@router.post("/approvals/{task_id}")
def decide(
    request: Request,
    task_id: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    outcome: OutcomeField = "",
    comment: CommentField = "",
) -> Response:
    """Record the decision with the same command as `POST /api/v1/tasks/{id}/complete`."""
    task = approval_task(session, user.actor, task_id, now)
    form = {"outcome": outcome, "comment": comment}
    if task.state != "open":
        return _already_done(task)
    errors = _form_errors(task, outcome, comment)
    if errors:
        return _approval_page(
            request, session, user.actor, task, now, errors=errors, form=form, status_code=422
        )
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
        # A second submit of the same form, or the other tab's: the first one counted.
        return _already_done(task)
    except InvalidInput as exc:
        errors = {e.get("field", "outcome"): e.get("message", exc.message) for e in exc.errors}
        return _approval_page(
            request,
            session,
            user.actor,
            task,
            now,
            errors=errors or {"outcome": exc.message},
            form=form,
            status_code=422,
        )
    return redirect(
        "/approvals",
        flash=Flash(
            "success",
            f"You {DONE_WORDS[outcome]} {task.agreement.key} version {task.version_number}.",
        ),
    )
