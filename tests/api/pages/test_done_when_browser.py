"""Issue 11's "done when", walked in Chromium on both databases, a screenshot at each walk's
key step (under $ACCORD_SCREENSHOTS, see conftest.py): the email's link to the approval, the
review's diff, a dispute seen next to its metric by the provider, decision emails switched off
but task emails still arriving, and an auditor's verified chain and certificate.

Emails go through a real SMTP server on loopback, rendered with the served site's address, so
that the links followed are the ones a person would click.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import Engine

from notifications.digest import compile_digests
from notifications.dispatch import dispatch_pending
from notifications.emails import template_renderer, template_summary
from notifications.senders import SmtpSender
from states import Role
from tests.api.pages.conftest import PASSWORD, Site, open_context, screenshot, sign_in
from tests.api.pages.test_accessibility_browser import revision_in_review
from tests.api.pages.test_audit_browser import customer_auditor
from tests.api.pages.test_reports_pages import PERIOD, _path, _reporting, _state
from tests.helpers import C, P
from tests.notifications.smtp import HOST, Mailbox, smtp_server
from tests.notifications.test_preferences import is_task, plain, to
from workflow import commands

Post = tuple[Mailbox, int]


@pytest.fixture
def post() -> Iterator[Post]:
    """The mailbox of an SMTP server on loopback, and its port."""
    box = Mailbox()
    with smtp_server(box) as controller:
        yield box, controller.port


def deliver(site: Site, engine: Engine, post: Post) -> list[EmailMessage]:
    """One dispatch of what is due now; what arrived in this round."""
    mailbox, port = post
    before = len(mailbox.received)
    counts = dispatch_pending(
        engine,
        sender=SmtpSender(HOST, port, timeout=5.0),
        renderer=template_renderer(sender="Accord <accord@accord.test>", base_url=site.base),
        now=site.world.tick(),
    )
    assert (counts.dead, counts.retrying) == (0, 0), counts
    return mailbox.messages()[before:]


def task_link(site: Site, mails: list[EmailMessage], recipient: str, subject: str) -> str:
    """The task link of the one email to `recipient` whose subject contains `subject`."""
    (mail,) = [m for m in mails if to(m) == recipient and subject in str(m["Subject"])]
    found = re.search(re.escape(site.base) + r"(/tasks/\d+)", plain(mail))
    assert found is not None, plain(mail)
    return found[1]


def saved(page: Page, name: str, request: pytest.FixtureRequest) -> Path:
    """The key step's screenshot, which must be on disk and not empty."""
    path = screenshot(page, f"done-when-{name}", request)
    assert path.is_file(), path
    assert path.stat().st_size > 0, path
    return path


def test_a_business_owner_follows_the_email_signs_in_and_approves(
    browser: Browser, site: Site, engine: Engine, post: Post, request: pytest.FixtureRequest
) -> None:
    world = site.world
    agreement = world.create()
    world.to_approval(agreement)
    owner = site.email(C, Role.BUSINESS_OWNER)
    link = task_link(site, deliver(site, engine, post), owner, "Approval needed")
    (task,) = [
        t
        for t in world.open_tasks(agreement, "approval")
        if (t.side, t.role) == (C.value, Role.BUSINESS_OWNER.value)
    ]
    assert link == f"/tasks/{task.id}"

    context = open_context(browser, site)  # signed out: a fresh profile
    page = context.new_page()
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Ftasks%2F\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sign in")
    saved(page, "a-signin-from-email", request)
    page.get_by_label("Email").fill(owner)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(rf"/approvals/{task.id}$"))
    expect(page.get_by_role("heading", name="Who else must approve")).to_be_visible()
    saved(page, "a-approval-after-signin", request)
    page.get_by_role("radio", name="Approve", exact=True).check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Confirm: Approve").click()
    expect(page.get_by_role("status")).to_have_text(f"You approved {agreement.key} version 1.")
    saved(page, "a-approved", request)
    context.close()
    world.session.rollback()  # what the server committed
    assert (task.state, task.outcome, task.completed_by_id) == (
        "completed",
        "approved",
        world.who(C, Role.BUSINESS_OWNER).user_id,
    )


def test_a_reviewer_opens_the_review_task_and_sees_what_changed(
    page: Page, site: Site, engine: Engine, post: Post, request: pytest.FixtureRequest
) -> None:
    world = site.world
    agreement = world.create()
    world.to_active(agreement)
    deliver(site, engine, post)  # version 1's mail: not this walk's
    revision_in_review(world, agreement)
    reviewer = site.email(C, Role.FUNCTIONAL_LEAD)
    link = task_link(site, deliver(site, engine, post), reviewer, "Review the draft")

    sign_in(page, reviewer)
    page.goto(link)
    expect(page).to_have_url(re.compile(rf"/slas/{agreement.id}/versions/2$"))
    page.get_by_role("link", name="What changed in version 2").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "What changed in version 2 since version 1"
    )
    terms = page.get_by_role("region", name="Terms")
    cost = terms.get_by_role("row", name=re.compile("^annual cost", re.I))
    expect(cost.locator("ins")).to_contain_text(re.compile(r"5,?577,?500"))  # raw or formatted
    metrics = page.get_by_role("region", name="Metrics")
    expect(metrics.locator("del", has_text="99.5")).to_be_visible()
    expect(metrics.locator("ins", has_text="99.7")).to_be_visible()
    saved(page, "b-review-diff", request)


