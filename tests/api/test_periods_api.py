"""The reporting cycle over HTTP (api.md: periods), on both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from notifications.render import Reason, RecipientInfo, render
from states import Role
from tests.api.conftest import Api
from tests.api.flows import outsider
from tests.helpers import C, P
from tests.workflow.commands.test_periods import DEC_1, NOVEMBER
from tests.workflow.test_compliance_sql import store
from workflow import commands
from workflow.models import Agreement, OutboxMessage

PERIODS = "/api/v1/slas/{}/periods"


def _reporting(api: Api) -> Agreement:
    agreement = api.world.create()
    api.world.to_active(agreement)
    assert agreement.id is not None
    store(api.world.session, agreement.id, NOVEMBER)
    commands.open_due_periods(api.world.session, now=DEC_1)
    api.clock[0] = DEC_1
    return agreement


def test_a_dispute_round_over_http(api: Api) -> None:
    agreement = _reporting(api)
    base = PERIODS.format(agreement.id)
    listed = api.client.get(base, headers=api.auth(C, Role.BUSINESS_OWNER))
    assert listed.status_code == 200
    assert listed.json()["next_cursor"] is None
    [period] = listed.json()["items"]
    assert (period["period"], period["state"], period["due_on"]) == (
        "2026-11",
        "open",
        "2026-12-10",
    )
    assert period["next_events"] == ["submit"]

    # The customer may not submit: 403 as a problem naming whose task it is.
    refused = api.client.post(
        f"{base}/2026-11/events/submit", headers=api.auth(C, Role.FUNCTIONAL_LEAD)
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "provider Program Manager" in refused.json()["detail"]

    submitted = api.client.post(
        f"{base}/2026-11/events/submit", headers=api.auth(P, Role.PROGRAM_MANAGER)
    )
    assert submitted.status_code == 200
    body = submitted.json()
    assert (body["state"], body["round"]) == ("submitted", 1)
    assert {m["key"] for m in body["results"]["metrics"]} >= {"proper-payments", "prompt-payment"}

    # Submitting twice: 409 with the state and what this caller may do now.
    again = api.client.post(
        f"{base}/2026-11/events/submit", headers=api.auth(P, Role.PROGRAM_MANAGER)
    )
    assert again.status_code == 409
    assert again.json()["current_state"] == "submitted"
    assert again.json()["allowed_events"] == []

    bad = api.client.post(
        f"{base}/2026-11/events/dispute",
        json={"disputes": [{"metric": "no-such-metric", "reason": "?"}]},
        headers=api.auth(C, Role.FUNCTIONAL_LEAD),
    )
    assert bad.status_code == 409
    assert "'no-such-metric' is not a metric of this period's results" in bad.json()["reasons"]
    empty_reason = api.client.post(
        f"{base}/2026-11/events/dispute",
        json={"disputes": [{"metric": "proper-payments", "reason": ""}]},
        headers=api.auth(C, Role.FUNCTIONAL_LEAD),
    )
    assert empty_reason.status_code == 422

    disputed = api.client.post(
        f"{base}/2026-11/events/dispute",
        json={"disputes": [{"metric": "proper-payments", "reason": "Late data"}]},
        headers=api.auth(C, Role.FUNCTIONAL_LEAD),
    )
    assert disputed.status_code == 200
    detail = disputed.json()
    assert detail["state"] == "disputed"
    assert detail["open_disputes"] == 1
    assert detail["disputes"][0]["metric"] == "proper-payments"
    assert detail["disputes"][0]["raised_by"]["name"]

    resubmitted = api.client.post(
        f"{base}/2026-11/events/resubmit",
        json={"comment": "Checked again: the figure stands."},
        headers=api.auth(P, Role.PROGRAM_MANAGER),
    )
    assert resubmitted.json()["state"] == "resubmitted"
    assert resubmitted.json()["disputes"][0]["answer"] == "Checked again: the figure stands."

    accepted = api.client.post(
        f"{base}/2026-11/events/accept", headers=api.auth(C, Role.FUNCTIONAL_LEAD)
    )
    assert accepted.status_code == 200
    final = accepted.json()
    assert final["state"] == "final"
    assert final["final_hash"] == final["results_hash"]
    assert {t["kind"] for t in final["tasks"]} >= {"submit_results", "corrective_action"}

    amended = api.client.post(
        f"{base}/2026-11/amendments",
        json={"reason": "late data"},
        headers=api.auth(P, Role.PROGRAM_MANAGER),
    )
    # An amendment is proposed to the customer and made when the customer accepts it.
    assert amended.status_code == 202, amended.text
    proposal = amended.json()
    assert (proposal["kind"], proposal["state"]) == ("amendment", "open")
    accept = api.client.post(
        f"/api/v1/proposals/{proposal['id']}/accept",
        json={"comment": "agreed"},
        headers=api.auth(C, Role.FUNCTIONAL_LEAD),
    )
    assert accept.status_code == 200, accept.text
    history = api.client.get(f"{base}/2026-11", headers=api.auth(P, Role.PROGRAM_MANAGER))
    assert history.json()["amendment_history"][0]["number"] == 1
    assert api.world.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "period.final")
    ).one()


def test_the_periods_list_is_paginated_newest_first(api: Api) -> None:
    agreement = _reporting(api)
    # Three months later, December, January and February have ended too.
    commands.open_due_periods(api.world.session, now=DEC_1 + timedelta(days=92))
    base = PERIODS.format(agreement.id)
    owner = api.auth(C, Role.BUSINESS_OWNER)

    first = api.client.get(base, params={"limit": 3, "cursor": ""}, headers=owner).json()
    assert [p["period"] for p in first["items"]] == ["2027-02", "2027-01", "2026-12"]
    rest = api.client.get(
        base, params={"limit": 3, "cursor": first["next_cursor"]}, headers=owner
    ).json()
    assert ([p["period"] for p in rest["items"]], rest["next_cursor"]) == (["2026-11"], None)

    refused = api.client.get(base, params={"cursor": "bm90IGEgbGlzdA"}, headers=owner)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"field": "cursor", "message": "not a cursor"}]


def test_periods_are_hidden_from_strangers_and_labels_are_checked(api: Api) -> None:
    agreement = _reporting(api)
    base = PERIODS.format(agreement.id)
    stranger = outsider(api)
    assert api.client.get(base, headers=stranger).status_code == 404
    assert api.client.get(f"{base}/2026-11", headers=stranger).status_code == 404
    assert api.client.post(f"{base}/2026-11/events/submit", headers=stranger).status_code == 404
    assert (
        api.client.get(f"{base}/2026-13", headers=api.auth(C, Role.BUSINESS_OWNER)).status_code
        == 422
    )
    missing = api.client.get(f"{base}/2026-10", headers=api.auth(C, Role.BUSINESS_OWNER))
    assert missing.status_code == 404
    assert "periods open when they end" in missing.json()["detail"]


def test_the_final_report_email_renders_with_its_grid(api: Api) -> None:
    agreement = _reporting(api)
    base = PERIODS.format(agreement.id)
    api.client.post(f"{base}/2026-11/events/submit", headers=api.auth(P, Role.PROGRAM_MANAGER))
    api.client.post(f"{base}/2026-11/events/accept", headers=api.auth(C, Role.FUNCTIONAL_LEAD))
    message = api.world.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "period.final")
    ).one()
    rendered = render(
        "period.final",
        message.payload,
        RecipientInfo("Ann Lee", "ann@example.com", Reason.ROLE_HOLDER),
        base_url="http://127.0.0.1:8000",
    )
    assert rendered.subject.startswith(f"[{agreement.key}] Final report for 2026-11")
    # Each line names the metric and writes its figures at the metric's precision with its unit.
    assert (
        "Commercial invoices paid within 30 calendar days after receipt 2026-11: "
        "missed (actual 97.00%, target 98.0%)"
    ) in rendered.text
    assert "invoice-payment-timeliness" not in rendered.text
    assert "Commercial invoices paid within 30 calendar days" in rendered.html
    assert rendered.link == f"http://127.0.0.1:8000/slas/{agreement.id}/periods/2026-11"


def test_period_tasks_are_listed_and_completed_like_any_task(api: Api) -> None:
    agreement = _reporting(api)
    mine = api.client.get(
        "/api/v1/tasks?assignee=me&state=open", headers=api.auth(P, Role.PROGRAM_MANAGER)
    )
    assert mine.status_code == 200
    [task] = [t for t in mine.json()["items"] if t["kind"] == "submit_results"]
    assert task["outcomes"] == ["done"]
    assert task["due_on"] == "2026-12-10"
    done = api.client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"outcome": "done"},
        headers=api.auth(P, Role.PROGRAM_MANAGER),
    )
    assert done.status_code == 200
    period = api.client.get(
        f"{PERIODS.format(agreement.id)}/2026-11", headers=api.auth(C, Role.FUNCTIONAL_LEAD)
    ).json()
    assert period["state"] == "submitted"
    reviews = api.client.get(
        "/api/v1/tasks?assignee=me&kind=review_results", headers=api.auth(C, Role.FUNCTIONAL_LEAD)
    )
    assert reviews.status_code == 200
    assert [t["outcomes"] for t in reviews.json()["items"]] == [
        ["accepted", "disputed", "accepted_with_exceptions"]
    ]
