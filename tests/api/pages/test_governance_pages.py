"""The governance calendar's pages over HTTP: the minutes form, the extension request and the
Business Owners' decision with its confirmation step, the renewal decision on My tasks."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from states import Role
from tests.api.pages.conftest import CSRF_FIELD, Client
from tests.helpers import C, P, World
from workflow.commands.calendar_jobs import run_calendar
from workflow.models import Agreement, ServiceReview


def _post(client: TestClient, page: str, action: str, data: dict[str, Any]) -> Any:
    token = CSRF_FIELD.search(client.get(page).text)
    assert token is not None
    return client.post(action, data={**data, "csrf_token": token[1]}, follow_redirects=False)


def _calendar(engine: Engine, day: date) -> None:
    with Session(engine, expire_on_commit=False) as session:
        run_calendar(session, now=datetime(day.year, day.month, day.day, 15, tzinfo=UTC))


def _active(world: World) -> Agreement:
    agreement = world.create()
    world.to_active(agreement)
    return agreement


def test_the_minutes_form_records_the_review_and_its_action_items(
    world: World, engine: Engine, signed_in: Client
) -> None:
    agreement = _active(world)
    _calendar(engine, date(2027, 1, 1))
    world.now = datetime(2027, 1, 8, 15, tzinfo=UTC)
    world.session.rollback()
    review = world.session.exec(select(ServiceReview)).one()
    page = f"/slas/{agreement.id}/service-reviews/{review.id}"
    pm = signed_in(world.who(C, Role.PROGRAM_MANAGER).email)
    shown = pm.get(page)
    assert shown.status_code == 200
    assert "Record the minutes" in shown.text
    assert "Nothing carried over" in shown.text  # no open corrective action: empty agenda
    owner = world.who(P, Role.TECHNICAL_LEAD).user_id
    form = {
        "held_on": "2027-01-07",
        "attendees": [str(world.who(C, Role.PROGRAM_MANAGER).user_id), str(owner)],
        "decisions": "Keep the monthly cadence\n\nAutomate the hand-off",
        "item-0-description": "Publish the 2027 maintenance windows",
        "item-0-owner": str(owner),
        "item-0-due": "2027-01-29",
    }
    refused = _post(pm, page, f"{page}/minutes", {**form, "item-1-description": "Orphan"})
    assert refused.status_code == 422
    assert "action_items.1.owner_id: choose who owns it" in refused.text
    assert "Orphan" in refused.text  # what was typed is kept
    recorded = _post(pm, page, f"{page}/minutes", form)
    assert recorded.status_code == 303
    held = pm.get(page).text
    assert "Minutes recorded" in held
    assert "Automate the hand-off" in held
    assert "Publish the 2027 maintenance windows" in held
    (item,) = world.open_tasks(agreement, "action_item")
    assert (item.assignee_id, item.due_on) == (owner, date(2027, 1, 29))
    # The owner's task link lands on My tasks; anyone else's on the review.
    owner_client = signed_in(world.who(P, Role.TECHNICAL_LEAD).email)
    link = owner_client.get(f"/tasks/{item.id}", follow_redirects=False)
    assert link.headers["location"] == f"/tasks#task-{item.id}"
    other = pm.get(f"/tasks/{item.id}", follow_redirects=False)
    assert other.headers["location"] == page


def test_an_extension_is_asked_for_then_approved_with_a_confirmation(
    world: World, engine: Engine, signed_in: Client
) -> None:
    agreement = _active(world)
    _calendar(engine, date(2027, 10, 1))  # expired
    world.now = datetime(2027, 10, 4, 15, tzinfo=UTC)
    form_page = f"/slas/{agreement.id}/extensions/new"
    pm = signed_in(world.who(P, Role.PROGRAM_MANAGER).email)
    bad = _post(pm, form_page, f"/slas/{agreement.id}/extensions", {"new_end_date": "2027-06-30"})
    assert bad.status_code == 422
    assert "must be after the current end, 2027-09-30" in bad.text
    asked = _post(
        pm,
        form_page,
        f"/slas/{agreement.id}/extensions",
        {"new_end_date": "2028-03-31", "reason": "successor contract starts in April"},
    )
    assert asked.status_code == 303
    page = asked.headers["location"]
    for side in (C, P):
        bo = signed_in(world.who(side, Role.BUSINESS_OWNER).email)
        (task,) = [
            t for t in world.open_tasks(agreement, "extension_approval") if t.side == side.value
        ]
        assert bo.get(f"/tasks/{task.id}", follow_redirects=False).headers["location"] == page
        confirm = _post(bo, page, f"{page}/confirm", {"outcome": "approved"})
        assert confirm.status_code == 200
        assert "Confirm: Approve the extension" in confirm.text
        assert world.open_tasks(agreement, "extension_approval")  # nothing decided yet
        decided = _post(bo, page, f"{page}/decide", {"outcome": "approved"})
        assert decided.status_code == 303
    assert "now ends on 2028-03-31" in bo.get(page).text
    assert world.version(agreement, 2).state == "active"


def test_the_renewal_decision_is_taken_on_my_tasks(
    world: World, engine: Engine, signed_in: Client
) -> None:
    agreement = _active(world)
    _calendar(engine, date(2027, 6, 2))
    world.now = datetime(2027, 6, 3, 15, tzinfo=UTC)
    pm = signed_in(world.who(C, Role.PROGRAM_MANAGER).email)
    mine = pm.get("/tasks").text
    (task,) = [t for t in world.open_tasks(agreement, "renewal_decision") if t.side == C.value]
    assert "Renew by revision" in mine
    assert "Extend the end date" in mine
    assert f"/slas/{agreement.id}/extensions/new" in mine
    done = _post(
        pm,
        "/tasks",
        f"/tasks/{task.id}/complete",
        {"outcome": "renew_by_revision", "comment": "new scope"},
    )
    assert done.status_code == 303
    assert task.id not in [t.id for t in world.open_tasks(agreement, "renewal_decision")]
