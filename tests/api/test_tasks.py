"""Tasks over HTTP: the approval queue, delegation, overdue work, completing tasks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from states import Role
from tests.api.conftest import Api
from tests.api.flows import (
    BO,
    PM,
    complete,
    create_sla,
    fields,
    fire,
    open_tasks,
    tasks,
    to_approval,
)
from tests.helpers import C, P

QUEUE = {"assignee": "me", "kind": "approval", "state": "open"}


def _at(api: Api, day: int) -> None:
    api.clock[0] = datetime(2026, 11, day, 14, 0, tzinfo=UTC)


def test_the_approval_queue_is_ordered_by_due_date_then_id(api: Api) -> None:
    # Opened on Monday 9 Nov: due five business days later, skipping Veterans Day (11 Nov).
    _at(api, 9)
    late = create_sla(api, title="Opened on the 9th")
    to_approval(api, late["id"])
    # Opened on Monday 2 Nov: due Monday 9 Nov, although their ids are higher.
    _at(api, 2)
    first, second = create_sla(api, title="First"), create_sla(api, title="Second")
    to_approval(api, first["id"])
    to_approval(api, second["id"])

    queue = tasks(api, by=(C, BO), **QUEUE)
    assert [(t["agreement"]["key"], t["due_on"]) for t in queue] == [
        ("SLA-2026-0002", "2026-11-09"),
        ("SLA-2026-0003", "2026-11-09"),
        ("SLA-2026-0001", "2026-11-17"),
    ]
    assert all(t["role"] == "business_owner" and t["side"] == "customer" for t in queue)
    assert queue[0]["outcomes"] == ["approved", "approved_with_conditions", "rejected"]

    # Page by page, the cursor keeps the order across equal due dates.
    paged: list[int] = []
    params: dict[str, Any] = {**QUEUE, "limit": 1}
    while True:
        body = api.client.get("/api/v1/tasks", params=params, headers=api.auth(C, BO)).json()
        paged += [t["id"] for t in body["items"]]
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert paged == [t["id"] for t in queue]


def test_my_tasks_include_those_of_colleagues_who_delegated_to_me(api: Api) -> None:
    sla = create_sla(api)
    to_approval(api, sla["id"])
    pmo_lead = api.world.who(C, Role.PMO_LEAD)
    delegation = api.client.post(
        "/api/v1/delegations",
        json={"delegate_id": pmo_lead.user_id, "starts_on": "2026-11-02", "ends_on": "2026-11-04"},
        headers=api.auth(C, BO),
    )
    assert delegation.status_code == 201, delegation.text

    [held] = tasks(api, by=(C, Role.PMO_LEAD), **QUEUE)
    assert held["assignee"]["name"] == "Marcus Chen"
    assert held["acting_for"]["name"] == "Marcus Chen"
    mine = tasks(api, by=(C, Role.PMO_LEAD), assignee="me")
    assert sorted(t["kind"] for t in mine) == ["approval", "lcce_review"]
    # Marcus still sees his own task, as his own.
    [own] = tasks(api, by=(C, BO), **QUEUE)
    assert own["id"] == held["id"]
    assert own["acting_for"] is None

    _at(api, 5)  # the delegation ended yesterday
    assert tasks(api, by=(C, Role.PMO_LEAD), **QUEUE) == []
    _at(api, 3)
    done = complete(api, held, "approved", by=(C, Role.PMO_LEAD))
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["state"], body["outcome"]) == ("completed", "approved")
    assert body["completed_by"]["name"] == "Owen Gallagher"
    assert body["on_behalf_of"]["name"] == "Marcus Chen"


def test_only_the_assignee_or_their_delegate_completes_a_task(api: Api) -> None:
    sla = create_sla(api)
    to_approval(api, sla["id"])
    task = next(t for t in open_tasks(api, sla["id"], "approval") if t["role"] == "business_owner")
    refused = complete(api, task, "approved", by=(C, PM))
    assert refused.status_code == 403
    assert "assignee or their delegate" in refused.json()["detail"]


def test_an_outcome_must_suit_the_task_and_a_task_completes_once(api: Api) -> None:
    sla = create_sla(api)
    fire(api, sla["id"], "submit_for_review", (C, PM))
    review = next(t for t in open_tasks(api, sla["id"], "review") if t["side"] == "provider")
    assert review["outcomes"] == ["accepted", "changes_requested"]
    assert fields(complete(api, review, "approved")) == {"outcome"}
    assert fields(complete(api, review, "changes_requested")) == {"comment"}
    assert fields(complete(api, review, "")) == {"outcome"}
    assert complete(api, review, "accepted").status_code == 200
    again = complete(api, review, "accepted")
    assert again.status_code == 409
    assert again.json()["current_state"] == "completed"
    one = api.client.get(f"/api/v1/tasks/{review['id']}", headers=api.auth(C, BO)).json()
    assert (one["state"], one["outcome"], one["outcomes"]) == ("completed", "accepted", [])
    assert one["completed_by"]["name"] == api.world.who(P, Role.TECHNICAL_LEAD).name
    assert api.client.get("/api/v1/tasks/999", headers=api.auth(C, BO)).status_code == 404


def test_overdue_tasks_are_open_and_past_their_due_date(api: Api) -> None:
    sla = create_sla(api)
    fire(api, sla["id"], "submit_for_review", (C, PM))  # reviews due Monday 9 Nov
    _at(api, 9)
    assert tasks(api, overdue="true") == []
    _at(api, 10)
    late = tasks(api, overdue="true")
    assert sorted(t["side"] for t in late) == ["customer", "provider"]
    assert all(t["overdue"] for t in late)
    provider_review = next(t for t in late if t["side"] == "provider")
    assert complete(api, provider_review, "accepted").status_code == 200
    assert [t["side"] for t in tasks(api, overdue="true")] == ["customer"]
    [on_time] = tasks(api, overdue="false")
    assert (on_time["id"], on_time["overdue"]) == (provider_review["id"], False)


def test_task_filters_are_checked_and_named(api: Api) -> None:
    headers = api.auth(C, PM)
    for params, field in (
        ({"kind": "nap"}, "kind"),
        ({"state": "done"}, "state"),
        ({"assignee": "you"}, "assignee"),
        ({"cursor": "WyJ4Il0"}, "cursor"),  # a cursor of another list: ["x"]
    ):
        response = api.client.get("/api/v1/tasks", params=params, headers=headers)
        assert fields(response) == {field}, params


def test_tasks_can_be_listed_per_agreement_and_kind(api: Api) -> None:
    one, two = create_sla(api), create_sla(api)
    fire(api, one["id"], "submit_for_review", (C, PM))
    fire(api, two["id"], "submit_for_review", (P, PM))
    assert {t["agreement"]["id"] for t in tasks(api, sla_id=one["id"])} == {one["id"]}
    assert len(tasks(api, kind="review")) == 4
    assert tasks(api, kind="approval") == []
    # The provider sees the same tasks as the customer: both are parties.
    assert [t["id"] for t in tasks(api, by=(P, BO))] == [t["id"] for t in tasks(api)]


def test_a_listed_task_reads_the_same_as_the_task_itself(api: Api) -> None:
    # The list and the single task are built from different statements: the same joins.
    sla = create_sla(api)
    fire(api, sla["id"], "submit_for_review", (C, PM))
    review = next(t for t in open_tasks(api, sla["id"], "review") if t["side"] == "provider")
    assert complete(api, review, "accepted").status_code == 200
    listed = tasks(api, sla_id=sla["id"])
    assert {t["state"] for t in listed} == {"open", "completed"}
    for task in listed:
        one = api.client.get(f"/api/v1/tasks/{task['id']}", headers=api.auth(C, PM))
        assert one.json() == task
    done = next(t for t in listed if t["state"] == "completed")
    assert done["completed_by"]["name"] == api.world.who(P, Role.TECHNICAL_LEAD).name
    assert (done["version_number"], done["agreement"]["id"]) == (1, sla["id"])


def test_the_queue_checks_the_token_on_every_request(api: Api) -> None:
    headers = api.auth(C, Role.PMO_TEAM)
    token_id = 5  # created in the fixture's order: the customer's PMO Team is the fifth
    assert api.client.get("/api/v1/tasks", params=QUEUE, headers=headers).status_code == 200
    # A read that keeps its one transaction still notes when the token was used.
    listed = api.client.get("/api/v1/tokens", headers=api.admin).json()["items"]
    used = next(t["last_used_at"] for t in listed if t["id"] == token_id)
    assert used == api.clock[0].isoformat().replace("+00:00", "Z")
    assert api.client.delete(f"/api/v1/tokens/{token_id}", headers=api.admin).status_code == 204
    revoked = api.client.get("/api/v1/tasks", params=QUEUE, headers=headers)
    assert revoked.status_code == 401
    assert revoked.headers["content-type"].startswith("application/problem+json")
    assert "revoked" in revoked.json()["detail"]
    missing = api.client.get("/api/v1/tasks", params=QUEUE)
    assert (missing.status_code, missing.json()["detail"]) == (
        401,
        "send Authorization: Bearer <token>",
    )
