"""On a phone (390 px wide, Chromium): the approval queue, an approval, My tasks and a period's
report fit the screen, the navigation takes one short band, and an approval can be given from
the queue to the confirmation without scrolling sideways. Both databases."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, ViewportSize, expect

from states import Role
from tests.api.pages.conftest import LAPTOP, Site, sign_in
from tests.api.pages.test_reports_pages import PERIOD, _reporting
from tests.helpers import C, P

PHONE: ViewportSize = {"width": 390, "height": 844}
# The brand, the sign-out and one scrolling row of sections: about 110 px at Pico's sizes.
HEADER_MAX_PX = 130


def _phone(browser: Browser, site: Site) -> Page:
    context = browser.new_context(base_url=site.base, viewport=PHONE)
    context.set_default_timeout(15_000)
    return context.new_page()


def _fits(page: Page) -> None:
    """Nothing wider than the screen, and the header a short band."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide"
    header = page.get_by_role("banner").bounding_box()
    assert header is not None
    assert header["height"] <= HEADER_MAX_PX, header


def _on_screen(page: Page, selector: str) -> None:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    assert box["x"] >= 0, (selector, box)
    assert box["x"] + box["width"] <= PHONE["width"], (selector, box)
    assert box["y"] + box["height"] <= PHONE["height"], (selector, box)


def test_a_business_owner_approves_on_a_phone(browser: Browser, site: Site) -> None:
    agreement = site.world.create()
    site.world.to_approval(agreement)
    page = _phone(browser, site)
    sign_in(page, site.email(C, Role.BUSINESS_OWNER))
    expect(page).to_have_url(re.compile(r"/approvals$"))
    _fits(page)
    # The queue's one action and its due date are on the first screen.
    _on_screen(page, "table.queue a.review")
    _on_screen(page, "table.queue .due")
    expect(page.locator("table.queue td[data-label=Due]")).to_contain_text("Due")
    for section in ("Approvals", "My tasks", "Agreements"):
        expect(page.get_by_role("navigation", name="Main").get_by_role("link", name=section))
    page.locator("table.queue a.review").first.click()
    _fits(page)
    page.get_by_role("radio", name="Approve", exact=True).check()
    page.get_by_role("button", name="Continue").click()
    _fits(page)
    page.get_by_role("button", name="Confirm: Approve").click()
    expect(page.get_by_role("status")).to_have_text(f"You approved {agreement.key} version 1.")
    page.context.close()


def test_my_tasks_and_a_period_s_report_fit_a_phone(browser: Browser, site: Site) -> None:
    agreement = _reporting(site.world)
    page = _phone(browser, site)
    sign_in(page, site.email(P, Role.PROGRAM_MANAGER))
    page.goto("/tasks")
    expect(page.get_by_role("heading", name="My tasks")).to_be_visible()
    _fits(page)
    page.goto(f"/slas/{agreement.id}/periods/{PERIOD}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(PERIOD)
    _fits(page)  # the emailed report's charts scroll inside the page
    page.goto("/slas")
    _fits(page)
    page.context.close()


def test_on_a_laptop_the_sections_stay_one_row_beside_the_brand(
    browser: Browser, site: Site
) -> None:
    page = browser.new_page(base_url=site.base, viewport=LAPTOP)
    sign_in(page, site.email(C, Role.BUSINESS_OWNER))
    brand = page.locator("header .brand").bounding_box()
    approvals = (
        page.get_by_role("navigation", name="Main")
        .get_by_role("link", name=re.compile("Approvals"))
        .bounding_box()
    )
    assert brand is not None
    assert approvals is not None
    assert abs(brand["y"] - approvals["y"]) < 20  # same row
    expect(page.locator("header .person")).to_be_visible()
    page.context.close()
