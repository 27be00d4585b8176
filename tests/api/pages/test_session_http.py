"""Sign-in, cookies, CSRF and error pages over HTTP, without a browser."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import Response
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from api.app import create_app
from api.pages import signing
from api.pages.session import SESSION_COOKIE, set_session_cookie
from states import Role
from tests.api.pages.conftest import CSRF_FIELD, PASSWORD
from tests.helpers import C, P, World
from workflow.commands.sign_in import MAX_FAILURES_PER_EMAIL
from workflow.models import Task
from workflow.settings import get_settings


@pytest.fixture
def client(world: World, engine: Engine) -> Iterator[TestClient]:
    app = create_app(engine, clock=lambda: world.now)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def _token(client: TestClient, path: str = "/signin") -> str:
    match = CSRF_FIELD.search(client.get(path).text)
    assert match is not None
    return match[1]


def _sign_in(client: TestClient, email: str, password: str = PASSWORD) -> TestClient:
    answer = client.post(
        "/signin",
        data={"email": email, "password": password, "csrf_token": _token(client)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return client


def test_the_session_cookie_is_signed_http_only_and_lax(client: TestClient, world: World) -> None:
    answer = client.post(
        "/signin",
        data={
            "email": world.who(C, Role.BUSINESS_OWNER).email,
            "password": PASSWORD,
            "csrf_token": _token(client),
            "next": "/tasks",
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/tasks"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # the base URL is http
    value = client.cookies[SESSION_COOKIE]
    assert signing.unsign("session", value) is not None
    # An altered cookie is no session at all.
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, value[:-2] + "xx")
    refused = client.get("/tasks", follow_redirects=False)
    assert refused.status_code == 303
    assert refused.headers["location"] == "/signin?next=%2Ftasks"


def test_cookies_are_secure_when_the_base_url_is_https(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_BASE_URL", "https://accord.example")
    get_settings.cache_clear()
    try:
        response = Response()
        set_session_cookie(response, "token")
        assert "Secure" in response.headers["set-cookie"]
    finally:
        monkeypatch.delenv("ACCORD_BASE_URL")
        get_settings.cache_clear()


def test_a_redirect_after_sign_in_stays_on_this_site(client: TestClient, world: World) -> None:
    answer = client.post(
        "/signin",
        data={
            "email": world.who(C, Role.BUSINESS_OWNER).email,
            "password": PASSWORD,
            "csrf_token": _token(client),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"


def test_the_sign_in_page_says_where_an_email_link_leads(client: TestClient) -> None:
    task_link = client.get("/signin", params={"next": "/tasks/41"})
    assert "Sign in to open your task" in task_link.text
    assert 'name="next" value="/tasks/41"' in task_link.text
    assert 'id="signin-hint"' not in client.get("/signin").text
    # Another site is no destination: no hint, and the form goes home after signing in.
    elsewhere = client.get("/signin", params={"next": "//evil.example/tasks/1"})
    assert 'id="signin-hint"' not in elsewhere.text


def test_posts_without_the_right_csrf_token_are_refused(client: TestClient, world: World) -> None:
    agreement = world.create()
    world.to_approval(agreement)
    task = world.open_tasks(agreement, "approval")[0]
    bo_email = world.who(C, Role.BUSINESS_OWNER).email
    _sign_in(client, bo_email)
    path = f"/approvals/{task.id}"
    missing = client.post(path, data={"outcome": "approved"})
    assert missing.status_code == 403
    assert "This form has expired" in missing.text
    assert missing.headers["content-type"].startswith("text/html")
    wrong = client.post(path, data={"outcome": "approved", "csrf_token": "forged"})
    assert wrong.status_code == 403
    # A token of another browser's session is worthless here.
    with TestClient(client.app, base_url="http://127.0.0.1") as other:
        foreign = _token(_sign_in(other, world.who(P, Role.BUSINESS_OWNER).email), "/tasks")
    assert client.post(path, data={"outcome": "approved", "csrf_token": foreign}).status_code == 403
    world.session.rollback()
    assert world.session.exec(select(Task.state).where(Task.id == task.id)).one() == "open"
    # The header htmx sends is as good as the form field.
    header = {"X-CSRF-Token": _token(client, "/tasks")}
    accepted = client.post(path, data={"outcome": "approved"}, headers=header)
    assert accepted.status_code == 200
    assert "You approved" in accepted.text


def test_sign_in_itself_needs_the_csrf_cookie_and_token(client: TestClient, world: World) -> None:
    email = world.who(C, Role.BUSINESS_OWNER).email
    token = _token(client)
    client.cookies.clear()
    answer = client.post(
        "/signin", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 403


def test_failures_are_throttled_with_retry_after(client: TestClient, world: World) -> None:
    email = world.who(C, Role.BUSINESS_OWNER).email
    token = _token(client)
    for _ in range(MAX_FAILURES_PER_EMAIL):
        wrong = client.post(
            "/signin", data={"email": email, "password": "nope", "csrf_token": token}
        )
        assert wrong.status_code == 401
        assert "do not match an account" in wrong.text
    held = client.post("/signin", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert held.status_code == 429
    assert "Too many failed sign-ins. Try again after" in held.text
    assert 0 < int(held.headers["Retry-After"]) <= 15 * 60


def test_pages_are_never_cached_nor_framed(client: TestClient, world: World) -> None:
    _sign_in(client, world.who(C, Role.PMO_TEAM).email)
    answer = client.get("/tasks")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert '<html lang="en">' in answer.text
    assert 'href="#main"' in answer.text  # the skip link
    assert client.get("/static/vendor/htmx.min.js").status_code == 200
    assert client.get("/static/vendor/pico.min.css").status_code == 200
    assert client.get("/static/scroll-regions.js").status_code == 200


def test_unknown_pages_are_html_and_api_errors_stay_problem_json(client: TestClient) -> None:
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"


def test_signed_out_sessions_stay_out(client: TestClient, world: World) -> None:
    _sign_in(client, world.who(C, Role.BUSINESS_OWNER).email)
    old = client.cookies[SESSION_COOKIE]
    out = client.post("/signout", data={"csrf_token": _token(client, "/tasks")})
    assert "You are signed out." in out.text
    client.cookies.set(SESSION_COOKIE, old)  # a copy kept from before does not get back in
    again = client.get("/approvals", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/signin")
