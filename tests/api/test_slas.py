"""Agreements over HTTP: creating them, who sees them, stakeholders and what they wait for."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from states import Role
from tests.api.conftest import Api
from tests.api.flows import (
    BO,
    PM,
    count,
    create_sla,
    fields,
    fire,
    open_tasks,
    outsider,
    sla_payload,
    sla_url,
    to_active,
    version_url,
)
from tests.helpers import C, P
from workflow.models import Agreement


def test_a_new_sla_is_version_1_in_draft_with_its_parties_and_stakeholders(api: Api) -> None:
    sla = create_sla(api)
    assert sla["key"] == "SLA-2026-0001"
    assert [(v["number"], v["modification_number"], v["state"]) for v in sla["versions"]] == [
        (1, 0, "draft")
    ]
    assert sla["working_version"]["number"] == 1
    assert sla["active_version"] is None
    assert sla["current_state"] == "draft"
    assert sla["customer"]["name"] == "Department of Examples"
    assert sla["provider"]["name"] == "Federal Shared Services Center"
    assert sla["your_side"] == "customer"
    assert sla["executive_approval_threshold_pct"] == "10.00"
    assert len(sla["stakeholders"]) == 18
    owner = next(
        s for s in sla["stakeholders"] if (s["side"], s["role"]) == ("customer", "business_owner")
    )
    assert owner["user"] == {
        "id": api.world.who(C, BO).user_id,
        "name": "Marcus Chen",
        "email": "marcus.chen@customer.example",
    }
    assert api.client.get(sla_url(sla["id"]), headers=api.auth(P, PM)).json() == {
        **sla,
        "your_side": "provider",
    }


def test_every_bad_field_is_named_and_server_owned_fields_are_refused(api: Api) -> None:
    payload = sla_payload(api)
    payload.update(state="active", id=99, key="SLA-1999-0001", content_hash="x", lock_version=7)
    payload["terms"] = {**payload["terms"], "colour": "blue", "annual_cost": "-5"}
    payload["metrics"][0] = {**payload["metrics"][0], "direction": "sideways", "owner": "me"}
    payload["stakeholders"][0] = {**payload["stakeholders"][0], "role": "king"}
    response = api.client.post("/api/v1/slas", json=payload, headers=api.auth(C, PM))
    assert fields(response) == {
        "state",
        "id",
        "key",
        "content_hash",
        "lock_version",
        "terms.colour",
        "terms.annual_cost",
        "metrics.0.direction",
        "metrics.0.owner",
        "stakeholders.0.role",
    }
    assert api.client.get("/api/v1/slas", headers=api.auth(C, PM)).json()["items"] == []


def test_duplicate_metric_keys_and_a_reversed_period_are_named(api: Api) -> None:
    payload = sla_payload(api)
    payload["metrics"].append(payload["metrics"][0])
    payload["terms"] = {**payload["terms"], "period_end": "2020-01-01"}
    response = api.client.post("/api/v1/slas", json=payload, headers=api.auth(C, PM))
    assert fields(response) == {"terms", "metrics"}
    assert "duplicate metric keys: payroll-accuracy" in response.text


def test_parties_and_stakeholders_are_checked_against_the_organisations(api: Api) -> None:
    headers = api.auth(C, PM)
    unknown = api.client.post(
        "/api/v1/slas", json=sla_payload(api, provider_org_id=999), headers=headers
    )
    assert fields(unknown) == {"provider_org_id"}
    payload = sla_payload(api)
    # The customer's Business Owner assigned as the provider's: wrong organisation.
    payload["stakeholders"][10]["user_id"] = api.world.who(C, BO).user_id
    assert fields(api.client.post("/api/v1/slas", json=payload, headers=headers)) == {
        "stakeholders.10.user_id"
    }
    stranger = outsider(api)
    refused = api.client.post("/api/v1/slas", json=sla_payload(api), headers=stranger)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"


def test_another_organisations_agreement_is_404_everywhere(api: Api) -> None:
    sla = create_sla(api)
    stranger = outsider(api)
    url, version = sla_url(sla["id"]), version_url(sla["id"])
    fire(api, sla["id"], "submit_for_review", (C, PM))
    task_id = open_tasks(api, sla["id"])[0]["id"]
    reads = [
        url,
        version,
        f"{version}/diff",
        f"{version}/gaps",
        f"{url}/blockers",
        f"{url}/audit",
        f"/api/v1/tasks/{task_id}",
    ]
    for path in reads:
        assert api.client.get(path, headers=stranger).status_code == 404, path
    writes = [
        ("POST", f"{version}/events/withdraw", {"comment": "mine now"}),
        ("PATCH", version, {"lock_version": 1, "terms": {"currency": "EUR"}}),
        ("POST", f"{url}/revisions", None),
        ("PUT", f"{url}/stakeholders", {"stakeholders": []}),
        ("POST", f"/api/v1/tasks/{task_id}/complete", {"outcome": "accepted"}),
    ]
    for method, path, body in writes:
        response = api.client.request(method, path, json=body, headers=stranger)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["detail"] == "no such agreement"
    assert api.client.get("/api/v1/slas", headers=stranger).json()["items"] == []
    assert api.client.get("/api/v1/tasks", headers=stranger).json()["items"] == []


def test_the_list_filters_by_state_and_by_title_or_key(api: Api) -> None:
    payroll = create_sla(api)
    help_desk = create_sla(api, title="Help Desk Support SLA")
    create_sla(api, title="Hosting SLA", by=(P, PM))
    fire(api, help_desk["id"], "submit_for_review", (C, PM))
    fire(api, payroll["id"], "withdraw", (C, PM), comment="replaced by the help desk SLA")

    def keys(**params: str) -> list[str]:
        response = api.client.get("/api/v1/slas", params=params, headers=api.auth(C, BO))
        assert response.status_code == 200, response.text
        return [a["key"] for a in response.json()["items"]]

    assert keys() == ["SLA-2026-0001", "SLA-2026-0002", "SLA-2026-0003"]
    assert keys(state="joint_review") == ["SLA-2026-0002"]
    assert keys(state="draft") == ["SLA-2026-0003"]
    assert keys(state="withdrawn") == ["SLA-2026-0001"]
    assert keys(q="HELP desk") == ["SLA-2026-0002"]
    assert keys(q="sla-2026-0003") == ["SLA-2026-0003"]
    assert keys(q="100%") == []
    bad = api.client.get("/api/v1/slas", params={"state": "dormant"}, headers=api.auth(C, BO))
    assert fields(bad) == {"state"}


def test_state_filter_sees_an_active_agreement_with_a_revision_in_progress(api: Api) -> None:
    sla = create_sla(api)
    to_active(api, sla["id"])
    assert api.client.post(f"{sla_url(sla['id'])}/revisions", headers=api.auth(P, BO)).is_success
    for state in ("active", "draft"):
        items = api.client.get(
            "/api/v1/slas", params={"state": state}, headers=api.auth(C, PM)
        ).json()["items"]
        assert [a["key"] for a in items] == ["SLA-2026-0001"], state
    item = items[0]
    assert (item["active_version"]["number"], item["working_version"]["number"]) == (1, 2)
    assert item["current_state"] == "draft"


def test_the_list_is_paginated_with_a_cursor(api: Api) -> None:
    for n in range(5):
        create_sla(api, title=f"SLA number {n}")
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 2}
    pages = 0
    while True:
        body = api.client.get("/api/v1/slas", params=params, headers=api.auth(C, PM)).json()
        seen += [a["title"] for a in body["items"]]
        pages += 1
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert pages == 3
    assert seen == [f"SLA number {n}" for n in range(5)]
    bad = api.client.get("/api/v1/slas", params={"cursor": "!!"}, headers=api.auth(C, PM))
    assert fields(bad) == {"cursor"}
    too_many = api.client.get("/api/v1/slas", params={"limit": 501}, headers=api.auth(C, PM))
    assert fields(too_many) == {"limit"}


def test_stakeholders_are_replaced_by_a_program_manager_and_open_tasks_follow(api: Api) -> None:
    sla = create_sla(api)
    fire(api, sla["id"], "submit_for_review", (C, PM))
    payload = sla_payload(api)
    sme = api.world.who(C, Role.FUNCTIONAL_SME).user_id
    lead = next(s for s in payload["stakeholders"] if s["role"] == "functional_lead")
    lead["user_id"] = sme  # the Functional SME stands in as customer Functional Lead
    body = {"stakeholders": payload["stakeholders"]}
    url = f"{sla_url(sla['id'])}/stakeholders"
    refused = api.client.put(url, json=body, headers=api.auth(C, Role.PMO_LEAD))
    assert refused.status_code == 403
    assert "Program Manager or Business Owner" in refused.json()["detail"]
    response = api.client.put(url, json=body, headers=api.auth(P, PM))
    assert response.status_code == 200, response.text
    holders = {(s["side"], s["role"]): s["user"]["name"] for s in response.json()["stakeholders"]}
    assert holders[("customer", "functional_lead")] == "Grace Kim"
    review = next(t for t in open_tasks(api, sla["id"], "review") if t["side"] == "customer")
    assert review["assignee"]["name"] == "Grace Kim"


def test_a_revision_needs_an_active_version_and_a_program_manager_or_business_owner(
    api: Api,
) -> None:
    sla = create_sla(api)
    url = f"{sla_url(sla['id'])}/revisions"
    not_yet = api.client.post(url, headers=api.auth(C, PM))
    assert not_yet.status_code == 409
    assert "no active version" in not_yet.json()["detail"]
    to_active(api, sla["id"])
    assert api.client.post(url, headers=api.auth(C, Role.TECHNICAL_LEAD)).status_code == 403
    created = api.client.post(url, headers=api.auth(P, BO))
    assert created.status_code == 201, created.text
    revision = created.json()
    assert (revision["number"], revision["modification_number"], revision["state"]) == (
        2,
        1,
        "draft",
    )
    assert revision["drafting_side"] == "provider"
    again = api.client.post(url, headers=api.auth(C, PM))
    assert again.status_code == 409
    assert "already in progress" in again.json()["detail"]


def _blockers(api: Api, sla_id: int, day: datetime) -> list[dict[str, Any]]:
    api.clock[0] = day
    response = api.client.get(f"{sla_url(sla_id)}/blockers", headers=api.auth(P, PM))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["as_of"] == day.date().isoformat()
    customer: list[dict[str, Any]] = [t for t in body["tasks"] if t["side"] == "customer"]
    return customer


def test_blockers_say_who_holds_what_and_when_it_is_chased(api: Api) -> None:
    # Reviews opened Monday 2 Nov 2026 are due five business days later, Monday 9 Nov.
    # US federal calendar: Veterans Day (Wed 11 Nov) and Thanksgiving (Thu 26 Nov) are skipped.
    sla = create_sla(api)
    fire(api, sla["id"], "submit_for_review", (C, PM))
    api.client.post(
        "/api/v1/delegations",
        json={
            "delegate_id": api.world.who(C, Role.FUNCTIONAL_SME).user_id,
            "starts_on": "2026-11-02",
            "ends_on": "2026-11-30",
        },
        headers=api.auth(C, Role.FUNCTIONAL_LEAD),
    )

    [review] = _blockers(api, sla["id"], datetime(2026, 11, 2, 15, 0, tzinfo=UTC))
    assert review["kind"] == "review"
    assert review["role"] == "functional_lead"
    assert review["holder"] == {
        "id": api.world.who(C, Role.FUNCTIONAL_LEAD).user_id,
        "name": "Sam Okafor",
        "email": "sam.okafor@customer.example",
    }
    assert [d["name"] for d in review["delegates"]] == ["Grace Kim"]
    assert review["since"] == "2026-11-02T14:00:00Z"
    assert review["due_on"] == "2026-11-09"
    assert (review["days_overdue"], review["business_days_overdue"]) == (0, 0)
    assert review["next_reminder_on"] == "2026-11-05"  # two business days before due
    assert review["next_escalation"] == {
        "on": "2026-11-13",  # three business days overdue: 10, (11 holiday), 12, 13
        "role": "program_manager",
        "business_days_overdue": 3,
        "to": {
            "id": api.world.who(C, PM).user_id,
            "name": "Priya Raman",
            "email": "priya.raman@customer.example",
        },
    }

    [review] = _blockers(api, sla["id"], datetime(2026, 11, 10, 9, 0, tzinfo=UTC))
    assert (review["days_overdue"], review["business_days_overdue"]) == (1, 1)
    assert review["next_reminder_on"] == "2026-11-12"  # every two business days overdue
    assert review["next_escalation"]["on"] == "2026-11-13"

    [review] = _blockers(api, sla["id"], datetime(2026, 11, 16, 9, 0, tzinfo=UTC))
    assert (review["days_overdue"], review["business_days_overdue"]) == (7, 4)
    assert review["next_reminder_on"] == "2026-11-16"  # four business days overdue: today
    escalation = review["next_escalation"]
    assert escalation["on"] == "2026-11-24"
    assert escalation["role"] == "executive_sponsor"
    assert escalation["to"]["name"] == "Dana Whitfield"

    [review] = _blockers(api, sla["id"], datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    assert review["next_reminder_on"] == "2026-11-27"  # twelve overdue, after Thanksgiving
    assert review["next_escalation"] is None


def test_blockers_of_an_agreement_that_waits_for_nothing_are_empty(api: Api) -> None:
    sla = create_sla(api)
    to_active(api, sla["id"])
    body = api.client.get(f"{sla_url(sla['id'])}/blockers", headers=api.auth(C, BO)).json()
    assert body["agreement"]["key"] == "SLA-2026-0001"
    assert body["tasks"] == []


def test_creating_twice_with_one_idempotency_key_creates_one_agreement(api: Api) -> None:
    headers = {**api.auth(C, PM), "Idempotency-Key": "create-payroll-sla"}
    payload = sla_payload(api)
    first = api.client.post("/api/v1/slas", json=payload, headers=headers)
    again = api.client.post("/api/v1/slas", json=payload, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert count(api.world.session, Agreement) == 1
