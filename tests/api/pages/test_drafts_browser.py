"""Editing a draft in Chromium: open a metric, change its target, save; both databases."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from states import Role
from tests.api.pages.conftest import Site, screenshot, sign_in
from tests.helpers import C

KEY = "proper-payments"
NAME = "Proper payments, excluding customer errors"


def test_a_program_manager_edits_a_target_and_saves(
    page: Page, site: Site, request: pytest.FixtureRequest
) -> None:
    agreement = site.world.create()
    before = site.world.version(agreement).lock_version
    sign_in(page, site.email(C, Role.PROGRAM_MANAGER))
    page.goto(f"/slas/{agreement.id}/versions/1/edit")
    expect(page.get_by_role("heading", name=f"Edit {agreement.key} version 1")).to_be_visible()
    expect(page.get_by_label("Annual cost")).to_have_value("4850000.00")
    screenshot(page, "draft-edit", request)

    row = page.locator(f"#metric-{KEY}")
    row.get_by_role("link", name="Edit").click()
    form = page.get_by_role("form", name=re.compile("Edit Proper payments"))
    expect(form.get_by_label("Target")).to_have_value("99.5")
    form.get_by_label("Target", exact=True).fill("99.7")
    form.get_by_label("Warning").fill("abc")
    form.get_by_role("button", name=f"Save {NAME}").click()

    # A bad warning is named at its field; the new target stays typed in.
    expect(page.locator("#m-warning-error")).to_contain_text("enter a number, such as 99.5")
    # ... and the page opens at it, focused, not at the top 2,000 px away.
    expect(form.get_by_label("Warning")).to_be_focused()
    assert page.evaluate("window.scrollY") > 0
    box, screen = form.get_by_label("Warning").bounding_box(), page.viewport_size
    assert box is not None
    assert screen is not None
    assert 0 <= box["y"] <= screen["height"]
    screenshot(page, "draft-edit-metric-error", request)
    expect(form.get_by_label("Target", exact=True)).to_have_value("99.7")
    form.get_by_label("Warning").fill("99.9")
    form.get_by_label("Warning").press("Enter")

    expect(page.get_by_role("status")).to_have_text(f"Saved the metric {NAME}.")
    expect(page.locator(f"#metric-{KEY}")).to_contain_text("99.7 percent")
    screenshot(page, "draft-edit-saved", request)
    version = site.world.version(agreement)
    metric = next(m for m in version.metrics if m["key"] == KEY)
    assert (metric["target"], metric["warning"]) == (99.7, 99.9)
    assert version.lock_version == before + 1


def test_the_editor_offers_the_next_step_and_it_leads_to_review(page: Page, site: Site) -> None:
    agreement = site.world.create()
    sign_in(page, site.email(C, Role.PROGRAM_MANAGER))
    page.goto(f"/slas/{agreement.id}/versions/1/edit")
    step = page.get_by_role("region", name="Next step: joint review")
    step.get_by_role("button", name="Submit for review…").click()
    page.get_by_role("button", name="Confirm: Submit for review").click()
    expect(page.get_by_role("status")).to_contain_text("joint review")
    assert site.world.version(agreement).state == "joint_review"
