"""Admin pages and My settings over HTTP: who may open them, and what each form stores."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from states import Role
from tests.api.pages.conftest import CSRF_FIELD, Client
from tests.helpers import C, P, World
from workflow.commands.admin import hash_token
from workflow.models import ApiToken, Delegation, Organization, OutboxMessage, User

SHOWN_TOKEN = re.compile(r'id="new-token" readonly value="(acc_[^"]+)"')

ADMIN_PAGES = [
    "/admin",
    "/admin/organizations",
    "/admin/users",
    "/admin/users/1",
    "/admin/tokens",
    "/admin/tokens/1/revoke",
    "/admin/delegations",
    "/admin/notifications",
    "/admin/notifications/1/retry",
]
ADMIN_POSTS = [
    "/admin/organizations",
    "/admin/users",
    "/admin/users/1/password",
    "/admin/users/1/tokens",
    "/admin/tokens/1/revoke",
    "/admin/notifications/1/retry",
]


@pytest.fixture
def admin(world: World) -> str:
    """The customer's business owner, made an administrator."""
    owner = world.who(C, Role.BUSINESS_OWNER)
    user = world.session.exec(select(User).where(User.id == owner.user_id)).one()
    user.is_admin = True
    world.session.add(user)
    world.session.commit()
    return owner.email


def _post(client: TestClient, path: str, data: dict[str, Any], *, via: str = "/settings") -> Any:
    """POST as the page at `via` would, with its CSRF token."""
    token = CSRF_FIELD.search(client.get(via).text)
    assert token is not None
    return client.post(path, data={**data, "csrf_token": token[1]}, follow_redirects=False)


def _reread(world: World) -> None:
    """See what the app committed: the test's objects were loaded before it did."""
    world.session.rollback()
    world.session.expire_all()


def _dead(world: World, key: str = "task.assigned:1") -> OutboxMessage:
    message = OutboxMessage(
        topic="task.assigned",
        dedupe_key=key,
        status="dead",
        attempts=8,
        last_error="550 mailbox unavailable",
        next_attempt_at=world.now,
        created_at=world.now,
    )
    world.session.add(message)
    world.session.commit()
    return message


def test_non_admins_get_403_on_every_admin_page_and_post(world: World, signed_in: Client) -> None:
    client = signed_in(world.who(P, Role.PROGRAM_MANAGER).email)
    assert 'href="/admin"' not in client.get("/settings").text
    for path in ADMIN_PAGES:
        page = client.get(path)
        assert page.status_code == 403, path
        assert "Only an administrator may open the admin pages." in page.text
    for path in ADMIN_POSTS:
        answer = _post(client, path, {"name": "X", "email": "x@example.com"})
        assert answer.status_code == 403, path
    _reread(world)
    assert world.session.exec(select(Organization).where(Organization.name == "X")).first() is None


def test_the_overview_counts_and_links(world: World, signed_in: Client, admin: str) -> None:
    _dead(world)
    page = signed_in(admin).get("/admin")
    assert page.status_code == 200
    users = len(world.session.exec(select(User)).all())
    assert f"<strong>{users}</strong> users" in page.text
    assert '<a href="/admin/notifications?status=dead"><strong>1</strong> dead</a>' in page.text
    for link in ("/admin/organizations", "/admin/users", "/admin/tokens", "/admin/delegations"):
        assert f'href="{link}"' in page.text


def test_an_admin_creates_an_organisation_and_sees_refusals(
    world: World, signed_in: Client, admin: str
) -> None:
    client = signed_in(admin)
    via = "/admin/organizations"
    made = _post(client, via, {"name": "Northwind", "holiday_calendar": "GB"}, via=via)
    assert made.status_code == 303
    listed = client.get(via)
    assert "Organisation Northwind created (GB)." in listed.text
    assert "<td>Northwind</td>" in listed.text
    org = world.session.exec(select(Organization).where(Organization.name == "Northwind")).one()
    assert org.holiday_calendar == "GB"

    bad = _post(client, via, {"name": "Southwind", "holiday_calendar": "Narnia"}, via=via)
    assert bad.status_code == 422
    assert "unknown holiday calendar" in bad.text
    assert 'value="Southwind"' in bad.text  # what was typed stays
    again = _post(client, via, {"name": "Northwind", "holiday_calendar": "US"}, via=via)
    assert again.status_code == 409
    assert "already exists" in again.text


def test_an_admin_creates_a_user_and_sets_their_password(
    world: World, signed_in: Client, admin: str
) -> None:
    client = signed_in(admin)
    org_id = world.who(P, Role.PROGRAM_MANAGER).organization_id
    via = "/admin/users"
    refused = _post(client, via, {"email": "nope", "name": "", "organization_id": ""}, via=via)
    assert refused.status_code == 422
    assert "not an email address" in refused.text
    assert "unknown organisation" in refused.text

    made = _post(
        client,
        via,
        {"email": "Nia.New@Provider.example", "name": "Nia New", "organization_id": str(org_id)},
        via=via,
    )
    assert made.status_code == 303
    user = world.session.exec(select(User).where(User.email == "nia.new@provider.example")).one()
    assert made.headers["location"] == f"/admin/users/{user.id}"
    assert not user.is_admin
    assert user.password_hash is None
    assert "nia.new@provider.example" in client.get(via).text

    page = f"/admin/users/{user.id}"
    differ = _post(
        client, f"{page}/password", {"password": "x" * 20, "confirm": "y" * 20}, via=page
    )
    assert differ.status_code == 422
    assert "The two passwords differ" in differ.text
    short = _post(client, f"{page}/password", {"password": "short", "confirm": "short"}, via=page)
    assert short.status_code == 422
    assert "at least" in short.text
    new_password = "a long enough passphrase"
    done = _post(
        client, f"{page}/password", {"password": new_password, "confirm": new_password}, via=page
    )
    assert done.status_code == 303
    assert "Password set for nia.new@provider.example" in client.get(page).text
    _reread(world)
    assert world.session.get(User, user.id).password_hash is not None  # type: ignore[union-attr]


