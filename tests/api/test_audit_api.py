"""The audit trail over HTTP: an agreement's events as a hash chain, and verification."""

from __future__ import annotations

from typing import Any

from states import Role
from tests.api.conftest import Api
from tests.api.flows import (
    BO,
    PM,
    complete,
    count,
    create_sla,
    fire,
    open_tasks,
    sla_url,
    version_url,
)
from tests.helpers import C, P
from workflow.models import AuditEvent

GENESIS = "0" * 64


def _trail(api: Api, sla_id: int, **params: Any) -> dict[str, Any]:
    response = api.client.get(f"{sla_url(sla_id)}/audit", params=params, headers=api.auth(P, BO))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_agreements_trail_is_its_hash_chain_oldest_first(api: Api) -> None:
    sla = create_sla(api)
    edit = {"lock_version": 1, "terms": {"payment_terms": "Net 30"}}
    api.client.patch(version_url(sla["id"]), json=edit, headers=api.auth(C, PM))
    fire(api, sla["id"], "submit_for_review", (C, PM))
    sme = api.world.who(C, Role.FUNCTIONAL_SME)
    api.client.post(
        "/api/v1/delegations",
        json={"delegate_id": sme.user_id, "starts_on": "2026-11-02", "ends_on": "2026-11-06"},
        headers=api.auth(C, Role.FUNCTIONAL_LEAD),
    )
    for review in open_tasks(api, sla["id"], "review"):
        by = (C, Role.FUNCTIONAL_SME) if review["side"] == "customer" else None
        assert complete(api, review, "accepted", by=by).status_code == 200

    events = _trail(api, sla["id"], limit=500)["items"]
    assert [e["action"] for e in events] == [
        "agreement.created",
        "version.edited",
        "version.submit_for_review",
        "task.completed",
        "task.completed",
        "version.complete_review",
    ]
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5, 6]
    assert [e["prev_hash"] for e in events] == [GENESIS] + [e["hash"] for e in events[:-1]]
    assert {e["version_number"] for e in events} == {1}
    assert all(e["occurred_at"] == "2026-11-02T14:00:00Z" for e in events)

    created, edited, submitted, *_, completed_review = events
    assert created["actor"]["name"] == "Priya Raman"
    assert created["data"]["key"] == "SLA-2026-0001"
    assert edited["data"]["changes"]["terms"]["payment_terms"]["to"] == "Net 30"
    assert (submitted["data"]["from_state"], submitted["data"]["to_state"]) == (
        "draft",
        "joint_review",
    )
    delegated = next(e for e in events[3:5] if e["on_behalf_of"] is not None)
    assert delegated["actor"]["name"] == "Grace Kim"
    assert delegated["on_behalf_of"]["name"] == "Sam Okafor"
    # The last review moved the version by itself: Accord is the actor.
    assert completed_review["actor"] is None


def test_the_trail_is_paginated_oldest_first(api: Api) -> None:
    sla = create_sla(api)
    fire(api, sla["id"], "submit_for_review", (C, PM))
    fire(api, sla["id"], "withdraw", (C, PM), comment="wrong provider")
    first = _trail(api, sla["id"], limit=2)
    assert [e["action"] for e in first["items"]] == [
        "agreement.created",
        "version.submit_for_review",
    ]
    rest = _trail(api, sla["id"], limit=2, cursor=first["next_cursor"])
    assert [e["action"] for e in rest["items"]] == ["version.withdraw"]
    assert rest["items"][0]["data"]["comment"] == "wrong provider"
    assert rest["next_cursor"] is None


def test_each_agreement_has_its_own_chain(api: Api) -> None:
    one, two = create_sla(api), create_sla(api)
    fire(api, two["id"], "submit_for_review", (C, PM))
    assert [e["seq"] for e in _trail(api, one["id"])["items"]] == [1]
    chain = _trail(api, two["id"])["items"]
    assert [e["seq"] for e in chain] == [1, 2]
    assert chain[0]["prev_hash"] == GENESIS


def test_administrators_verify_every_chain(api: Api) -> None:
    sla = create_sla(api)
    fire(api, sla["id"], "submit_for_review", (C, PM))
    refused = api.client.get("/api/v1/audit/verify", headers=api.auth(C, BO))
    assert refused.status_code == 403
    response = api.client.get("/api/v1/audit/verify", headers=api.admin)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["ok"], report["failures"]) == (True, [])
    assert report["agreements_checked"] == 1
    assert report["events_checked"] == count(api.world.session, AuditEvent)
