"""Hostile input in the pages: a NUL character in a form or an address, or an id past the
column, is a field error or a 422 page on both databases, never a 500; nothing is stored."""

from __future__ import annotations

from html import unescape

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from api.app import create_app
from api.pages.handlers import invalid_fields
from states import Role
from tests.api.pages.conftest import CSRF_FIELD, PASSWORD, Client
from tests.api.pages.test_drafts_pages import _edit, _post, _terms_form, _version
from tests.helpers import C, P, World
from workflow.models import LoginAttempt, Task


def test_a_nul_in_the_sign_in_email_is_a_field_error_and_nothing_is_recorded(
    world: World, engine: Engine
) -> None:
    with TestClient(create_app(engine, clock=lambda: world.now)) as client:
        token = CSRF_FIELD.search(client.get("/signin").text)
        assert token is not None
        email = world.who(C, Role.BUSINESS_OWNER).email
        answer = client.post(
            "/signin",
            data={"email": email + "\x00", "password": PASSWORD, "csrf_token": token[1]},
            follow_redirects=False,
        )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert 'id="signin-error"' in answer.text
    assert "character that is not allowed" in answer.text
    world.session.rollback()
    assert world.session.exec(select(func.count()).select_from(LoginAttempt)).one() == 0


def test_a_nul_in_a_draft_term_is_shown_at_its_field(world: World, signed_in: Client) -> None:
    agreement = world.create()
    client = signed_in(world.who(P, Role.PROGRAM_MANAGER).email)
    path = _edit(agreement)
    before = _version(world, agreement)
    answer = _post(client, f"{path}/terms", _terms_form(before, service_hours="Mon-Fri\x00"), path)
    assert answer.status_code == 422
    assert 'id="t-service_hours-error"' in answer.text
    assert "NUL" in unescape(answer.text)
    assert _version(world, agreement).terms == before.terms


def test_a_nul_in_a_comment_or_a_search_is_a_422_page_naming_it(
    world: World, signed_in: Client
) -> None:
    agreement = world.create()
    world.to_joint_review(agreement)
    task = world.open_tasks(agreement, "review")[0]
    client = signed_in(world.actor_by_id(task.assignee_id).email)
    token = CSRF_FIELD.search(client.get("/tasks").text)
    assert token is not None
    answer = client.post(
        f"/tasks/{task.id}/complete",
        data={"outcome": "accepted", "comment": "fine\x00", "csrf_token": token[1]},
        follow_redirects=False,
    )
    assert answer.status_code == 422
    assert "Comment: " in answer.text  # the field by its name, then what is wrong
    world.session.rollback()
    assert world.session.get(Task, task.id).state == "open"  # type: ignore[union-attr]

    searched = client.get("/slas", params={"q": "pay\x00"})
    assert (searched.status_code, "Search: " in searched.text) == (422, True)


def test_an_id_past_the_column_in_a_page_address_is_a_422_page(
    world: World, signed_in: Client
) -> None:
    client = signed_in(world.who(C, Role.BUSINESS_OWNER).email)
    for path in (
        f"/slas/{2**31}",
        f"/slas/1/versions/{2**31}",
        f"/slas/{2**63}/periods",
        f"/slas/1/versions/1/diff?against={2**31}",
    ):
        answer = client.get(path)
        assert answer.status_code == 422, (path, answer.status_code)
        assert answer.headers["content-type"].startswith("text/html")
        assert "Please check what you entered" in answer.text
        assert "must be at most 2147483647." in answer.text  # the field, in words


def test_a_refused_request_names_each_field_in_words_once() -> None:
    said = invalid_fields(
        [
            {"type": "int_parsing", "loc": ("query", "q")},
            {"type": "too_long", "loc": ("body", "task"), "ctx": {"max_length": 50}},
            {"type": "less_than_equal", "loc": ("body", "task", 3), "ctx": {"le": 2**31 - 1}},
            {"type": "date_parsing", "loc": ("body", "starts_on")},
        ]
    )
    assert said == (
        "Search: enter a whole number; Chosen tasks: at most 50 at once; "
        "Starts on: enter a date as YYYY-MM-DD."
    )
