"""The quarterly service review in Chromium: from My tasks to the minutes form and back."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import Session

from states import Role
from tests.api.pages.conftest import Site, screenshot, sign_in
from tests.helpers import C, P
from workflow.commands.calendar_jobs import run_calendar


def test_a_program_manager_records_the_minutes_from_my_tasks(
    page: Page, site: Site, engine: Engine, request: pytest.FixtureRequest
) -> None:
    world = site.world
    agreement = world.create()
    world.to_active(agreement)
    with Session(engine, expire_on_commit=False) as session:
        run_calendar(session, now=datetime(2027, 1, 1, 15, tzinfo=UTC))
    world.now = datetime(2027, 1, 8, 15, tzinfo=UTC)
    sign_in(page, site.email(P, Role.PROGRAM_MANAGER))
    task = page.get_by_role("article", name=re.compile("quarterly service review"))
    task.get_by_role("button", name=re.compile("record the minutes")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Service review 2026-Q4")
    page.get_by_label("Held on").fill("2027-01-07")
    for box in page.get_by_role("checkbox").all()[:3]:
        box.check()
    page.get_by_label("Decisions").fill("Keep the monthly cadence")
    page.get_by_label("Action 1", exact=True).fill("Publish the 2027 maintenance windows")
    page.get_by_label("Owner of action 1").select_option(
        value=str(world.who(C, Role.PMO_LEAD).user_id)
    )
    page.get_by_label("Due date of action 1").fill("2027-01-29")
    screenshot(page, "service-review-minutes", request)
    page.get_by_role("button", name="Record the minutes").click()
    expect(page.get_by_role("status")).to_contain_text("Minutes recorded")
    expect(page.get_by_role("heading", name="Minutes")).to_be_visible()
    expect(page.get_by_role("link", name="Publish the 2027 maintenance windows")).to_be_visible()
    (item,) = world.open_tasks(agreement, "action_item")
    assert item.assignee_id == world.who(C, Role.PMO_LEAD).user_id
    assert world.open_tasks(agreement, "service_review") == []
