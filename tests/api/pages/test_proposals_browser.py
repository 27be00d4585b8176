"""A proposal in Chromium, both databases: the provider proposes to excuse a miss; the
customer's Program Manager finds it on My tasks, sees what it changes side by side, cannot
reject it without a comment, accepts it on a confirmation page; the proposer sees the outcome."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from states import Role
from tests.api.pages.conftest import Site, open_context, screenshot, sign_in
from tests.helpers import C, P
from tests.workflow.commands.test_periods import DEC_1, NOVEMBER
from tests.workflow.test_compliance_sql import store
from workflow import commands
from workflow.models import Excusal, Proposal


def _proposed(site: Site) -> Proposal:
    world = site.world
    agreement = world.create()
    world.to_active(agreement)
    assert agreement.id is not None
    store(world.session, agreement.id, NOVEMBER)
    world.now = DEC_1
    commands.open_due_periods(world.session, now=DEC_1)
    return commands.excuse_miss(
        world.session,
        actor=world.who(P, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,
        metric="proper-payments",
        window="2026-11",
        party="customer",
        reason="The customer's ledger arrived on the 28th.",
        now=world.tick(),
    )


def test_the_customer_accepts_the_provider_s_excusal(
    page: Page, browser: Browser, site: Site, request: pytest.FixtureRequest
) -> None:
    proposal = _proposed(site)
    sign_in(page, site.email(C, Role.PROGRAM_MANAGER))
    page.goto(f"{site.base}/tasks")
    page.get_by_role("button", name="See what it changes and decide…").click()
    expect(page).to_have_url(re.compile(rf"/proposals/{proposal.id}$"))
    changes = page.get_by_role("region", name="What it changes")
    row = changes.get_by_role(
        "row", name=re.compile("Proper payments, excluding customer errors in 2026-11")
    )
    expect(row).to_contain_text("counts as a miss")
    expect(row).to_contain_text("excused, charged to the customer")
    screenshot(page, "proposal-detail", request)

    page.get_by_role("radio", name="Reject").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Write why you reject this proposal.")).to_be_visible()

    page.get_by_role("radio", name="Accept").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name=re.compile("^Accept the proposal"))).to_be_visible()
    screenshot(page, "proposal-confirm", request)
    page.get_by_role("button", name="Confirm: Accept").click()

    expect(page.get_by_role("status").first).to_contain_text("You accepted the proposal")
    expect(page.get_by_text(re.compile("This proposal was accepted by"))).to_be_visible()
    site.world.session.rollback()
    excusal = site.world.session.exec(select(Excusal)).one()
    assert excusal.party == "customer"

    # The proposer sees the decision, and no decision form of their own.
    context = open_context(browser, site)
    provider = context.new_page()
    sign_in(provider, site.email(P, Role.PROGRAM_MANAGER))
    provider.goto(f"{site.base}/proposals/{proposal.id}")
    expect(provider.get_by_text(re.compile("This proposal was accepted by"))).to_be_visible()
    expect(provider.get_by_role("button", name="Continue")).to_have_count(0)
    context.close()
