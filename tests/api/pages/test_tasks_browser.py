"""My tasks in Chromium: grouped by agreement, completed in one click, with and without JS."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from states import Role
from tests.api.pages.conftest import Site, open_context, screenshot, sign_in
from tests.helpers import C, P


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
