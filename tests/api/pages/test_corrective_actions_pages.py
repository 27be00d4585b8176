"""The corrective-action page over HTTP: the owner side's plan form, the other side's
decisions with a confirmation step, and the history; My tasks and task links lead there."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlmodel import select

from states import Role
from tests.api.pages.conftest import CSRF_FIELD, PASSWORD, Client, Site, screenshot
from tests.helpers import C, P, World
from tests.workflow.commands.test_periods import DEC_1, NOVEMBER
from tests.workflow.test_compliance_sql import store
from workflow import commands
from workflow.models import CorrectiveAction, Task

PM, FL = Role.PROGRAM_MANAGER, Role.FUNCTIONAL_LEAD


def _final_november(world: World) -> CorrectiveAction:
    agreement = world.create()
    world.to_active(agreement)
    assert agreement.id is not None
    store(world.session, agreement.id, NOVEMBER)
    world.now = DEC_1
    commands.open_due_periods(world.session, now=DEC_1)
    for event, side, role in (("submit", P, PM), ("accept", C, FL)):
        commands.fire_period_event(
            world.session,
            actor=world.who(side, role),
            agreement_id=agreement.id,
            period="2026-11",
            event=event,
            now=world.tick(),
        )
    world.session.rollback()
    return world.session.exec(
        select(CorrectiveAction).where(CorrectiveAction.metric_key == "invoice-payment-timeliness")
    ).one()


def _post(client: TestClient, path: str, data: dict[str, Any]) -> Any:
    page = client.get(path.split("/events", 1)[0])
    token = CSRF_FIELD.search(page.text)
    assert token is not None
    return client.post(path, data={**data, "csrf_token": token[1]}, follow_redirects=False)


def _state(world: World, action: CorrectiveAction) -> str:
    world.session.rollback()
    found = world.session.get(CorrectiveAction, action.id)
    assert found is not None
    return found.state


def test_my_tasks_and_the_task_link_lead_to_the_action(world: World, signed_in: Client) -> None:
    action = _final_november(world)
    task = world.session.exec(select(Task).where(Task.corrective_action_id == action.id)).one()
    provider = signed_in(world.who(P, PM).email)
    answer = provider.get(f"/tasks/{task.id}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/corrective-actions/{action.id}"
    mine = provider.get("/tasks").text
    assert f'href="/corrective-actions/{action.id}#actions-title"' in mine
    # The plan is not a one-click "done" from the list.
    block = mine.split(f'id="task-{task.id}"', 1)[1].split("</article>", 1)[0]
    assert 'name="outcome"' not in block


def test_plan_accept_complete_close_through_the_page(world: World, signed_in: Client) -> None:
    action = _final_november(world)
    path = f"/corrective-actions/{action.id}"
    provider, customer = signed_in(world.who(P, PM).email), signed_in(world.who(C, PM).email)

    page = provider.get(path)
    assert page.status_code == 200
    assert 'id="plan-form"' in page.text
    assert "Charged to the <strong>provider</strong>" in page.text
    assert 'id="plan-form"' not in customer.get(path).text  # not the customer's to plan

    # An empty plan: each field is named and marked, nothing changes.
    empty = _post(provider, f"{path}/events/submit_plan", {})
    assert empty.status_code == 422
    for field in ("root_cause", "actions", "target_date"):
        assert f"<li>{field}: " in empty.text
    assert 'id="root_cause" name="root_cause" rows="3" maxlength="4000" aria-invalid="true"' in (
        empty.text
    )
    assert _state(world, action) == "open"

    due = (DEC_1.date() + timedelta(days=10)).isoformat()
    target = (DEC_1.date() + timedelta(days=30)).isoformat()
    owner = str(world.who(P, Role.TECHNICAL_LEAD).user_id)
    plan = {
        "root_cause": "Invoices keyed after the cut-off",
        "description": ["Monitor the nightly batch", "", ""],
        "owner_id": [owner, "", ""],
        "due_on": [due, "", ""],
        "target_date": target,
    }
    # A bad date is named and the form keeps what was typed.
    late = _post(provider, f"{path}/events/submit_plan", {**plan, "due_on": ["soon", "", ""]})
    assert late.status_code == 422
    assert "actions[0].due_on: not a date" in late.text
    assert 'value="Monitor the nightly batch"' in late.text
    # The customer may not submit the provider's plan.
    assert _post(customer, f"{path}/events/submit_plan", plan).status_code == 403
    assert _post(provider, f"{path}/events/submit_plan", plan).status_code == 303
    assert _state(world, action) == "plan_submitted"

    shown = customer.get(path).text
    assert "Invoices keyed after the cut-off" in shown
    assert f'action="{path}/events/accept_plan/confirm"' in shown
    assert f'action="{path}/events/request_rework"' in shown
    assert f'action="{path}/events/accept_plan/confirm"' not in provider.get(path).text
    asked = _post(customer, f"{path}/events/accept_plan/confirm", {})
    assert asked.status_code == 200
    assert "puts it in progress" in asked.text
    assert _state(world, action) == "plan_submitted"  # nothing happened yet
    assert _post(provider, f"{path}/events/accept_plan/confirm", {}).status_code == 409
    assert _post(customer, f"{path}/events/accept_plan", {}).status_code == 303
    assert _state(world, action) == "in_progress"

    no_comment = _post(provider, f"{path}/events/report_completion", {})
    assert no_comment.status_code == 422
    reported = _post(provider, f"{path}/events/report_completion", {"comment": "Paging is live"})
    assert reported.status_code == 303
    # The customer's Functional Lead may close it for the customer.
    lead = signed_in(world.who(C, FL).email)
    assert _post(lead, f"{path}/events/confirm_closure/confirm", {}).status_code == 200
    assert _post(lead, f"{path}/events/confirm_closure", {}).status_code == 303
    assert _state(world, action) == "closed"
    history = provider.get(path).text.split('id="history"')[1].split("</ol>")[0]
    for step in ("submit plan", "accept plan", "report completion", "confirm closure"):
        assert step in history
    assert "Paging is live" in history


def test_the_provider_plans_in_the_browser_and_the_customer_accepts(
    page: Page, site: Site, request: pytest.FixtureRequest
) -> None:
    world = site.world
    action = _final_november(world)
    path = f"/corrective-actions/{action.id}"
    page.goto(f"/signin?next={path}")
    page.get_by_label("Email").fill(site.email(P, PM))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(f"{path}$"))
    form = page.get_by_role("form", name="The plan")
    form.get_by_role("button", name="Submit the plan").click()
    expect(page.get_by_role("alert")).to_contain_text("root_cause")
    form = page.get_by_role("form", name="The plan")
    expect(form.get_by_label("Root cause")).to_have_attribute("aria-invalid", "true")
    form.get_by_label("Root cause").fill("Invoices keyed after the cut-off")
    form.locator("#description-0").fill("Monitor the nightly batch")
    form.locator("#owner-0").select_option(str(world.who(P, Role.TECHNICAL_LEAD).user_id))
    form.locator("#due-0").fill((DEC_1.date() + timedelta(days=10)).isoformat())
    form.get_by_label("Target date").fill((DEC_1.date() + timedelta(days=30)).isoformat())
    screenshot(page, "corrective-action-plan", request)
    form.get_by_role("button", name="Submit the plan").click()
    expect(page.get_by_role("status")).to_have_text("You submitted the plan.")
    expect(page.locator("#plan-actions")).to_contain_text("Monitor the nightly batch")

    page.context.clear_cookies()
    page.goto(f"/signin?next={path}")
    page.get_by_label("Email").fill(site.email(C, PM))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Accept the plan…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Accept the plan")
    page.get_by_role("button", name="Confirm: Accept the plan").click()
    expect(page.get_by_role("status")).to_have_text("You accepted the plan.")
    assert _state(world, action) == "in_progress"
