"""Every email's task link (`/tasks/{id}`) lands where the task is done (issue 11, defect 1):
the approval page for an approver, the version for a reviewer, the gaps for gap analysis, the
draft editor for rework, the period for reporting tasks; signed out, sign-in first and back."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from states import TASK_KINDS, Role
from tests.api.pages.conftest import CSRF_FIELD, PASSWORD, Client, outsider_of_another_organisation
from tests.helpers import C, P, World
from tests.workflow.commands.test_periods import DEC_1
from workflow import commands
from workflow.models import Agreement, Task


def _landing(client: TestClient, task: Task) -> str:
    answer = client.get(f"/tasks/{task.id}", follow_redirects=False)
    assert answer.status_code == 303, answer.text[:300]
    return str(answer.headers["location"])


def _holder(world: World, signed_in: Client, task: Task) -> TestClient:
    return signed_in(world.actor_by_id(task.assignee_id).email)


def test_an_approver_lands_on_the_approval_and_a_colleague_on_the_version(
    world: World, signed_in: Client
) -> None:
    agreement = world.create()
    world.to_approval(agreement)
    task = next(t for t in world.open_tasks(agreement, "approval") if t.side == C.value)
    assert _landing(_holder(world, signed_in, task), task) == f"/approvals/{task.id}"
    colleague = signed_in(world.who(C, Role.PROGRAM_MANAGER).email)
    assert _landing(colleague, task) == f"/slas/{agreement.id}/versions/1"
    page = _holder(world, signed_in, task).get(f"/tasks/{task.id}")  # followed to the end
    assert page.status_code == 200
    assert 'name="outcome"' in page.text


def test_each_lifecycle_task_lands_on_its_page(world: World, signed_in: Client) -> None:
    agreement = world.create()
    world.to_joint_review(agreement)
    (review, *_) = world.open_tasks(agreement, "review")
    version = f"/slas/{agreement.id}/versions/1"
    assert _landing(_holder(world, signed_in, review), review) == version
    world.complete_all(agreement, "review", "accepted")
    for kind in ("confirm_requirements", "confirm_capabilities", "lcce_review"):
        (task, *_) = world.open_tasks(agreement, kind)
        assert _landing(_holder(world, signed_in, task), task) == f"{version}/gaps", kind
    world.fire(agreement, "request_rework", world.who(C, Role.PROGRAM_MANAGER), comment="redo")
    (rework,) = world.open_tasks(agreement, "rework")
    assert _landing(_holder(world, signed_in, rework), rework) == f"{version}/edit"


def test_a_follow_up_lands_on_my_tasks_for_its_holder(world: World, signed_in: Client) -> None:
    agreement = world.create()
    world.to_approval(agreement)
    first, *others = world.open_tasks(agreement, "approval")
    world.complete(first, "approved_with_conditions", comment="Add a monthly SLA review")
    for task in others:
        world.complete(task, "approved")
    (follow_up,) = world.open_tasks(agreement, "follow_up")
    holder = _holder(world, signed_in, follow_up)
    assert _landing(holder, follow_up) == f"/tasks#task-{follow_up.id}"
    tasks_page = holder.get("/tasks")
    assert f'id="task-{follow_up.id}"' in tasks_page.text
    bystander = signed_in(world.who(P, Role.TECHNICAL_SME).email)
    assert _landing(bystander, follow_up) == f"/slas/{agreement.id}"


def test_a_reporting_task_lands_on_its_period(world: World, signed_in: Client) -> None:
    agreement = world.create()
    world.to_active(agreement)
    world.now = DEC_1
    commands.open_due_periods(world.session, now=DEC_1)
    (submit,) = world.open_tasks(agreement, "submit_results")
    holder = _holder(world, signed_in, submit)
    assert _landing(holder, submit) == f"/slas/{agreement.id}/periods/2026-11"


def test_signed_out_the_link_signs_in_first_and_comes_back(world: World, signed_in: Client) -> None:
    agreement = world.create()
    world.to_approval(agreement)
    task = next(t for t in world.open_tasks(agreement, "approval") if t.side == C.value)
    approver = world.actor_by_id(task.assignee_id)
    client = signed_in(approver.email)
    client.cookies.clear()
    answer = client.get(f"/tasks/{task.id}", follow_redirects=False)
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert location.path == "/signin"
    assert parse_qs(location.query)["next"] == [f"/tasks/{task.id}"]
    form = client.get(answer.headers["location"])
    token = CSRF_FIELD.search(form.text)
    assert token is not None
    signed = client.post(
        "/signin",
        data={
            "email": approver.email,
            "password": PASSWORD,
            "csrf_token": token[1],
            "next": f"/tasks/{task.id}",
        },
        follow_redirects=False,
    )
    assert signed.headers["location"] == f"/tasks/{task.id}"
    assert _landing(client, task) == f"/approvals/{task.id}"


def test_a_stranger_and_an_unknown_task_get_not_found(world: World, signed_in: Client) -> None:
    agreement: Agreement = world.create()
    world.to_joint_review(agreement)
    (review, *_) = world.open_tasks(agreement, "review")
    outsider = outsider_of_another_organisation(world)
    client = signed_in(outsider.email)
    answer = client.get(f"/tasks/{review.id}", follow_redirects=False)
    assert answer.status_code == 404
    assert agreement.key not in answer.text
    assert client.get("/tasks/999999", follow_redirects=False).status_code == 404


def test_every_task_kind_was_given_a_landing_page() -> None:
    """A new kind of task must be placed in `where_done` (and added here) deliberately."""
    handled = {"approval", "review", "rework", "follow_up", "annual_review", "service_review"}
    handled |= {"confirm_requirements", "confirm_capabilities", "lcce_review"}
    handled |= {"submit_results", "review_results", "address_dispute", "corrective_action"}
    handled |= {"dispute_decision"}  # the period's page, where the Sponsor decides
    handled |= {"proposal_review"}  # the proposal's page
    handled |= {"renewal_decision", "action_item", "extension_approval"}
    handled |= {"corrective_plan_review", "corrective_action_completion"}
    handled |= {"corrective_action_closure"}
    assert set(TASK_KINDS) == handled


def test_my_tasks_links_each_task_to_what_it_is_about(world: World, signed_in: Client) -> None:
    """Issue 11, defect 2: a review links the version (and its changes), gap-analysis work the
    gap page, so that nobody accepts or marks done what they have not seen."""
    agreement = world.create()
    world.to_joint_review(agreement)
    (review, *_) = world.open_tasks(agreement, "review")
    version = f"/slas/{agreement.id}/versions/1"
    mine = _holder(world, signed_in, review).get("/tasks").text
    assert f'<a href="{version}">Read version 1</a>' in mine
    assert f"{version}/diff" not in mine  # version 1 has nothing before it
    world.complete_all(agreement, "review", "accepted")
    (confirm,) = world.open_tasks(agreement, "confirm_requirements")
    mine = _holder(world, signed_in, confirm).get("/tasks").text
    assert f'<a href="{version}/gaps">Open the gap analysis of version 1</a>' in mine
