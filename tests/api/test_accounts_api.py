"""Accounts and auditors over HTTP: token expiry and last use, the token list, changing one's
own password, roles, the auditor's scope, admin acts in the trail, the evidence pack."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from states import Role
from tests.api.conftest import Api
from tests.api.flows import PM, create_sla, to_active
from tests.helpers import C
from workflow.commands.sign_in import set_passwords

SECRET = "correct horse battery"


def _me(api: Api, token: str) -> int:
    return api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def _user(api: Api, email: str, role: str = "member", **extra: Any) -> dict[str, Any]:
    body = {"email": email, "name": email.split("@")[0].title(), "organization_id": 1}
    created = api.client.post(
        "/api/v1/users", json={**body, "role": role, **extra}, headers=api.admin
    )
    assert created.status_code == 201, created.text
    result: dict[str, Any] = created.json()
    return result


def _token(api: Api, user_id: int, **body: Any) -> dict[str, Any]:
    made = api.client.post(f"/api/v1/users/{user_id}/tokens", json=body, headers=api.admin)
    assert made.status_code == 201, made.text
    result: dict[str, Any] = made.json()
    return result


def test_a_token_works_until_it_expires_and_records_its_last_use(api: Api) -> None:
    user = _user(api, "robot@customer.example")
    expires = api.clock[0] + timedelta(days=30)
    token = _token(api, user["id"], name="nightly job", expires_at=expires.isoformat())
    assert token["expires_at"].startswith(expires.date().isoformat())
    listed = api.client.get("/api/v1/tokens", headers=api.admin).json()["items"]
    mine = next(t for t in listed if t["id"] == token["id"])
    assert mine["last_used_at"] is None
    assert "token_hash" not in mine
    api.clock[0] += timedelta(days=1)
    assert _me(api, token["token"]) == 200
    listed = api.client.get("/api/v1/tokens", headers=api.admin).json()["items"]
    mine = next(t for t in listed if t["id"] == token["id"])
    assert mine["last_used_at"] == api.clock[0].isoformat().replace("+00:00", "Z")
    api.clock[0] = expires
    answer = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token['token']}"})
    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]


def test_an_expiry_in_the_past_is_a_field_error(api: Api) -> None:
    user = _user(api, "late@customer.example")
    past = (api.clock[0] - timedelta(hours=1)).isoformat()
    refused = api.client.post(
        f"/api/v1/users/{user['id']}/tokens", json={"expires_at": past}, headers=api.admin
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "expires_at"


def test_only_admins_list_tokens(api: Api) -> None:
    answer = api.client.get("/api/v1/tokens", headers=api.auth(C, PM))
    assert answer.status_code == 403


def test_i_change_my_own_password_with_the_current_one(api: Api) -> None:
    pm = api.world.who(C, PM)
    set_passwords(
        api.world.session, actor=None, emails=[pm.email], password=SECRET, now=api.clock[0]
    )
    wrong = api.client.post(
        "/api/v1/me/password",
        json={"current_password": "not it", "new_password": "a new passphrase"},
        headers=api.auth(C, PM),
    )
    assert wrong.status_code == 422
    assert [e["field"] for e in wrong.json()["errors"]] == ["current_password"]
    changed = api.client.post(
        "/api/v1/me/password",
        json={"current_password": SECRET, "new_password": "a new passphrase"},
        headers=api.auth(C, PM),
    )
    assert changed.status_code == 204


def test_an_invited_user_is_created_without_a_password(api: Api) -> None:
    user = _user(api, "invitee@customer.example", invite=True)
    assert user["has_password"] is False
    resent = api.client.post(f"/api/v1/users/{user['id']}/invitation", headers=api.admin)
    assert resent.status_code == 202


def test_auditors_verify_their_scope_and_read_admin_acts_when_global(api: Api) -> None:
    sla = create_sla(api)
    local = _user(api, "lena@customer.example", role="auditor")
    local_token = _token(api, local["id"])["token"]
    everyone = _user(api, "gus@customer.example")
    changed = api.client.put(
        f"/api/v1/users/{everyone['id']}/role", json={"role": "global_auditor"}, headers=api.admin
    )
    assert changed.json()["auditor_scope"] == "global"
    global_token = _token(api, everyone["id"])["token"]

    def get(path: str, token: str) -> Any:
        return api.client.get(path, headers={"Authorization": f"Bearer {token}"})

    scoped = get("/api/v1/audit/verify", local_token).json()
    assert (scoped["ok"], scoped["scope"], scoped["agreements_checked"]) == (
        True,
        "organisation",
        1,
    )
    assert get("/api/v1/audit/system", local_token).status_code == 403
    assert get(f"/api/v1/slas/{sla['id']}/audit", local_token).status_code == 200
    assert get("/api/v1/audit/verify", global_token).json()["scope"] == "everything"
    acts = get("/api/v1/audit/system?limit=500", global_token).json()["items"]
    actions = {e["action"] for e in acts}
    assert {"user.created", "user.role_changed", "token.created"} <= actions
    # A global auditor reads any agreement's trail, party or not; a member gets 403.
    assert get(f"/api/v1/slas/{sla['id']}/audit", global_token).status_code == 200
    assert api.client.get("/api/v1/audit/verify", headers=api.auth(C, PM)).status_code == 403


def test_a_disabled_users_token_is_refused(api: Api) -> None:
    user = _user(api, "leaver@customer.example")
    token = _token(api, user["id"])["token"]
    assert _me(api, token) == 200
    off = api.client.post(f"/api/v1/users/{user['id']}/disable", headers=api.admin)
    assert off.json()["is_active"] is False
    assert _me(api, token) == 401
    api.client.post(f"/api/v1/users/{user['id']}/enable", headers=api.admin)
    assert _me(api, token) == 200


def test_the_evidence_pack_names_who_approved_which_content(api: Api) -> None:
    sla = create_sla(api)
    to_active(api, sla["id"])
    pack = api.client.get(
        f"/api/v1/slas/{sla['id']}/versions/1/evidence", headers=api.auth(C, Role.PMO_TEAM)
    ).json()
    assert pack["state"] == "active"
    assert pack["approved_content"]["metrics"]
    approvals = pack["approvals"]
    assert approvals
    assert all(a["content_hash"] == pack["content_hash"] for a in approvals)
    assert all(a["matches_version"] and a["by"]["name"] for a in approvals)
    assert {a["outcome"] for a in approvals} <= {"approved", "approved_with_conditions"}
    assert pack["verification"]["ok"] is True
    assert pack["verification"]["events_checked"] >= len(pack["events"])


def test_the_outbox_api_never_shows_a_links_token(api: Api) -> None:
    _user(api, "hidden@customer.example", invite=True)
    listed = api.client.get("/api/v1/notifications", headers=api.admin).json()["items"]
    invitation = next(m for m in listed if m["topic"] == "account.invitation")
    detail = api.client.get(f"/api/v1/notifications/{invitation['id']}", headers=api.admin)
    assert detail.json()["payload"]["token"] == "(hidden)"
    assert detail.json()["payload"]["account"]["email"] == "hidden@customer.example"
