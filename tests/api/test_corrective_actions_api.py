"""Corrective action plans over HTTP (api.md, "Joint accountability"), on both databases."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from states import Role
from tests.api.conftest import Api
from tests.api.flows import outsider
from tests.helpers import C, P
from tests.workflow.commands.test_periods import DEC_1, NOVEMBER
from tests.workflow.test_compliance_sql import store
from workflow import commands

ACTIONS = "/api/v1/corrective-actions"
PM, FL = Role.PROGRAM_MANAGER, Role.FUNCTIONAL_LEAD


def _final_november(api: Api) -> int:
    world = api.world
    agreement = world.create()
    world.to_active(agreement)
    assert agreement.id is not None
    store(world.session, agreement.id, NOVEMBER)
    commands.open_due_periods(world.session, now=DEC_1)
    api.clock[0] = DEC_1
    base = f"/api/v1/slas/{agreement.id}/periods/2026-11/events"
    assert api.client.post(f"{base}/submit", headers=api.auth(P, PM)).status_code == 200
    assert api.client.post(f"{base}/accept", headers=api.auth(C, FL)).status_code == 200
    return agreement.id


def _plan(api: Api) -> dict[str, Any]:
    today = DEC_1.date()
    return {
        "root_cause": "Invoices keyed after the cut-off while the batch job was down",
        "actions": [
            {
                "description": "Page the on-call engineer when the batch fails",
                "owner_id": api.world.who(P, Role.TECHNICAL_LEAD).user_id,
                "due_on": (today + timedelta(days=10)).isoformat(),
            }
        ],
        "target_date": (today + timedelta(days=30)).isoformat(),
    }


def test_a_plan_from_submission_to_closure(api: Api) -> None:
    sla_id = _final_november(api)
    listed = api.client.get(ACTIONS, params={"sla_id": sla_id}, headers=api.auth(C, PM)).json()
    by_metric = {a["metric"]: a for a in listed["items"]}
    assert set(by_metric) == {"invoice-payment-timeliness", "proper-payments"}
    action = by_metric["invoice-payment-timeliness"]
    assert (action["side"], action["window"], action["state"], action["period"]) == (
        "provider",
        "2026-11",
        "open",
        "2026-11",
    )
    url = f"{ACTIONS}/{action['id']}"

    # The customer may not plan the provider's correction.
    refused = api.client.post(f"{url}/events/submit_plan", json=_plan(api), headers=api.auth(C, PM))
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "provider Program Manager" in refused.json()["detail"]
    # Not yet: there is no plan to accept.
    early = api.client.post(f"{url}/events/accept_plan", headers=api.auth(C, PM))
    assert early.status_code == 409
    assert early.json()["current_state"] == "open"

    submitted = api.client.post(
        f"{url}/events/submit_plan", json=_plan(api), headers=api.auth(P, PM)
    )
    assert submitted.status_code == 200
    body = submitted.json()
    assert body["state"] == "plan_submitted"
    assert body["plan"]["root_cause"].startswith("Invoices keyed")
    [planned] = body["plan"]["actions"]
    assert planned["owner"]["id"] == api.world.who(P, Role.TECHNICAL_LEAD).user_id
    assert planned["due_on"] == (DEC_1.date() + timedelta(days=10)).isoformat()
    assert body["plan"]["target_date"] == (DEC_1.date() + timedelta(days=30)).isoformat()
    assert body["next_events"] == ["accept_plan", "request_rework"]

    stale = api.client.post(
        f"{url}/events/accept_plan",
        json={"expected_lock_version": body["lock_version"] - 1},
        headers=api.auth(C, PM),
    )
    assert stale.status_code == 409
    no_comment = api.client.post(f"{url}/events/request_rework", headers=api.auth(C, PM))
    assert no_comment.status_code == 422
    assert [e["field"] for e in no_comment.json()["errors"]] == ["comment"]
    accepted = api.client.post(
        f"{url}/events/accept_plan",
        json={"expected_lock_version": body["lock_version"]},
        headers=api.auth(C, FL),
    )
    assert accepted.status_code == 200
    assert accepted.json()["state"] == "in_progress"
    done = api.client.post(
        f"{url}/events/report_completion",
        json={"comment": "Paging is live"},
        headers=api.auth(P, PM),
    )
    assert done.json()["state"] == "completed"
    closed = api.client.post(f"{url}/events/confirm_closure", headers=api.auth(C, PM))
    assert closed.status_code == 200
    detail = api.client.get(url, headers=api.auth(P, Role.BUSINESS_OWNER)).json()
    assert detail["state"] == "closed"
    assert [(h["event"], h["actor"]["id"]) for h in detail["history"]] == [
        ("submit_plan", api.world.who(P, PM).user_id),
        ("accept_plan", api.world.who(C, FL).user_id),
        ("report_completion", api.world.who(P, PM).user_id),
        ("confirm_closure", api.world.who(C, PM).user_id),
    ]
    assert detail["history"][2]["comment"] == "Paging is live"
    assert [t["state"] for t in detail["tasks"]] == ["completed"] * 4
    closed_only = api.client.get(
        ACTIONS, params={"sla_id": sla_id, "state": "closed"}, headers=api.auth(C, PM)
    ).json()
    assert [a["id"] for a in closed_only["items"]] == [action["id"]]


def test_a_bad_plan_is_a_422_naming_each_field(api: Api) -> None:
    sla_id = _final_november(api)
    [action, *_] = api.client.get(
        ACTIONS, params={"sla_id": sla_id}, headers=api.auth(P, PM)
    ).json()["items"]
    url = f"{ACTIONS}/{action['id']}/events/submit_plan"
    empty = api.client.post(url, json={}, headers=api.auth(P, PM))
    assert empty.status_code == 422
    assert empty.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in empty.json()["errors"]] == ["root_cause", "actions", "target_date"]
    plan = _plan(api)
    plan["actions"][0].update(owner_id=999_999, due_on="2026-11-30")
    plan["target_date"] = "2026-11-29"
    wrong = api.client.post(url, json=plan, headers=api.auth(P, PM))
    assert wrong.status_code == 422
    assert [e["field"] for e in wrong.json()["errors"]] == [
        "actions[0].owner_id",
        "actions[0].due_on",
        "target_date",
    ]
    malformed = api.client.post(url, json={"target_date": "soon"}, headers=api.auth(P, PM))
    assert malformed.status_code == 422
    state = api.client.get(f"{ACTIONS}/{action['id']}", headers=api.auth(P, PM)).json()["state"]
    assert state == "open"


def test_strangers_see_nothing_and_unknown_things_are_404(api: Api) -> None:
    sla_id = _final_november(api)
    stranger = outsider(api)
    assert api.client.get(ACTIONS, headers=stranger).json()["items"] == []
    assert api.client.get(ACTIONS, params={"sla_id": sla_id}, headers=stranger).status_code == 404
    [action, *_] = api.client.get(
        ACTIONS, params={"sla_id": sla_id}, headers=api.auth(C, PM)
    ).json()["items"]
    assert api.client.get(f"{ACTIONS}/{action['id']}", headers=stranger).status_code == 404
    assert api.client.get(f"{ACTIONS}/999999", headers=api.auth(C, PM)).status_code == 404
    unknown = api.client.post(f"{ACTIONS}/{action['id']}/events/explode", headers=api.auth(C, PM))
    assert unknown.status_code == 404
    bad_state = api.client.get(ACTIONS, params={"state": "sleeping"}, headers=api.auth(C, PM))
    assert bad_state.status_code == 422
    assert date.fromisoformat(action["created_at"][:10]) >= DEC_1.date()
