"""Signing in and out in Chromium: keyboard, wrong passwords, throttling, CSRF, other parties."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from states import Role
from tests.api.pages.conftest import (
    PASSWORD,
    Site,
    outsider_of_another_organisation,
    screenshot,
    sign_in,
)
from tests.helpers import C, P
from workflow.commands.sign_in import MAX_FAILURES_PER_EMAIL
from workflow.models import Task
from workflow.models.parties import WebSession


def test_the_sign_in_form_works_from_the_keyboard(
    page: Page, site: Site, request: pytest.FixtureRequest
) -> None:
    page.goto("/signin")
    screenshot(page, "sign-in", request)
    expect(page.get_by_label("Email")).to_be_focused()  # autofocus: type straight away
    page.keyboard.type(site.email(C, Role.PMO_TEAM))
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/tasks$"))  # not an approver: lands on My tasks
    expect(page.get_by_role("heading", name="My tasks")).to_be_visible()
    expect(page.get_by_text("No open tasks")).to_be_visible()
    # The first Tab reaches the skip link, which takes focus past the navigation.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def test_wrong_passwords_are_refused_then_throttled(page: Page, site: Site) -> None:
    email = site.email(C, Role.BUSINESS_OWNER)
    for _ in range(MAX_FAILURES_PER_EMAIL):
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            sign_in(page, email, "not the password")
        assert answer.value.status == 401
        expect(page.get_by_role("alert")).to_have_text(
            "That email and password do not match an account."
        )
        expect(page.get_by_label("Email")).to_have_value(email)
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        sign_in(page, email)  # the right password, but too late
    assert answer.value.status == 429
    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins. Try again after")
    expect(page).to_have_url(re.compile(r"/signin$"))


def test_after_signing_out_no_page_comes_back(page: Page, site: Site) -> None:
    sign_in(page, site.email(C, Role.BUSINESS_OWNER))
    page.goto("/tasks")
    expect(page.get_by_role("heading", name="My tasks")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/signin$"))
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.go_back()
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    expect(page.get_by_role("heading", name="Sign in to Accord")).to_be_visible()
    page.goto("/approvals")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Fapprovals$"))
    site.world.session.rollback()
    revoked = site.world.session.exec(select(WebSession.revoked_at)).all()
    assert len(revoked) == 1
    assert revoked[0] is not None


def test_a_post_without_the_csrf_token_is_refused(page: Page, site: Site) -> None:
    agreement = site.world.create()
    site.world.to_approval(agreement)
    task = next(
        t
        for t in site.world.open_tasks(agreement, "approval")
        if (t.side, t.role) == (C.value, Role.BUSINESS_OWNER.value)
    )
    sign_in(page, site.email(C, Role.BUSINESS_OWNER))
    answer = page.request.post(f"/approvals/{task.id}", form={"outcome": "approved"})
    assert answer.status == 403
    assert "This form has expired" in answer.text()
    site.world.session.rollback()
    assert site.world.session.exec(select(Task.state).where(Task.id == task.id)).one() == "open"


def test_another_partys_agreement_is_not_found(
    page: Page, site: Site, request: pytest.FixtureRequest
) -> None:
    world = site.world
    agreement = world.create()
    world.to_approval(agreement)
    task = world.open_tasks(agreement, "approval")[0]
    outsider = outsider_of_another_organisation(world)
    sign_in(page, outsider.email)
    for path in (f"/slas/{agreement.id}", f"/approvals/{task.id}", "/slas/999999"):
        response = page.goto(path)
        assert response is not None
        assert response.status == 404, path
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        expect(page.locator("main")).not_to_contain_text(agreement.key)
    screenshot(page, "not-found", request)
    page.goto("/slas")
    expect(page.get_by_text("No agreements")).to_be_visible()
    # A party sees it.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, site.email(P, Role.PMO_TEAM))
    assert (response := page.goto(f"/slas/{agreement.id}")) is not None
    assert response.status == 200
