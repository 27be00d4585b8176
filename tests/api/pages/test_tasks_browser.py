"""My tasks in Chromium: grouped by agreement, completed in one click, with and without JS."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from states import Role
from tests.api.pages.conftest import Site, open_context, screenshot, sign_in
from tests.helpers import C, P
from workflow.models import Agreement, AuditEvent, Task


def test_reviews_are_accepted_or_sent_back_in_one_click(
    page: Page, site: Site, request: pytest.FixtureRequest
) -> None:
    world = site.world
    agreement = world.create()
    world.to_joint_review(agreement)
    sign_in(page, site.email(C, Role.FUNCTIONAL_LEAD))
    expect(page).to_have_url(re.compile(r"/tasks$"))
    group = page.get_by_role("region", name=re.compile(agreement.key))
    task = group.get_by_role("article")
    expect(task).to_have_count(1)
    expect(task).to_contain_text("Due ")
    screenshot(page, "my-tasks", request)
    task.get_by_role("button", name=re.compile("^Accept")).click()
    # htmx swaps the task for its outcome in place.
    expect(group.get_by_role("status")).to_contain_text("Done:")
    assert [t.role for t in world.open_tasks(agreement, "review")] == [Role.TECHNICAL_LEAD.value]

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, site.email(P, Role.TECHNICAL_LEAD))
    task = page.get_by_role("article", name=re.compile("Review"))
    task.get_by_role("button", name="Request changes").click()
    expect(task.get_by_role("alert")).to_have_text(
        "Write what should change: the comment is required."
    )
    assert world.version(agreement).state == "joint_review"
    task.get_by_label("What should change").fill("The availability target needs a window.")
    task.get_by_role("button", name="Request changes").click()
    expect(page.get_by_role("status")).to_contain_text("Done:")
    assert world.version(agreement).state == "draft"


def test_gap_analysis_tasks_are_marked_done_without_javascript(
    browser: Browser, site: Site
) -> None:
    world = site.world
    agreement = world.create()
    world.to_gap_analysis(agreement)
    context = open_context(browser, site, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, site.email(C, Role.FUNCTIONAL_LEAD))
    task = page.get_by_role("article", name=re.compile("requirements", re.IGNORECASE))
    task.get_by_role("button", name=re.compile("^Mark done")).click()
    expect(page).to_have_url(re.compile(r"/tasks$"))
    expect(page.get_by_role("status")).to_contain_text(f"({agreement.key})")
    kinds = {t.kind for t in world.open_tasks(agreement)}
    assert "confirm_requirements" not in kinds
    assert "confirm_capabilities" in kinds
    context.close()


def test_a_reviewer_accepts_two_reviews_at_once_each_audited(
    page: Page, site: Site, request: pytest.FixtureRequest
) -> None:
    world = site.world
    first, second = world.create(), world.create()
    world.to_joint_review(first)
    world.to_joint_review(second)
    sign_in(page, site.email(C, Role.FUNCTIONAL_LEAD))
    for agreement in (first, second):
        page.get_by_role(
            "checkbox", name=re.compile(f"the review of {agreement.key} version 1")
        ).check()
    page.get_by_role("button", name="Accept the chosen reviews…").click()

    # The list is confirmed on a second page; nothing is recorded before.
    expect(page.get_by_role("heading", name="Accept 2 reviews?")).to_be_visible()
    expect(page.locator("#to-accept")).to_contain_text(first.key)
    expect(page.locator("#to-accept")).to_contain_text(second.key)
    assert len(_customer_reviews(site, first)) == len(_customer_reviews(site, second)) == 1
    screenshot(page, "tasks-bulk-confirm", request)
    page.get_by_role("button", name="Confirm: Accept 2").click()

    expect(page).to_have_url(re.compile(r"/tasks$"))
    expect(page.get_by_role("status").first).to_have_text(
        f"You accepted the review of {first.key} version 1, the review of {second.key} version 1."
    )
    world.session.rollback()  # what the server committed
    reviewer = world.who(C, Role.FUNCTIONAL_LEAD).user_id
    for agreement in (first, second):
        assert _customer_reviews(site, agreement) == []
        events = world.session.exec(
            select(AuditEvent).where(
                AuditEvent.agreement_id == agreement.id,
                AuditEvent.action == "task.completed",
                AuditEvent.actor_id == reviewer,
            )
        ).all()
        assert [json.loads(e.body)["data"]["outcome"] for e in events] == ["accepted"]


def test_one_review_alone_offers_no_bulk_form_and_a_forged_one_changes_nothing(
    page: Page, site: Site
) -> None:
    world = site.world
    agreement = world.create()
    world.to_joint_review(agreement)
    sign_in(page, site.email(C, Role.FUNCTIONAL_LEAD))
    expect(page.get_by_role("form", name="Accept several reviews")).to_have_count(0)
    # The other side's review of the same version: visible to a party, not theirs to decide.
    provider_review = next(t for t in world.open_tasks(agreement, "review") if t.side == P.value)
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token is not None
    answer = page.request.post(
        "/tasks/bulk",
        form={"csrf_token": token, "task": str(provider_review.id)},
        max_redirects=0,
    )
    assert answer.status == 303
    world.session.rollback()
    assert len(_customer_reviews(site, agreement)) == 1
    assert provider_review.id in [t.id for t in world.open_tasks(agreement, "review")]


def _customer_reviews(site: Site, agreement: Agreement) -> list[Task]:
    return [
        t
        for t in site.world.open_tasks(agreement, "review")
        if (t.side, t.role) == (C.value, Role.FUNCTIONAL_LEAD.value)
    ]
