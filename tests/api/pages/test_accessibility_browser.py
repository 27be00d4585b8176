"""Axe-core (axe-playwright-python's bundled copy, run inside the test's Chromium) finds no
serious or critical violation on the ten main pages, each read by the persona who works there,
over demo-like data, with their folded parts open, at laptop and phone widths; both databases
(issue 11, "done when")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from states import Role
from tests.api.pages.conftest import LAPTOP, Site, open_context, sign_in
from tests.api.pages.test_mobile_browser import PHONE
from tests.api.pages.test_reports_pages import PERIOD, _reporting
from tests.helpers import C, P, World
from workflow import commands
from workflow.models import Agreement

BLOCKING = ("serious", "critical")
AXE = Axe()
FRAMES = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def violations(page: Page) -> list[str]:
    """Each serious or critical violation on the page as it is: rule, impact, and its nodes."""
    found: list[dict[str, Any]] = AXE.run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(", ".join(map(str, node["target"])) for node in v["nodes"])
        for v in found
        if v["impact"] in BLOCKING
    ]


@dataclass
class Demo:
    """One agreement at each stage a person works on, as in the demo."""

    reporting: Agreement  # active, its November period submitted, a revision under review
    drafting: Agreement  # version 1 a draft
    gaps: Agreement  # version 1 in gap analysis
    approving: Agreement  # version 1 waiting for approvals


def revision_in_review(world: World, agreement: Agreement) -> None:
    """Version 2 of an active agreement in joint review: a dearer annual cost and a stricter
    proper-payments target (driven by the customer), so that its diff has terms and a metric."""
    assert agreement.id is not None
    revision = commands.start_revision(
        world.session,
        actor=world.who(C, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,
        now=world.tick(),
    )
    change = {"driven_by": "customer", "reason": "Fewer improper payments after the audit"}
    metrics = [
        {**m, "target": 99.7, "target_change": change} if m["key"] == "proper-payments" else m
        for m in revision.metrics
    ]
    commands.edit_draft(
        world.session,
        actor=world.who(C, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,
        number=2,
        expected_lock_version=revision.lock_version,
        terms={"annual_cost": "5577500.00"},
        metrics=metrics,
        now=world.tick(),
    )
    world.to_joint_review(agreement, 2)


def demo(world: World) -> Demo:
    reporting = _reporting(world)
    assert reporting.id is not None
    commands.fire_period_event(
        world.session,
        actor=world.who(P, Role.PROGRAM_MANAGER),
        agreement_id=reporting.id,
        period=PERIOD,
        event="submit",
        now=world.tick(),
    )
    revision_in_review(world, reporting)
    gaps = world.create()
    world.to_gap_analysis(gaps)
    approving = world.create()
    world.to_approval(approving)
    return Demo(reporting, world.create(), gaps, approving)


def test_the_ten_main_pages_have_no_serious_or_critical_violation(
    browser: Browser, site: Site
) -> None:
    world = site.world
    made = demo(world)
    (approval,) = [
        t
        for t in world.open_tasks(made.approving, "approval")
        if (t.side, t.role) == (C.value, Role.BUSINESS_OWNER.value)
    ]
    reporting, drafting, gaps = made.reporting.id, made.drafting.id, made.gaps.id
    # (persona, page, what shows that the page is the one meant)
    pages: list[tuple[str | None, str, str]] = [
        (None, "/signin", "Sign in"),
        (site.email(C, Role.FUNCTIONAL_LEAD), "/tasks", "My tasks"),
        (site.email(C, Role.BUSINESS_OWNER), "/approvals", "Approvals"),
        (site.email(C, Role.BUSINESS_OWNER), f"/approvals/{approval.id}", made.approving.key),
        (site.email(C, Role.PROGRAM_MANAGER), f"/slas/{reporting}", made.reporting.key),
        (site.email(C, Role.FUNCTIONAL_LEAD), f"/slas/{reporting}/versions/2/diff", "version 2"),
        (site.email(C, Role.PROGRAM_MANAGER), f"/slas/{drafting}/versions/1/edit", "Edit"),
        (site.email(P, Role.PROGRAM_MANAGER), f"/slas/{gaps}/versions/1/gaps", "gap analysis"),
        (site.email(C, Role.FUNCTIONAL_LEAD), f"/slas/{reporting}/periods/{PERIOD}", PERIOD),
        (site.email(C, Role.BUSINESS_OWNER), "/audit", "Audit"),
    ]
    found: dict[str, list[str]] = {}
    for persona, path, shows in pages:
        context = open_context(browser, site)
        page = context.new_page()
        if persona is not None:
            sign_in(page, persona)
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile(shows, re.I))
        # Folded parts too (the dispute checklist, an audit event's details), and on a phone.
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        found[f"{path} (laptop)"] = violations(page)
        page.set_viewport_size(PHONE)
        # Two frames: the resize handlers have run (they mark what now scrolls sideways).
        page.evaluate(FRAMES)
        found[f"{path} (phone)"] = violations(page)
        context.close()
    blocking = {path: v for path, v in found.items() if v}
    assert not blocking, "\n".join(f"{p}:\n  " + "\n  ".join(v) for p, v in blocking.items())


# Every box that scrolls sideways is in the tab order, and no box that does not.
KEYBOARD_REACHABLE = """[...document.querySelectorAll('.table-wrap, .report')]
    .filter(b => (b.scrollWidth > b.clientWidth + 1) !== (b.tabIndex === 0))
    .map(b => b.outerHTML.slice(0, 80))"""


def test_what_scrolls_sideways_is_in_the_tab_order_at_every_width(
    browser: Browser, site: Site
) -> None:
    agreement = _reporting(site.world)
    assert agreement.id is not None
    commands.fire_period_event(
        site.world.session,
        actor=site.world.who(P, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,
        period=PERIOD,
        event="submit",
        now=site.world.tick(),
    )
    context = open_context(browser, site)
    page = context.new_page()
    sign_in(page, site.email(P, Role.PROGRAM_MANAGER))
    page.goto(f"/slas/{agreement.id}/periods/{PERIOD}")
    assert page.evaluate(KEYBOARD_REACHABLE) == []
    page.set_viewport_size(PHONE)
    page.evaluate(FRAMES)
    assert page.locator(".report[tabindex='0']").count() == 1  # its charts scroll on a phone
    assert page.evaluate(KEYBOARD_REACHABLE) == []
    page.set_viewport_size(LAPTOP)
    page.evaluate(FRAMES)
    assert page.evaluate(KEYBOARD_REACHABLE) == []
    context.close()
