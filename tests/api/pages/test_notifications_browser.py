"""The Notifications page in Chromium: a person chooses per topic group, and an email's
manage link works signed out."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import Engine

from notifications import links
from states import Role
from tests.api.pages.conftest import Site, open_context, screenshot, sign_in
from tests.helpers import C, P
from workflow.commands.notifications import notification_choices


def test_a_person_switches_decisions_off_but_cannot_switch_tasks_off(
    page: Page, site: Site, request: pytest.FixtureRequest
) -> None:
    site.world.create()  # roles on an agreement: the defaults follow them
    sme = site.world.who(C, Role.TECHNICAL_SME)
    sign_in(page, sme.email)
    page.goto("/notifications")
    expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
    tasks = page.get_by_role("group", name="My tasks")
    decisions = page.get_by_role("group", name="Decisions on my agreements")
    expect(tasks.get_by_role("radio")).to_have_count(3)  # no "Off"
    expect(tasks).to_contain_text("cannot be switched off while the task is yours")
    expect(
        decisions.get_by_role("radio", name="As my role gets them (in my daily digest)")
    ).to_be_checked()
    screenshot(page, "notifications", request)

    decisions.get_by_role("radio", name="Off").check()
    tasks.get_by_role("radio", name="In my daily digest").check()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("status")).to_have_text("Your notification choices are saved.")
    expect(decisions.get_by_role("radio", name="Off")).to_be_checked()
    expect(tasks.get_by_role("radio", name="In my daily digest")).to_be_checked()
    site.world.session.rollback()
    assert notification_choices(site.world.session, sme.user_id) == {
        "tasks": "digest",
        "decisions": "off",
        "reports": "default",
        "governance": "default",
    }


def test_an_emails_manage_link_stops_a_group_signed_out(
    browser: Browser, site: Site, engine: Engine, request: pytest.FixtureRequest
) -> None:
    lead = site.world.who(P, Role.FUNCTIONAL_LEAD)
    token = links.make_token(links.link_key(engine), lead.user_id, "reports")
    context = open_context(browser, site)
    page = context.new_page()
    page.goto(f"/notifications/manage/{token}")
    expect(page.get_by_role("heading", name="Reports", level=1)).to_be_visible()
    expect(page.get_by_text(lead.email)).to_be_visible()
    screenshot(page, "notifications-manage", request)
    page.get_by_role("button", name="Stop these emails").click()
    expect(page.get_by_role("status")).to_have_text("Reports: you will not get these emails.")
    expect(
        page.get_by_role("group", name="Send me these emails").get_by_role("radio", name="Off")
    ).to_be_checked()
    expect(page.get_by_role("button", name="Stop these emails")).to_have_count(0)
    context.close()
    site.world.session.rollback()
    assert notification_choices(site.world.session, lead.user_id)["reports"] == "off"
