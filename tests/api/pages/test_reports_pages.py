"""The Reports pages: periods, one period's report and its actions over HTTP; one in Chromium."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlmodel import select

from states import Role, Side
from tests.api.pages.conftest import (
    CSRF_FIELD,
    PASSWORD,
    Client,
    Site,
    outsider_of_another_organisation,
    screenshot,
)
from tests.helpers import C, P, World
from tests.proposals import accept
from tests.workflow.commands.test_periods import DEC_1, NOVEMBER
from tests.workflow.test_compliance_sql import store
from workflow import commands
from workflow.calendar import local_date
from workflow.models import (
    Agreement,
    Measurement,
    PeriodDispute,
    Proposal,
    ReportingPeriod,
    Task,
)

PERIOD = "2026-11"


def _reporting(world: World) -> Agreement:
    """The example SLA active since 2 November, with November's data, its period open."""
    agreement = world.create()
    world.to_active(agreement)
    assert agreement.id is not None
    store(world.session, agreement.id, NOVEMBER)
    world.now = DEC_1
    commands.open_due_periods(world.session, now=DEC_1)
    return agreement


def _path(agreement: Agreement) -> str:
    return f"/slas/{agreement.id}/periods/{PERIOD}"


def _post(client: TestClient, path: str, data: dict[str, Any]) -> Any:
    page = client.get(
        path.rsplit("/events", 1)[0].rsplit("/amendments", 1)[0].rsplit("/corrections", 1)[0]
    )
    token = CSRF_FIELD.search(page.text)
    assert token is not None
    return client.post(path, data={**data, "csrf_token": token[1]}, follow_redirects=False)


def _state(world: World, agreement: Agreement) -> ReportingPeriod:
    world.session.rollback()
    return world.session.exec(
        select(ReportingPeriod).where(
            ReportingPeriod.agreement_id == agreement.id, ReportingPeriod.period == PERIOD
        )
    ).one()


def _email(world: World, side: Side, role: Role) -> str:
    return world.who(side, role).email


def test_the_periods_list_is_empty_until_a_period_ends(world: World, signed_in: Client) -> None:
    agreement = world.create()
    world.to_active(agreement)
    world.now = DEC_1  # sessions expire: sign in at the story's time
    client = signed_in(_email(world, P, Role.PROGRAM_MANAGER))
    page = client.get(f"/slas/{agreement.id}/periods")
    assert page.status_code == 200
    assert "Periods open the day after they end" in page.text
    commands.open_due_periods(world.session, now=DEC_1)
    listed = client.get(f"/slas/{agreement.id}/periods")
    assert f'href="/slas/{agreement.id}/periods/{PERIOD}"' in listed.text
    assert "10 Dec 2026" in listed.text


