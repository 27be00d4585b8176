"""The admin pages in Chromium: an administrator creates a user and an API token for them."""

from __future__ import annotations

import re

import httpx2
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from states import Role
from tests.api.pages.conftest import Site, screenshot, sign_in
from tests.helpers import C, P
from workflow.models import User


def test_an_admin_creates_a_user_and_a_token(
    page: Page, site: Site, request: pytest.FixtureRequest
) -> None:
    world = site.world
    owner = world.who(C, Role.BUSINESS_OWNER)
    user = world.session.exec(select(User).where(User.id == owner.user_id)).one()
    user.is_admin = True
    world.session.add(user)
    world.session.commit()
    provider_org = world.who(P, Role.PROGRAM_MANAGER).organization_id

    sign_in(page, owner.email)
    page.get_by_role("link", name="Admin", exact=True).click()
    expect(page.get_by_role("heading", name="Administration")).to_be_visible()
    screenshot(page, "admin-overview", request)

    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Users").click()
    expect(page).to_have_url(re.compile(r"/admin/users$"))
    page.get_by_label("Email").fill("nia.new@provider.example")
    page.get_by_label("Name").fill("Nia New")
    page.get_by_label("Organisation").select_option(str(provider_org))
    screenshot(page, "admin-users", request)
    page.get_by_role("button", name="Create user").click()

    expect(page.get_by_role("heading", name="Nia New")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(
        "Nia New (nia.new@provider.example) is invited"
    )
    expect(page.get_by_text("No API tokens", exact=True)).to_be_visible()
    page.get_by_label("Token name").fill("reporting job")
    page.get_by_role("button", name="Create API token").click()

    shown = page.get_by_label(re.compile(r"^Token"))
    expect(shown).to_have_value(re.compile(r"^acc_"))
    expect(page.get_by_text("it is shown only this once")).to_be_visible()
    token = shown.input_value()
    screenshot(page, "admin-token-created", request)
    me = httpx2.get(f"{site.base}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["email"] == "nia.new@provider.example"

    page.get_by_role("button", name="Done: back to Nia New").click()
    expect(page.get_by_role("cell", name=re.compile(r"^acc_"))).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(token)
    page.get_by_role("link", name=re.compile(r"^Revoke")).click()
    page.get_by_role("button", name="Revoke token").click()
    expect(page.get_by_role("status")).to_contain_text("the API refuses it from now on")
    screenshot(page, "admin-user-token-revoked", request)
    again = httpx2.get(f"{site.base}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401
