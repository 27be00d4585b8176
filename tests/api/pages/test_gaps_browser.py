"""The gap analysis page in Chromium: resolve a gap (a refusal first), then run a what-if."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from states import Role
from tests.api.pages.conftest import Site, screenshot, sign_in
from tests.helpers import C
from tests.proposals import accept
from tests.workflow.test_compliance_report import local, o
from tests.workflow.test_compliance_sql import store
from workflow.models import Proposal

CORE = "core-app-availability"
POSTING = "Payroll postings within 2 government work days of receipt of files"


def test_resolve_a_gap_and_replay_a_proposed_target(
    page: Page, site: Site, request: pytest.FixtureRequest
) -> None:
    world = site.world
    agreement = world.create()
    assert agreement.id is not None
    store(
        world.session,
        agreement.id,
        [o(CORE, local(2026, 9, 15, 12), 99.0), o(CORE, local(2026, 10, 15, 12), 99.95)],
    )
    world.session.commit()
    world.to_gap_analysis(agreement)
    sign_in(page, site.email(C, Role.FUNCTIONAL_LEAD))
    page.goto(f"/slas/{agreement.id}/versions/1/gaps")
    expect(page.get_by_role("heading", level=1)).to_contain_text("gap analysis")
    screenshot(page, "gaps", request)

    gap = page.get_by_role("article").filter(has_text=POSTING)
    form = gap.get_by_role("form", name=f"Resolve the gap in {POSTING}")
    form.get_by_label(re.compile("target is adjusted")).check()
    form.get_by_role("button", name="Resolve").click()
    expect(page.get_by_role("alert").first).to_contain_text("The gap was not resolved")
    form = page.get_by_role("form", name=f"Resolve the gap in {POSTING}")
    expect(form.get_by_label(re.compile("target is adjusted"))).to_be_checked()
    form.get_by_role("textbox", name=re.compile("^Agreed target")).fill("98.5")
    form.get_by_role("textbox", name=re.compile("^Note")).fill(
        "posting by 98.5 % now, 99 % after the upgrade"
    )
    form.get_by_role("button", name="Resolve").click()
    # An agreed target moves the provider's figure too: it waits for the provider's decision.
    expect(page.get_by_role("status")).to_contain_text("once the other side accepts")
    world.session.rollback()
    accept(world, world.session.exec(select(Proposal)).one())
    page.goto(f"/slas/{agreement.id}/versions/1/gaps")
    expect(page.get_by_role("article").filter(has_text=POSTING)).to_contain_text(
        "agreed target 98.5"
    )

    replay = page.get_by_role("form", name="What-if")
    replay.get_by_label("Metric").select_option(CORE)
    replay.get_by_label("Proposed target").fill("99.9")
    replay.get_by_role("button", name="Replay").click()
    expect(page).to_have_url(re.compile(rf"metric={CORE}&target=99.9#what-if$"))
    table = page.locator("#what-if-table")
    expect(table.get_by_role("row", name=re.compile("2026-09"))).to_contain_text("missed")
    october = table.get_by_role("row", name=re.compile("2026-10"))
    expect(october.locator("td.now")).to_have_text("met")
    expect(october.locator("td.proposed")).to_have_text("met")
    expect(table.get_by_role("row", name=re.compile("2026-09")).locator("td.now")).to_have_text(
        "missed"
    )
    expect(page.locator(".chart caption")).to_contain_text("proposed ≥ 99.9%")
    screenshot(page, "gaps-what-if", request)