def test_the_whole_cycle_through_the_pages(world: World, signed_in: Client) -> None:
    agreement = _reporting(world)
    path = _path(agreement)
    provider = signed_in(_email(world, P, Role.PROGRAM_MANAGER))
    customer = signed_in(_email(world, C, Role.FUNCTIONAL_LEAD))

    # Only the task holder sees the action; the customer sees no results yet.
    before = customer.get(path)
    assert before.status_code == 200
    assert "Not submitted yet" in before.text
    assert "/events/submit" not in before.text
    page = provider.get(path)
    assert "/events/submit" in page.text
    assert "style-src 'self' 'unsafe-inline'" in page.headers["content-security-policy"]

    # The customer may not submit: refused plainly, nothing changes.
    refused = _post(customer, f"{path}/events/submit", {})
    assert refused.status_code == 403
    assert "provider Program Manager" in refused.text
    assert _state(world, agreement).state == "open"

    submitted = _post(provider, f"{path}/events/submit", {})
    assert submitted.status_code == 303
    assert submitted.headers["location"] == path
    shown = provider.get(path)
    assert f"You submitted the results of {PERIOD}." in shown.text
    assert "Status by window" in shown.text  # the report's grid
    assert "2026-06-01 to 2026-11-30, as recorded when this report was made." in shown.text  # trend
    assert "Proper Payments" in shown.text or "proper-payments" in shown.text
    assert _state(world, agreement).state == "submitted"

    # A dispute naming no metric is refused with a message.
    page = customer.get(path)
    assert 'name="metric" value="proper-payments"' in page.text
    empty = _post(
        customer, f"{path}/events/dispute", {"metric_key": ["proper-payments"], "reason": [""]}
    )
    assert empty.status_code == 422
    assert "Choose at least one metric" in empty.text
    no_reason = _post(
        customer,
        f"{path}/events/dispute",
        {"metric": ["proper-payments"], "metric_key": ["proper-payments"], "reason": [" "]},
    )
    assert no_reason.status_code == 422
    assert "Say why you dispute Proper payments, excluding customer errors." in no_reason.text
    assert _state(world, agreement).state == "submitted"

    keys = ["prompt-payment", "proper-payments"]
    disputed = _post(
        customer,
        f"{path}/events/dispute",
        {"metric": ["proper-payments"], "metric_key": keys, "reason": ["", "Late data."]},
    )
    assert disputed.status_code == 303
    assert _state(world, agreement).state == "disputed"
    world.session.rollback()
    [dispute] = world.session.exec(select(PeriodDispute)).all()
    assert (dispute.metric_key, dispute.reason) == ("proper-payments", "Late data.")
    assert "Late data." in customer.get(path).text

    # Accepting now is not allowed: the refusal is on the page, not a 500.
    wrong = _post(customer, f"{path}/events/accept", {})
    assert wrong.status_code == 409
    assert "Period 2026-11 cannot be accepted now: it is disputed" in " ".join(wrong.text.split())

    resubmitted = _post(provider, f"{path}/events/resubmit", {"comment": "Checked again."})
    assert resubmitted.status_code == 303
    assert _state(world, agreement).state == "resubmitted"
    assert "Checked again." in provider.get(path).text

    accepted = _post(customer, f"{path}/events/accept", {})
    assert accepted.status_code == 303
    period = _state(world, agreement)
    assert period.state == "final"
    assert period.final_hash is not None
    final = customer.get(path)
    assert f"You accepted the results of {PERIOD}." in final.text
    assert period.final_hash in final.text
    assert "state-final" in final.text
    listed = customer.get(f"/slas/{agreement.id}/periods")
    assert period.final_hash[:12] in listed.text

    # A final report is amended with a reason.
    no_reason = _post(customer, f"{path}/amendments", {"reason": ""})
    assert no_reason.status_code == 422
    amended = _post(customer, f"{path}/amendments", {"reason": "A late upload."})
    assert amended.status_code == 303
    # It is proposed to the provider; once the provider accepts, the amendment is made.
    assert amended.headers["location"].startswith("/proposals/")
    assert "Amendment 1" not in customer.get(path).text
    world.session.rollback()
    accept(world, world.session.exec(select(Proposal)).one())
    assert "Amendment 1: A late upload." in customer.get(path).text


def test_the_csv_download_has_the_header_row(world: World, signed_in: Client) -> None:
    agreement = _reporting(world)
    provider = signed_in(_email(world, P, Role.PROGRAM_MANAGER))
    csv_path = f"{_path(agreement)}.csv"
    early = provider.get(csv_path, follow_redirects=False)
    assert early.status_code == 303  # nothing submitted yet
    assert _post(provider, f"{_path(agreement)}/events/submit", {}).status_code == 303
    answer = provider.get(csv_path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="{agreement.key}-{PERIOD}.csv"'
    )
    assert answer.text.splitlines()[0].startswith("metric,name,unit,window,kind")
    assert "proper-payments" in answer.text


