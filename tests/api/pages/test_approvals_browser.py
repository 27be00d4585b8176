"""The approval queue in Chromium: sign in, find the version, decide, confirm; both databases."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from states import Role
from tests.api.pages.conftest import Site, open_context, screenshot, sign_in
from tests.helpers import C, P
from workflow.models import Agreement, AuditEvent, Task


def _in_approval(site: Site) -> Agreement:
    agreement = site.world.create()
    site.world.to_approval(agreement)
    return agreement


def _state(site: Site, agreement: Agreement, number: int = 1) -> str:
    return site.world.version(agreement, number).state


def test_customer_business_owner_approves_without_javascript(
    browser: Browser, site: Site, request: pytest.FixtureRequest
) -> None:
    agreement = _in_approval(site)
    # Everything must work without JavaScript: htmx only adds conveniences.
    context = open_context(browser, site, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, site.email(C, Role.BUSINESS_OWNER))
    expect(page).to_have_url(re.compile(r"/approvals$"))  # an approver lands on the queue
    expect(page.locator("#approval-count")).to_have_text("1")
    row = page.get_by_role("row", name=re.compile(agreement.key))
    expect(row).to_contain_text("version 1")
    screenshot(page, "approval-queue", request)
    row.get_by_role("link", name=re.compile("Review")).click()

    expect(page.get_by_role("heading", name="Who else must approve")).to_be_visible()
    expect(page.get_by_text("This is the first version: everything is new.")).to_be_visible()
    expect(page.get_by_role("heading", name="Terms")).to_be_visible()
    expect(page.get_by_role("heading", name="Metrics")).to_be_visible()
    # The metrics table is the version page's: its Responsible column is filled in.
    # (The metric's row, not its gap's: the metrics table gives the key beside the name.)
    availability = page.get_by_role("row", name=re.compile("^Core financial and payroll.*core-app"))
    expect(availability).to_contain_text("provider")
    provider_bo = site.world.who(P, Role.BUSINESS_OWNER).name
    expect(page.get_by_role("region", name="Who else must approve")).to_contain_text(
        f"Business Owner, provider: {provider_bo} — waiting"
    )
    screenshot(page, "approval-detail", request)
    page.get_by_role("radio", name="Approve", exact=True).check()
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name=re.compile(r"^Approve SLA-"))).to_be_visible()
    screenshot(page, "approval-confirm", request)
    page.get_by_role("button", name="Confirm: Approve").click()

    expect(page).to_have_url(re.compile(r"/approvals$"))
    expect(page.get_by_role("status")).to_have_text(f"You approved {agreement.key} version 1.")
    expect(page.get_by_text("Nothing to approve")).to_be_visible()
    expect(page.locator("#approval-count")).to_have_text("0")
    done = site.world.session.exec(
        select(Task.outcome, Task.completed_by_id).where(
            Task.agreement_id == agreement.id,
            Task.kind == "approval",
            Task.state == "completed",
        )
    ).all()
    assert list(done) == [("approved", site.world.who(C, Role.BUSINESS_OWNER).user_id)]
    context.close()


def test_provider_approves_with_conditions_and_the_agreement_becomes_active(
    page: Page, site: Site, request: pytest.FixtureRequest
) -> None:
    agreement = _in_approval(site)
    world = site.world
    for task in world.open_tasks(agreement, "approval"):
        if (task.side, task.role) != (P.value, Role.BUSINESS_OWNER.value):
            world.complete(task, "approved")
    sign_in(page, site.email(P, Role.BUSINESS_OWNER))
    page.get_by_role("link", name=re.compile("Review")).click()

    page.get_by_role("radio", name="Approve with conditions").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Write the conditions of your approval.")).to_be_visible()
    expect(page.get_by_role("textbox", name=re.compile("Conditions or reason"))).to_have_attribute(
        "aria-invalid", "true"
    )
    screenshot(page, "approval-conditions-required", request)
    page.get_by_role("textbox", name=re.compile("Conditions or reason")).fill(
        "Publish the monthly availability report by the 5th business day."
    )
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("blockquote")).to_contain_text("monthly availability report")
    page.get_by_role("button", name="Confirm: Approve with conditions").click()
    expect(page.get_by_role("status")).to_contain_text("approved with conditions")

    page.goto(f"/slas/{agreement.id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("active")
    expect(page.get_by_role("row", name=re.compile("follow up"))).to_be_visible()
    screenshot(page, "agreement-active", request)
    assert _state(site, agreement) == "active"
    follow_ups = world.open_tasks(agreement, "follow_up")
    assert len(follow_ups) == 1
    assert "monthly availability report" in follow_ups[0].detail + follow_ups[0].title


def test_a_rejection_sends_the_version_back_to_draft(page: Page, site: Site) -> None:
    agreement = _in_approval(site)
    sign_in(page, site.email(C, Role.BUSINESS_OWNER))
    page.get_by_role("link", name=re.compile("Review")).click()
    page.get_by_role("radio", name="Reject").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Write why you reject this version.")).to_be_visible()
    assert _state(site, agreement) == "approval"
    page.get_by_role("textbox", name=re.compile("Conditions or reason")).fill(
        "The cost is above our budget."
    )
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Confirm: Reject").click()
    expect(page.get_by_role("status")).to_have_text(f"You rejected {agreement.key} version 1.")
    expect(page.get_by_text("Nothing to approve")).to_be_visible()

    assert _state(site, agreement) == "draft"
    assert site.world.open_tasks(agreement, "approval") == []
    assert [t.kind for t in site.world.open_tasks(agreement)] == ["rework"]
    page.goto(f"/slas/{agreement.id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("draft")


def test_a_double_submit_records_the_decision_once(browser: Browser, site: Site) -> None:
    agreement = _in_approval(site)
    context = open_context(browser, site)
    first, second = context.new_page(), context.new_page()
    sign_in(first, site.email(C, Role.BUSINESS_OWNER))
    for tab in (first, second):  # the same confirmation, open twice
        tab.goto("/approvals")
        tab.get_by_role("link", name=re.compile("Review")).click()
        tab.get_by_role("radio", name="Approve", exact=True).check()
        tab.get_by_role("button", name="Continue").click()
    first.get_by_role("button", name="Confirm: Approve").click()
    expect(first.get_by_role("status")).to_contain_text("You approved")
    second.get_by_role("button", name="Confirm: Approve").click()
    expect(second.get_by_role("status")).to_have_text(
        f"Nothing more to do: the approval of {agreement.key} version 1 was already recorded."
    )
    site.world.session.rollback()
    approvals_done = site.world.session.exec(
        select(Task.id).where(
            Task.agreement_id == agreement.id, Task.kind == "approval", Task.state == "completed"
        )
    ).all()
    assert len(approvals_done) == 1
    bodies = site.world.session.exec(
        select(AuditEvent.body).where(
            AuditEvent.agreement_id == agreement.id, AuditEvent.action == "task.completed"
        )
    ).all()
    decided = [b for b in bodies if json.loads(b)["data"]["task_id"] == approvals_done[0]]
    assert len(decided) == 1
    context.close()


def test_a_business_owner_approves_two_versions_at_once_each_audited(
    page: Page, site: Site, request: pytest.FixtureRequest
) -> None:
    first, second = _in_approval(site), _in_approval(site)
    sign_in(page, site.email(C, Role.BUSINESS_OWNER))
    expect(page.locator("#approval-count")).to_have_text("2")
    page.get_by_role("checkbox", name=f"Choose {first.key} version 1").check()
    page.get_by_role("checkbox", name=f"Choose {second.key} version 1").check()
    page.get_by_role("button", name="Approve the chosen versions…").click()

    # The list is confirmed on a second page; nothing is recorded before.
    expect(page.get_by_role("heading", name="Approve 2 versions?")).to_be_visible()
    expect(page.locator("#to-approve")).to_contain_text(first.key)
    expect(page.locator("#to-approve")).to_contain_text(second.key)
    assert _state(site, first) == _state(site, second) == "approval"
    screenshot(page, "approval-bulk-confirm", request)
    page.get_by_role("button", name="Confirm: Approve 2").click()

    expect(page).to_have_url(re.compile(r"/approvals$"))
    expect(page.get_by_role("status")).to_have_text(
        f"You approved {first.key} version 1, {second.key} version 1."
    )
    expect(page.locator("#approval-count")).to_have_text("0")
    owner = site.world.who(C, Role.BUSINESS_OWNER).user_id
    site.world.session.rollback()  # what the server committed
    for agreement in (first, second):
        events = site.world.session.exec(
            select(AuditEvent).where(
                AuditEvent.agreement_id == agreement.id, AuditEvent.action == "task.completed"
            )
        ).all()
        approvals = [json.loads(e.body)["data"] for e in events if e.actor_id == owner]
        assert [d["outcome"] for d in approvals] == ["approved"]  # one event per approval


def test_approving_none_or_a_decided_one_changes_nothing(page: Page, site: Site) -> None:
    first, second = _in_approval(site), _in_approval(site)
    sign_in(page, site.email(C, Role.BUSINESS_OWNER))
    page.get_by_role("button", name="Approve the chosen versions…").click()
    expect(page.get_by_role("status")).to_contain_text("Tick the approvals you want to give first.")
    page.get_by_role("checkbox", name=f"Choose {first.key} version 1").check()
    page.get_by_role("button", name="Approve the chosen versions…").click()
    # Meanwhile, it is approved elsewhere (another tab): confirming records nothing twice.
    site.world.complete(
        next(
            t
            for t in site.world.open_tasks(first, "approval")
            if (t.side, t.role) == (C.value, Role.BUSINESS_OWNER.value)
        ),
        "approved",
    )
    page.get_by_role("button", name="Confirm: Approve 1").click()
    expect(page.get_by_role("status")).to_contain_text("already decided")
    assert _state(site, second) == "approval"


def test_a_forged_bulk_form_is_refused_field_by_field(site: Site, browser: Browser) -> None:
    """Ids out of range or too many of them: a 422 page, nothing recorded."""
    agreement = _in_approval(site)
    context = open_context(browser, site)
    page = context.new_page()
    sign_in(page, site.email(C, Role.BUSINESS_OWNER))
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token is not None
    for ids in (["2147483648"], [str(n) for n in range(1, 60)]):
        answer = page.request.post(
            "/approvals/bulk",
            data=urlencode({"csrf_token": token, "task": ids}, doseq=True),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            max_redirects=0,
        )
        assert answer.status == 422, ids
    assert _state(site, agreement) == "approval"
    context.close()
