"""The caller, organisations, users, tokens and delegations over HTTP."""

from __future__ import annotations

from states import Role
from tests.api.conftest import Api
from tests.helpers import C


def test_requests_without_a_token_get_401_problem(api: Api) -> None:
    response = api.client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401


def test_me_names_the_caller_and_their_organisation(api: Api) -> None:
    body = api.client.get("/api/v1/me", headers=api.auth(C, Role.BUSINESS_OWNER)).json()
    assert body["email"] == "marcus.chen@customer.example"
    assert body["organization"]["name"] == "Department of Examples"
    assert body["is_admin"] is False


def test_only_admins_create_users_and_tokens_are_shown_once(api: Api) -> None:
    payload = {"email": "new@customer.example", "name": "New Person", "organization_id": 1}
    refused = api.client.post("/api/v1/users", json=payload, headers=api.auth(C, Role.PMO_LEAD))
    assert refused.status_code == 403
    created = api.client.post("/api/v1/users", json=payload, headers=api.admin)
    assert created.status_code == 201
    user_id = created.json()["id"]
    token = api.client.post(f"/api/v1/users/{user_id}/tokens", headers=api.admin).json()["token"]
    me = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["email"] == "new@customer.example"


def test_unknown_fields_and_bad_values_are_named(api: Api) -> None:
    response = api.client.post(
        "/api/v1/users",
        json={"email": "x@y.example", "name": "", "organization_id": 1, "id": 5},
        headers=api.admin,
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"name", "id"}


def test_a_revoked_token_stops_working(api: Api) -> None:
    headers = api.auth(C, Role.PMO_TEAM)
    token_id = 5  # created in the fixture's order: the customer's PMO Team is the fifth
    assert api.client.get("/api/v1/me", headers=headers).status_code == 200
    assert api.client.delete(f"/api/v1/tokens/{token_id}", headers=api.admin).status_code == 204
    assert api.client.get("/api/v1/me", headers=headers).status_code == 401


def test_an_oversized_body_is_413(api: Api) -> None:
    big = {"name": "x" * 2_000_000}
    response = api.client.post("/api/v1/organizations", json=big, headers=api.admin)
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_the_same_idempotency_key_replays_the_first_response(api: Api) -> None:
    headers = {**api.admin, "Idempotency-Key": "org-1"}
    first = api.client.post("/api/v1/organizations", json={"name": "Third Agency"}, headers=headers)
    again = api.client.post("/api/v1/organizations", json={"name": "Third Agency"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    orgs = api.client.get("/api/v1/organizations", headers=api.admin).json()["items"]
    assert [o["name"] for o in orgs].count("Third Agency") == 1
    other = api.client.post("/api/v1/organizations", json={"name": "Other"}, headers=headers)
    assert other.status_code == 422
