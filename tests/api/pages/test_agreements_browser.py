"""An agreement in Chromium: the diagram shows where it stands, an action moves it on."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from states import Role
from tests.api.pages.conftest import Site, screenshot, sign_in
from tests.helpers import C


def test_the_customer_pm_submits_the_draft_from_the_agreement_page(
    page: Page, site: Site, request: pytest.FixtureRequest
) -> None:
    agreement = site.world.create()
    sign_in(page, site.email(C, Role.PROGRAM_MANAGER))
    page.goto("/slas")
    row = page.get_by_role("row", name=re.compile(agreement.key))
    expect(row).to_contain_text("draft")
    screenshot(page, "agreements-list", request)
    row.get_by_role("link", name=agreement.key).click()

    diagram = page.get_by_role("img", name=re.compile(r"Lifecycle of .*: now draft"))
    expect(diagram).to_be_visible()
    expect(page.locator('svg g.current[data-state="draft"]')).to_have_count(1)
    expect(page.locator("svg g.current")).to_have_count(1)
    page.get_by_text("The lifecycle as text").click()
    expect(
        page.get_by_role("listitem").filter(has_text="submit for review: from draft")
    ).to_be_visible()
    screenshot(page, "agreement-detail", request)

    page.get_by_role("button", name="Submit for review…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Submit for review")
    page.get_by_label("Comment (optional)").fill("Ready for both sides.")
    screenshot(page, "agreement-confirm", request)
    page.get_by_role("button", name="Confirm: Submit for review").click()

    expect(page).to_have_url(re.compile(rf"/slas/{agreement.id}$"))
    expect(page.get_by_role("status")).to_contain_text("Version 1 is now joint review.")
    expect(page.locator('svg g.current[data-state="joint_review"]')).to_have_count(1)
    expect(page.get_by_role("heading", level=1)).to_contain_text("joint review")
    waiting = page.get_by_role("region", name="Waiting for")
    expect(waiting).to_contain_text("Review the draft (customer)")
    screenshot(page, "agreement-after-submit", request)
    assert site.world.version(agreement).state == "joint_review"

    page.get_by_role("link", name="Version 1", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("version 1")
    expect(page.get_by_text(site.world.version(agreement).content_hash)).to_be_visible()
    screenshot(page, "agreement-version", request)
    page.get_by_role("link", name="What changed in version 1").click()
    expect(page.get_by_text("Version 1 is the first")).to_be_visible()