def test_a_token_is_shown_once_works_and_is_refused_once_revoked(
    world: World, signed_in: Client, admin: str
) -> None:
    client = signed_in(admin)
    holder = world.who(P, Role.PROGRAM_MANAGER)
    page = f"/admin/users/{holder.user_id}"
    assert "No API tokens" in client.get(page).text
    made = _post(client, f"{page}/tokens", {"name": "reporting job"}, via=page)
    assert made.status_code == 201
    assert "it is shown only this once" in made.text
    found = SHOWN_TOKEN.search(made.text)
    assert found is not None
    plain = found[1]

    _reread(world)
    stored = world.session.exec(select(ApiToken).where(ApiToken.user_id == holder.user_id)).one()
    assert stored.token_hash == hash_token(plain)
    assert plain not in client.get(page).text  # never again
    assert plain not in client.get("/admin/tokens").text
    assert f"{stored.prefix}…" in client.get("/admin/tokens").text

    bearer = {"Authorization": f"Bearer {plain}"}
    me = client.get("/api/v1/me", headers=bearer)
    assert me.status_code == 200
    assert me.json()["email"] == holder.email

    confirm = client.get(f"/admin/tokens/{stored.id}/revoke")
    assert "Revoke token" in confirm.text
    assert "cannot be undone" in confirm.text
    revoked = _post(client, f"/admin/tokens/{stored.id}/revoke", {}, via=page)
    assert revoked.status_code == 303
    assert "revoked: the API refuses it from now on" in client.get(page).text
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    twice = _post(client, f"/admin/tokens/{stored.id}/revoke", {}, via=page)
    assert twice.status_code == 303
    assert "was already revoked" in client.get(page).text


def test_a_dead_notification_is_retried_once(world: World, signed_in: Client, admin: str) -> None:
    client = signed_in(admin)
    assert "No notifications dead" in client.get("/admin/notifications?status=dead").text
    message = _dead(world)
    dead = client.get("/admin/notifications?status=dead")
    assert "550 mailbox unavailable" in dead.text
    assert f'href="/admin/notifications/{message.id}/retry"' in dead.text
    confirm = client.get(f"/admin/notifications/{message.id}/retry")
    assert "gave up after 8 attempts" in confirm.text
    path = f"/admin/notifications/{message.id}/retry"
    retried = _post(client, path, {}, via="/admin/notifications")
    assert retried.status_code == 303
    assert "is pending again" in client.get(retried.headers["location"]).text
    _reread(world)
    stored = world.session.get(OutboxMessage, message.id)
    assert stored is not None
    assert stored.status == "pending"
    assert stored.attempts == 0
    # The second click of a double submit changes nothing and says so.
    again = _post(client, path, {}, via="/admin/notifications")
    assert again.status_code == 303
    assert "Nothing to retry" in client.get("/admin/notifications").text
    assert client.get("/admin/notifications?status=bogus").status_code == 422


def test_everyone_chooses_their_notification_mode(world: World, signed_in: Client) -> None:
    person = world.who(P, Role.PROGRAM_MANAGER)
    client = signed_in(person.email)
    page = client.get("/settings")
    assert page.status_code == 200
    assert 'id="mode-immediate" name="mode" value="immediate" checked' in page.text
    chosen = _post(client, "/settings/notifications", {"mode": "digest"})
    assert chosen.status_code == 303
    assert "as one email a day" in client.get("/settings").text
    _reread(world)
    assert world.session.get(User, person.user_id).notification_mode == "digest"  # type: ignore[union-attr]
    assert _post(client, "/settings/notifications", {"mode": "loud"}).status_code == 422


def test_a_person_delegates_to_a_colleague_and_admins_see_it(
    world: World, signed_in: Client, admin: str
) -> None:
    person = world.who(C, Role.FUNCTIONAL_LEAD)
    colleague = world.who(C, Role.BUSINESS_OWNER)
    stranger = world.who(P, Role.PROGRAM_MANAGER)
    client = signed_in(person.email)
    assert "No current delegations" in client.get("/settings").text
    start = world.now.date() + timedelta(days=1)
    form = {"starts_on": start.isoformat(), "ends_on": (start + timedelta(days=6)).isoformat()}
    refused = _post(client, "/settings/delegations", {**form, "delegate_email": stranger.email})
    assert refused.status_code == 422
    assert "no such colleague in your organisation" in refused.text
    backwards = {"starts_on": form["ends_on"], "ends_on": form["starts_on"]}
    wrong = _post(client, "/settings/delegations", {**backwards, "delegate_email": colleague.email})
    assert wrong.status_code == 422
    assert "must not be before starts_on" in wrong.text

    made = _post(client, "/settings/delegations", {**form, "delegate_email": colleague.email})
    assert made.status_code == 303
    _reread(world)
    stored = world.session.exec(
        select(Delegation).where(Delegation.delegator_id == person.user_id)
    ).one()
    assert stored.delegate_id == colleague.user_id
    assert stored.starts_on == start
    assert colleague.name in client.get("/settings").text

    listed = signed_in(admin).get("/admin/delegations")
    assert person.name in listed.text
    assert "upcoming" in listed.text