def test_a_dispute_shows_next_to_its_metric_when_the_provider_resubmits(
    page: Page, site: Site, request: pytest.FixtureRequest
) -> None:
    world = site.world
    agreement = _reporting(world)
    assert agreement.id is not None
    commands.fire_period_event(
        world.session,
        actor=world.who(P, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,
        period=PERIOD,
        event="submit",
        now=world.tick(),
    )
    reason = "Our payment file arrived late on the 28th."
    sign_in(page, site.email(C, Role.FUNCTIONAL_LEAD))
    page.goto(_path(agreement))
    page.get_by_text("Dispute named metrics…").click()
    form = page.get_by_role("form", name="Dispute")
    form.locator("#dispute-proper-payments").check()
    form.locator("#reason-proper-payments").fill(reason)
    saved(page, "c-dispute", request)
    form.get_by_role("button", name="Dispute").click()
    expect(page.get_by_role("status")).to_have_text(f"You disputed the results of {PERIOD}.")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, site.email(P, Role.PROGRAM_MANAGER))
    page.goto(_path(agreement))
    # The reason sits in the disputed metric's row, and only there.
    expect(page.locator("#glance-proper-payments")).to_contain_text(reason)
    expect(page.locator("#glance tbody tr", has_text=reason)).to_have_count(1)
    resubmit = page.get_by_role("form", name="Resubmit")
    expect(resubmit.locator("#to-answer")).to_have_text(
        f"Proper payments, excluding customer errors: “{reason}”"
    )
    resubmit.get_by_label(re.compile("What you changed")).fill("Reloaded the full file.")
    saved(page, "c-provider-resubmits", request)
    resubmit.get_by_role("button", name="Resubmit").click()
    expect(page.get_by_role("status")).to_contain_text(PERIOD)
    assert _state(world, agreement).state == "resubmitted"


def test_decision_emails_switched_off_but_task_emails_still_arrive(
    page: Page, site: Site, engine: Engine, post: Post, request: pytest.FixtureRequest
) -> None:
    world = site.world
    agreement = world.create()
    lead = world.who(C, Role.FUNCTIONAL_LEAD)  # a reviewer of every draft
    sign_in(page, lead.email)
    page.goto("/notifications")
    page.get_by_role("group", name="Decisions on my agreements").get_by_role(
        "radio", name="Off"
    ).check()
    page.get_by_role("group", name="My tasks").get_by_role(
        "radio", name="In my daily digest"
    ).check()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("status")).to_have_text("Your notification choices are saved.")
    saved(page, "d-decisions-off", request)

    world.to_joint_review(agreement)  # a decision (joint review opened) and a review task
    now = deliver(site, engine, post)
    assert any(not is_task(m) and "Joint review" in str(m["Subject"]) for m in now)  # others'
    assert lead.email not in {to(m) for m in now}  # the lead chose the digest, and no decisions

    world.now += timedelta(days=1)
    compile_digests(engine, now=world.now, summarise=template_summary(base_url=site.base))
    mine = [m for m in deliver(site, engine, post) if to(m) == lead.email]
    assert len(mine) == 1, [str(m["Subject"]) for m in mine]
    text = plain(mine[0])
    assert "Review the draft" in text  # the task still reaches them
    assert "Joint review" not in text  # the decision does not


def test_an_auditor_verifies_the_chain_and_downloads_a_certificate(
    page: Page, site: Site, request: pytest.FixtureRequest
) -> None:
    world = site.world
    agreement = world.create()
    world.to_active(agreement)
    sign_in(page, customer_auditor(world))
    page.get_by_role("link", name="Audit").click()
    expect(page.locator("#verification")).to_contain_text("Chain verified")
    activated = page.locator("li.audit-event").filter(has_text="Accord activated version 1")
    activated.locator("summary").first.click()
    saved(page, "e-auditor-chain-verified", request)
    with page.expect_download() as waiting:
        activated.get_by_role("link", name="certificate of approval").click()
    download = waiting.value
    assert download.suggested_filename == f"{agreement.key}-v1-certificate.html"
    certificate = Path(download.path()).read_text(encoding="utf-8")
    assert "Certificate of approval" in certificate
    assert "Audit chain verified" in certificate
    assert world.version(agreement, 1).content_hash in certificate
    shown = page.context.new_page()
    shown.goto(f"/slas/{agreement.id}/versions/1/certificate.html")
    expect(shown.locator("#approvals tbody tr")).to_have_count(4)
    saved(shown, "e-certificate", request)
    shown.close()
