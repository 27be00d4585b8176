"""The audit page in Chromium: filter by keyboard-reachable form, open an event's details."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from states import Role
from tests.api.pages.conftest import PASSWORD, Site, screenshot, sign_in
from tests.helpers import C, World
from workflow import commands
from workflow.commands.sign_in import set_passwords

AUDITOR = "audrey@customer.example"


def customer_auditor(world: World) -> str:
    """Audrey Auditor, the customer organisation's auditor, who signs in with PASSWORD."""
    commands.create_user(
        world.session,
        actor=None,
        email=AUDITOR,
        name="Audrey Auditor",
        organization_id=world.parties.customer_org_id,
        role="auditor",
        now=world.tick(),
    )
    set_passwords(world.session, actor=None, emails=[AUDITOR], password=PASSWORD, now=world.tick())
    return AUDITOR


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
    expect(events.first).to_contain_text(
        f"{owner.name} (customer Business Owner) approved version 1"
    )
    events.first.locator("summary").first.click()
    # In words first; the raw event behind its own "Technical record".
    expect(events.first.locator("dl.audit-record").first).to_contain_text("open → completed")
    events.first.get_by_text("Technical record").click()
    expect(events.first.locator("pre")).to_contain_text('"outcome": "approved"')
    expect(events.first.get_by_role("link", name="JSON")).to_have_attribute(
        "href", f"/slas/{agreement.id}/versions/1/evidence.json"
    )
    screenshot(page, "audit-filtered", request)


def test_an_auditor_verifies_the_chain_and_downloads_a_certificate(
    page: Page, site: Site, request: pytest.FixtureRequest
) -> None:
    world = site.world
    agreement = world.create()
    world.to_active(agreement)
    sign_in(page, customer_auditor(world))
    page.get_by_role("link", name="Audit").click()
    expect(page.locator("#verification")).to_contain_text("Chain verified")
    expect(page.locator("#verification")).to_contain_text("of your organisation")
    events = page.locator("li.audit-event")
    activated = events.filter(has_text="Accord activated version 1")
    activated.locator("summary").first.click()
    screenshot(page, "audit-auditor", request)
    with page.expect_download() as waiting:
        activated.get_by_role("link", name="certificate of approval").click()
    download = waiting.value
    assert download.suggested_filename == f"{agreement.key}-v1-certificate.html"
    saved = Path(download.path()).read_text(encoding="utf-8")
    assert "Certificate of approval" in saved
    assert "Audit chain verified" in saved
    assert world.version(agreement, 1).content_hash in saved
    # The saved file opens on its own (inline styles, no links to the site) and prints.
    certificate = page.context.new_page()
    certificate.goto(f"/slas/{agreement.id}/versions/1/certificate.html")
    expect(certificate.locator("#approvals tbody tr")).to_have_count(4)
    screenshot(certificate, "certificate", request)
    certificate.close()
