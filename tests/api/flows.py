"""Driving agreements over HTTP the way a client would, for the API tests."""

from __future__ import annotations

from typing import Any

from httpx2 import Response
from sqlmodel import Session, SQLModel, func, select

from states import Role, Side
from tests.api.conftest import Api
from tests.helpers import C, P
from workflow.content import dump_metrics, dump_terms
from workflow.example import example_content

PM = Role.PROGRAM_MANAGER
BO = Role.BUSINESS_OWNER

Who = tuple[Side, Role]


def sla_payload(api: Api, **overrides: Any) -> dict[str, Any]:
    """The example SLA as a create request, every stakeholder assigned."""
    content = example_content(api.world.document)
    payload: dict[str, Any] = {
        "title": api.world.document["title"],
        "customer_org_id": api.world.parties.customer_org_id,
        "provider_org_id": api.world.parties.provider_org_id,
        "terms": dump_terms(content.terms),
        "metrics": dump_metrics(content.metrics),
        "stakeholders": [
            {"side": s.side.value, "role": s.role.value, "user_id": s.user_id}
            for s in api.world.parties.stakeholders()
        ],
    }
    payload.update(overrides)
    return payload


def create_sla(api: Api, by: Who = (C, PM), **overrides: Any) -> dict[str, Any]:
    response = api.client.post(
        "/api/v1/slas", json=sla_payload(api, **overrides), headers=api.auth(*by)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def sla_url(sla_id: int) -> str:
    return f"/api/v1/slas/{sla_id}"


def version_url(sla_id: int, number: int = 1) -> str:
    return f"/api/v1/slas/{sla_id}/versions/{number}"


def fire(api: Api, sla_id: int, event: str, by: Who, number: int = 1, **body: Any) -> Response:
    return api.client.post(
        f"{version_url(sla_id, number)}/events/{event}", json=body, headers=api.auth(*by)
    )


def version(api: Api, sla_id: int, number: int = 1, by: Who = (C, PM)) -> dict[str, Any]:
    response = api.client.get(version_url(sla_id, number), headers=api.auth(*by))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def state_of(api: Api, sla_id: int, number: int = 1) -> str:
    state: str = version(api, sla_id, number)["state"]
    return state


def holder(api: Api, user_id: int) -> Who:
    """The (side, role) whose token belongs to `user_id`."""
    return next(k for k, a in api.world.parties.actors.items() if a.user_id == user_id)


def tasks(api: Api, by: Who = (C, PM), **params: Any) -> list[dict[str, Any]]:
    response = api.client.get(
        "/api/v1/tasks", params={"limit": 500, **params}, headers=api.auth(*by)
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def open_tasks(api: Api, sla_id: int, kind: str | None = None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"sla_id": sla_id, "state": "open"}
    if kind:
        params["kind"] = kind
    return tasks(api, **params)


def complete(
    api: Api, task: dict[str, Any], outcome: str, by: Who | None = None, **body: Any
) -> Response:
    """Complete `task` as its assignee unless `by` says otherwise."""
    who = by or holder(api, task["assignee"]["id"])
    return api.client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"outcome": outcome, **body},
        headers=api.auth(*who),
    )


def complete_all(api: Api, sla_id: int, kind: str, outcome: str, **body: Any) -> None:
    for task in open_tasks(api, sla_id, kind):
        response = complete(api, task, outcome, **body)
        assert response.status_code == 200, response.text


def gaps(api: Api, sla_id: int, number: int = 1) -> list[dict[str, Any]]:
    response = api.client.get(f"{version_url(sla_id, number)}/gaps", headers=api.auth(C, PM))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def resolve_all_gaps(api: Api, sla_id: int, number: int = 1) -> None:
    for gap in gaps(api, sla_id, number):
        if gap["resolution"] is None:
            response = api.client.post(
                f"/api/v1/gaps/{gap['id']}/resolve",
                json={"resolution": "provider_commits", "note": "capacity added"},
                headers=api.auth(P, PM),
            )
            assert response.status_code == 200, response.text


def to_gap_analysis(api: Api, sla_id: int, number: int = 1) -> None:
    response = fire(api, sla_id, "submit_for_review", (C, PM), number)
    assert response.status_code == 200, response.text
    complete_all(api, sla_id, "review", "accepted")


def to_approval(api: Api, sla_id: int, number: int = 1) -> None:
    to_gap_analysis(api, sla_id, number)
    resolve_all_gaps(api, sla_id, number)
    for kind in ("confirm_requirements", "confirm_capabilities", "lcce_review"):
        complete_all(api, sla_id, kind, "done")
    response = fire(api, sla_id, "submit_for_approval", (P, PM), number)
    assert response.status_code == 200, response.text


def to_active(api: Api, sla_id: int, number: int = 1) -> None:
    to_approval(api, sla_id, number)
    complete_all(api, sla_id, "approval", "approved")


def outsider(api: Api) -> dict[str, str]:
    """The bearer header of a user of a third organisation, party to nothing yet."""
    org = api.client.post(
        "/api/v1/organizations", json={"name": "Third Agency"}, headers=api.admin
    ).json()
    user = api.client.post(
        "/api/v1/users",
        json={"email": "olga@third.example", "name": "Olga Outsider", "organization_id": org["id"]},
        headers=api.admin,
    ).json()
    token = api.client.post(f"/api/v1/users/{user['id']}/tokens", headers=api.admin).json()
    return {"Authorization": f"Bearer {token['token']}"}


def fields(response: Response) -> set[str]:
    """The fields a 422 problem names."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {e["field"] for e in response.json()["errors"]}


def count(session: Session, table: type[SQLModel]) -> int:
    session.rollback()  # a fresh snapshot: requests commit in sessions of their own
    return session.exec(select(func.count()).select_from(table)).one()