def test_my_tasks_leads_period_work_to_the_period_page(world: World, signed_in: Client) -> None:
    agreement = _reporting(world)
    provider = signed_in(_email(world, P, Role.PROGRAM_MANAGER))
    period_link = f'href="{_path(agreement)}"'
    mine = provider.get("/tasks").text
    assert period_link in mine
    assert f"Open period {PERIOD}" in mine
    assert _post(provider, f"{_path(agreement)}/events/submit", {}).status_code == 303
    review = signed_in(_email(world, C, Role.FUNCTIONAL_LEAD)).get("/tasks").text
    # Accepting finalises and mails both sides, a dispute names metrics: both are decided on
    # the period page, with the results in view, never in one click from the list.
    assert f'href="{_path(agreement)}#actions-title"' in review
    assert 'value="accepted"' not in review
    assert 'value="disputed"' not in review


def test_a_stranger_gets_not_found(world: World, signed_in: Client) -> None:
    agreement = _reporting(world)
    outsider = outsider_of_another_organisation(world)
    client = signed_in(outsider.email)
    base = f"/slas/{agreement.id}/periods"
    for path in (base, f"{base}/{PERIOD}", f"{base}/{PERIOD}.csv", f"{base}/2030-01"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert agreement.key not in answer.text
    party = signed_in(_email(world, C, Role.FUNCTIONAL_LEAD))
    assert party.get(f"{base}/2030-01").status_code == 404
    refused = client.post(
        f"{base}/{PERIOD}/events/submit",
        data={"csrf_token": CSRF_FIELD.search(client.get("/tasks").text)[1]},  # type: ignore[index]
    )
    assert refused.status_code == 404


def test_the_customer_disputes_in_the_browser(
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
    # Straight to the period: /tasks cannot show a period's task yet (KeyError 'review_results').
    page.goto(f"/signin?next={_path(agreement)}")
    page.get_by_label("Email").fill(site.email(C, Role.FUNCTIONAL_LEAD))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(f"{_path(agreement)}$"))
    # Each metric's result is on the first screen, with the decision right under it.
    glance = page.locator("#glance")
    expect(glance.locator("#glance-proper-payments")).to_contain_text("missed")
    expect(glance.locator("#glance-proper-payments")).to_contain_text("charged to the provider")
    decide = page.get_by_role("button", name="Accept…", exact=True)
    box, screen = decide.bounding_box(), page.viewport_size
    assert box is not None
    assert screen is not None
    assert box["y"] + box["height"] <= screen["height"], box
    page.get_by_text("Dispute named metrics…").click()
    form = page.get_by_role("form", name="Dispute")
    form.get_by_role("button", name="Dispute").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose at least one metric")
    form = page.get_by_role("form", name="Dispute")
    form.locator("#dispute-proper-payments").check()
    form.locator("#reason-proper-payments").fill("Our data arrived late on the 28th.")
    screenshot(page, "period-dispute", request)
    form.get_by_role("button", name="Dispute").click()
    expect(page.get_by_role("status")).to_have_text(f"You disputed the results of {PERIOD}.")
    expect(page.get_by_role("region", name="Disputes")).to_contain_text(
        "Our data arrived late on the 28th."
    )
    # ... and next to its metric, where the provider will answer it.
    expect(page.locator("#glance-proper-payments")).to_contain_text(
        "Our data arrived late on the 28th."
    )
    screenshot(page, "period-disputed", request)
    assert _state(world, agreement).state == "disputed"


def test_submitting_and_accepting_are_confirmed_on_a_second_page(
    world: World, signed_in: Client
) -> None:
    """Issue 11, defect 3: the decisions that send reports and open tasks are never one click."""
    agreement = _reporting(world)
    path = _path(agreement)
    provider = signed_in(_email(world, P, Role.PROGRAM_MANAGER))
    customer = signed_in(_email(world, C, Role.FUNCTIONAL_LEAD))

    # My tasks links the period instead of submitting from the list.
    tasks = provider.get("/tasks").text
    assert f'href="{path}#actions-title"' in tasks
    assert 'name="outcome" value="done"' not in tasks.split("Submit the period", 1)[1][:2000]

    # The period page's button asks first; the confirmation says what follows.
    assert f'action="{path}/events/submit/confirm"' in provider.get(path).text
    asked = _post(provider, f"{path}/events/submit/confirm", {})
    assert asked.status_code == 200
    assert "sent to the customer's Functional Lead" in " ".join(asked.text.split())
    assert f'action="{path}/events/submit"' in asked.text
    assert _state(world, agreement).state == "open"  # nothing happened yet

    # Someone who may not submit is told so on the period page.
    refused = _post(customer, f"{path}/events/submit/confirm", {})
    assert refused.status_code == 409
    assert "You may not submit results 2026-11 now" in refused.text

    assert _post(provider, f"{path}/events/submit", {}).status_code == 303
    asked = _post(customer, f"{path}/events/accept/confirm", {})
    assert asked.status_code == 200
    said = " ".join(asked.text.split())
    assert "the final report is mailed to every stakeholder" in said
    assert "corrective action for each unexcused miss, owned by the side it is charged" in said
    # November's unexcused miss, by the metric's name and figures at its precision.
    assert "Commercial invoices paid within 30 calendar days after receipt in 2026-11" in said
    assert _state(world, agreement).state == "submitted"
    assert _post(customer, f"{path}/events/accept", {}).status_code == 303
    assert _state(world, agreement).state == "final"
    # The final period lists its corrective actions, each with its side and state.
    table = provider.get(path).text.split('id="corrective-actions"')[1].split("</table>")[0]
    assert "Commercial invoices paid within 30 calendar days after receipt" in table
    assert "provider" in table
    assert "open" in table


def test_the_period_page_says_who_each_shortfall_is_charged_to_and_flags_a_late_submission(
    world: World, signed_in: Client
) -> None:
    agreement = _reporting(world)
    world.now = DEC_1.replace(day=14)  # four days after the reporting day
    commands.fire_period_event(
        world.session,
        actor=world.who(P, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id or 0,
        period=PERIOD,
        event="submit",
        now=world.tick(),
    )
    client = signed_in(_email(world, C, Role.FUNCTIONAL_LEAD))
    page = client.get(_path(agreement)).text
    assert 'id="late"' in page
    assert "submitted late" in page
    charges = page.split("Who each shortfall is charged to", 1)[1].split("</ul>", 1)[0]
    # November: two provider misses, and the customer's own metric without data
    assert re.search(
        r"invoices paid[^<]*, 2026-11: <span[^>]*>missed</span>: 97\.00% against 98\.0%", charges
    )
    assert "charged to <strong>the provider</strong>" in charges
    assert re.search(
        r"2026-11: <span[^>]*>missing data</span> · charged to <strong>the "
        r"customer</strong>",
        charges,
    )
    assert "Charged to the provider: 2 · to the customer: 1" in page


def test_a_correction_in_a_dispute_shows_old_to_new_on_the_period_page(
    world: World, signed_in: Client
) -> None:
    agreement = _reporting(world)
    path = _path(agreement)
    provider = signed_in(_email(world, P, Role.PROGRAM_MANAGER))
    customer = signed_in(_email(world, C, Role.FUNCTIONAL_LEAD))
    assert _post(provider, f"{path}/events/submit", {}).status_code == 303
    under_review = _post(
        provider,
        f"{path}/corrections",
        {
            "metric": "proper-payments",
            "observed_at": "2026-11-12T00:00:00-05:00",
            "value": "99.7",
            "reason": "full file",
        },
    )
    assert under_review.status_code == 409
    assert "2026-11 is submitted" in under_review.text
    disputed = _post(
        customer,
        f"{path}/events/dispute",
        {"metric": ["proper-payments"], "metric_key": ["proper-payments"], "reason": ["short"]},
    )
    assert disputed.status_code == 303
    unknown = _post(
        provider,
        f"{path}/corrections",
        {
            "metric": "proper-payments",
            "observed_at": "2026-11-13T00:00:00-05:00",
            "value": "99.7",
            "reason": "full file",
        },
    )
    assert unknown.status_code == 422
    assert "no observation of &#39;proper-payments&#39;" in unknown.text
    corrected = _post(
        provider,
        f"{path}/corrections",
        {
            "metric": "proper-payments",
            "observed_at": "2026-11-12T00:00:00-05:00",
            "value": "99.7",
            "reason": "full file reloaded",
        },
    )
    assert corrected.status_code == 303
    page = provider.get(path)
    assert re.search(r"99\.0\s*→\s*99\.7", page.text)
    assert "full file reloaded" in page.text
    resubmitted = _post(provider, f"{path}/events/resubmit", {"comment": "Reloaded."})
    assert resubmitted.status_code == 303
    shown = customer.get(path)
    assert 'id="resubmission-changes"' in shown.text
    assert re.search(r"99\.0 \(missed\).*?→ 99\.7 \(met\)", shown.text, re.S)
    assert 'id="accept-with-exceptions"' in shown.text


def test_the_customer_accepts_with_exceptions_on_the_page(world: World, signed_in: Client) -> None:
    agreement = _reporting(world)
    path = _path(agreement)
    provider = signed_in(_email(world, P, Role.PROGRAM_MANAGER))
    customer = signed_in(_email(world, C, Role.FUNCTIONAL_LEAD))
    _post(provider, f"{path}/events/submit", {})
    no_reason = _post(
        customer,
        f"{path}/events/accept_with_exceptions",
        {"metric": ["proper-payments"], "metric_key": ["proper-payments"], "reason": [""]},
    )
    assert no_reason.status_code == 422
    assert "Say why Proper payments, excluding customer errors is an exception." in no_reason.text
    done = _post(
        customer,
        f"{path}/events/accept_with_exceptions",
        {
            "metric": ["proper-payments"],
            "metric_key": ["proper-payments"],
            "reason": ["We still think it was met."],
        },
    )
    assert done.status_code == 303
    assert _state(world, agreement).state == "final"
    page = customer.get(path)
    assert 'id="exceptions"' in page.text
    assert "We still think it was met." in page.text
    assert "on the next service review's agenda" in page.text


def _upload(client: TestClient, agreement: Agreement, content: bytes, name: str = "n.csv") -> Any:
    page = client.get(_path(agreement))
    token = CSRF_FIELD.search(page.text)
    assert token is not None
    return client.post(
        f"{_path(agreement)}/measurements:csv",
        data={"csrf_token": token[1]},
        files={"file": (name, content, "text/csv")},
        follow_redirects=False,
    )


def _stored(world: World, agreement: Agreement, metric: str) -> list[float]:
    world.session.rollback()
    return list(
        world.session.exec(
            select(Measurement.value).where(
                Measurement.agreement_id == agreement.id, Measurement.metric_key == metric
            )
        )
    )


def test_measurements_are_uploaded_on_the_period_page_with_each_refused_row_named(
    world: World, signed_in: Client
) -> None:
    agreement = _reporting(world)
    before = len(_stored(world, agreement, "proper-payments"))
    provider = signed_in(_email(world, P, Role.PROGRAM_MANAGER))
    csv = (
        b"metric,observed_at,value\n"
        b"proper-payments,2026-11-30T10:00:00-05:00,99.9\n"
        b"no-such-metric,2026-11-30T10:00:00-05:00,1\n"
        b"proper-payments,2026-11-30T11:00:00-05:00,not a number\n"
    )
    answer = _upload(provider, agreement, csv)
    assert answer.status_code == 200
    result = answer.text.split('id="upload-result"', 1)[1].split("</div>", 1)[0]
    assert "1 observation stored" in result
    assert "2 rows refused" in result
    assert "Line 3 (no-such-metric)" in result
    assert "Line 4 (Proper payments, excluding customer errors)" in result
    assert len(_stored(world, agreement, "proper-payments")) == before + 1

    # The same file again stores nothing twice.
    again = _upload(provider, agreement, csv).text.split('id="upload-result"', 1)[1]
    assert "0 observations stored</strong>, 1 already there" in again
    assert len(_stored(world, agreement, "proper-payments")) == before + 1


def test_a_bad_upload_stores_nothing_and_says_why(world: World, signed_in: Client) -> None:
    agreement = _reporting(world)
    before = len(_stored(world, agreement, "proper-payments"))
    provider = signed_in(_email(world, P, Role.PROGRAM_MANAGER))
    header = _upload(provider, agreement, b"metric,when,value\nproper-payments,x,1\n")
    assert header.status_code == 422
    assert "Nothing imported" in header.text
    assert "unknown column" in header.text
    reviewer = signed_in(_email(world, C, Role.FUNCTIONAL_LEAD))
    refused = _upload(reviewer, agreement, b"metric,observed_at,value\n")
    assert refused.status_code == 403
    assert len(_stored(world, agreement, "proper-payments")) == before


def _decide(client: TestClient, path: str, data: dict[str, Any]) -> Any:
    token = CSRF_FIELD.search(client.get(path).text)
    assert token is not None
    return client.post(
        f"{path}/decision", data={**data, "csrf_token": token[1]}, follow_redirects=False
    )


def test_both_sponsors_decide_an_escalated_dispute_on_the_period_page(
    world: World, signed_in: Client
) -> None:
    agreement = world.create(dispute_escalation_rounds=1)
    world.to_active(agreement)
    assert agreement.id is not None
    store(world.session, agreement.id, NOVEMBER)
    world.now = DEC_1
    commands.open_due_periods(world.session, now=DEC_1)
    commands.fire_period_event(
        world.session,
        actor=world.who(P, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,
        period=PERIOD,
        event="submit",
        now=world.tick(),
    )
    commands.fire_period_event(
        world.session,
        actor=world.who(C, Role.FUNCTIONAL_LEAD),
        agreement_id=agreement.id,
        period=PERIOD,
        event="dispute",
        now=world.tick(),
        disputes=[{"metric": "proper-payments", "reason": "Late data."}],
    )
    assert _state(world, agreement).state == "escalated"
    path = _path(agreement)

    # Nobody else is offered the decision, and a Sponsor must choose and explain a sustain.
    reviewer = signed_in(_email(world, C, Role.FUNCTIONAL_LEAD))
    assert "Your decision as Executive Sponsor" not in reviewer.get(path).text
    assert _decide(reviewer, path, {"outcome": "upheld"}).status_code == 409
    customer = signed_in(_email(world, C, Role.EXECUTIVE_SPONSOR))
    shown = customer.get(path).text
    assert "Your decision as Executive Sponsor" in shown
    assert f'action="{path}/decision"' in shown
    assert "Late data." in shown.split('id="glance"', 1)[1]  # next to its metric
    unexplained = _decide(customer, path, {"outcome": "sustained"})
    assert unexplained.status_code == 422
    assert "Say why you sustain the dispute." in unexplained.text

    # The provider's Sponsor is away: their delegate decides for them, on the same page.
    sponsor, stand_in = world.who(P, Role.EXECUTIVE_SPONSOR), world.who(P, Role.BUSINESS_OWNER)
    today = local_date(world.now)
    commands.create_delegation(
        world.session,
        actor=sponsor,
        delegate_id=stand_in.user_id,
        starts_on=today,
        ends_on=today + timedelta(days=7),
        now=world.tick(),
    )
    for client in (customer, signed_in(stand_in.email)):
        done = _decide(client, path, {"outcome": "upheld", "comment": ""})
        assert done.status_code == 303
        assert done.headers["location"] == path
    final = _state(world, agreement)
    assert final.state == "final"
    assert final.final_hash is not None
    world.session.rollback()
    decided = world.session.exec(
        select(Task).where(Task.kind == "dispute_decision", Task.side == P.value)
    ).one()
    assert (decided.completed_by_id, decided.on_behalf_of_id) == (
        stand_in.user_id,
        sponsor.user_id,
    )
