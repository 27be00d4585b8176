"""The link in every task email: `/tasks/{id}` lands on the page where that task is done.

Signed out, the session dependency sends the reader to sign in first and back here after
(`next=`, same origin only); a task of an agreement the reader is no party to is a 404.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import NowDep, SessionDep
from api.pages.render import redirect
from api.pages.session import PageUserDep
from api.types import Id
from states import TaskState
from workflow.access import Actor
from workflow.queries.tasks import TaskView, task_detail

router = APIRouter()

GAP_ANALYSIS_KINDS = ("confirm_requirements", "confirm_capabilities", "lcce_review")


def held_by(task: TaskView, actor: Actor) -> bool:
    """The reader may act on it: its assignee, or their delegate today."""
    mine = task.assignee is not None and task.assignee.id == actor.user_id
    return task.state == TaskState.OPEN and (mine or task.acting_for is not None)


def where_done(task: TaskView, actor: Actor) -> str:
    """The page that shows what the task is about and, to its holder, how to do it."""
    agreement = f"/slas/{task.agreement.id}"
    if task.proposal_id is not None:
        return f"/proposals/{task.proposal_id}"
    if task.corrective_action_id is not None:  # its plan, steps and history are there
        return f"/corrective-actions/{task.corrective_action_id}"
    if task.period is not None:
        return f"{agreement}/periods/{task.period}"
    if task.kind == "approval" and held_by(task, actor):
        return f"/approvals/{task.id}"
    if task.extension_id is not None:
        return f"{agreement}/extensions/{task.extension_id}"
    if task.service_review_id is not None and not (
        task.kind == "action_item" and held_by(task, actor)
    ):
        return f"{agreement}/service-reviews/{task.service_review_id}"
    if task.version_number is None:
        return agreement
    version = f"{agreement}/versions/{task.version_number}"
    if task.kind in GAP_ANALYSIS_KINDS:
        return f"{version}/gaps"
    if task.kind == "rework" and task.state == TaskState.OPEN:
        return f"{version}/edit"
    if task.kind in ("review", "approval"):
        return version
    # Follow-ups, annual reviews, renewal decisions and action items are done from My tasks,
    # where they are listed.
    return f"/tasks#task-{task.id}" if held_by(task, actor) else agreement


@router.get("/tasks/{task_id}")
def task_link(task_id: Id, user: PageUserDep, session: SessionDep, now: NowDep) -> Response:
    return redirect(where_done(task_detail(session, user.actor, task_id, now=now), user.actor))
