"""The audit page in Chromium: filter by keyboard-reachable form, open an event's details."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from states import Role
from tests.api.pages.conftest import Site, screenshot, sign_in
from tests.helpers import C


def test_a_party_filters_the_audit_trail_and_reads_an_event(
    page: Page, site: Site, request: pytest.FixtureRequest
) -> None:
    agreement = site.world.create()
    site.world.to_active(agreement)
    owner = site.world.who(C, Role.BUSINESS_OWNER)
    sign_in(page, owner.email)
    page.get_by_role("link", name="Audit").click()
    expect(page).to_have_url(re.compile(r"/audit$"))
    events = page.locator("li.audit-event")
    expect(events.first).to_contain_text("Accord activated version 1")
    screenshot(page, "audit", request)
    page.get_by_label("Action").select_option("task.completed")
    page.get_by_label("Actor").fill(owner.name)
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"action=task.completed"))
    expect(events).to_have_count(1)
    expect(events.first).to_contain_text(f"{owner.name} approved version 1")
    events.first.locator("summary").click()
    expect(events.first.locator("pre")).to_contain_text('"outcome": "approved"')
    expect(events.first.get_by_role("link", name="JSON")).to_have_attribute(
        "href", f"/slas/{agreement.id}/versions/1/evidence.json"
    )
    screenshot(page, "audit-filtered", request)
