"""Extensions and service reviews over HTTP (api.md, Joint accountability), on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from states import Role
from tests.api.conftest import Api
from tests.api.flows import outsider
from tests.helpers import C, P
from workflow.commands.calendar_jobs import run_calendar
from workflow.models import Agreement

OCT_4 = datetime(2027, 10, 4, 14, tzinfo=UTC)
JAN_8 = datetime(2027, 1, 8, 15, tzinfo=UTC)


def _expired(api: Api, engine: Engine) -> Agreement:
    agreement = api.world.create()
    api.world.to_active(agreement)
    with Session(engine, expire_on_commit=False) as session:
        run_calendar(session, now=datetime(2027, 10, 1, 14, tzinfo=UTC))
    api.clock[0] = OCT_4
    return agreement


def test_an_expired_sla_is_extended_over_http(api: Api, engine: Engine) -> None:
    agreement = _expired(api, engine)
    base = f"/api/v1/slas/{agreement.id}/extensions"
    body = {"new_end_date": "2028-03-31", "reason": "successor contract starts in April"}
    assert (
        api.client.post(base, json=body, headers=api.auth(C, Role.BUSINESS_OWNER)).status_code
        == 403
    )
    bad = api.client.post(
        base, json={**body, "new_end_date": "2027-09-01"}, headers=api.auth(P, Role.PROGRAM_MANAGER)
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["errors"] == [
        {"field": "new_end_date", "message": "must be after the current end, 2027-09-30"}
    ]
    missing = api.client.post(base, json={}, headers=api.auth(P, Role.PROGRAM_MANAGER))
    assert {e["field"] for e in missing.json()["errors"]} == {"new_end_date", "reason"}

    created = api.client.post(base, json=body, headers=api.auth(P, Role.PROGRAM_MANAGER))
    assert created.status_code == 201, created.text
    extension = created.json()
    assert (extension["state"], extension["current_end"], extension["new_end_date"]) == (
        "requested",
        "2027-09-30",
        "2028-03-31",
    )
    assert [d["side"] for d in extension["decisions"]] == ["customer", "provider"]
    again = api.client.post(base, json=body, headers=api.auth(C, Role.PROGRAM_MANAGER))
    assert again.status_code == 409

    one = f"{base}/{extension['id']}"
    assert (
        api.client.post(
            f"{one}/reject", json={}, headers=api.auth(C, Role.BUSINESS_OWNER)
        ).status_code
        == 422
    )
    assert (
        api.client.post(f"{one}/approve", headers=api.auth(C, Role.PROGRAM_MANAGER)).status_code
        == 403
    )
    first = api.client.post(f"{one}/approve", headers=api.auth(C, Role.BUSINESS_OWNER))
    assert (first.status_code, first.json()["state"]) == (200, "requested")
    second = api.client.post(f"{one}/approve", headers=api.auth(P, Role.BUSINESS_OWNER))
    assert second.status_code == 200
    assert (second.json()["state"], second.json()["new_version_number"]) == ("approved", 2)
    sla = api.client.get(f"/api/v1/slas/{agreement.id}", headers=api.auth(C, Role.PROGRAM_MANAGER))
    assert sla.json()["annual_review_days_before_end"] == 60  # the default, per agreement
    active = sla.json()["active_version"]
    assert (active["number"], active["state"], active["modification_number"]) == (2, "active", 1)
    stranger = outsider(api)
    assert api.client.get(base, headers=stranger).status_code == 404


def test_minutes_over_http_open_action_items_and_invalid_ones_name_each_field(
    api: Api, engine: Engine
) -> None:
    agreement = api.world.create()
    api.world.to_active(agreement)
    with Session(engine, expire_on_commit=False) as session:
        run_calendar(session, now=datetime(2027, 1, 1, 14, tzinfo=UTC))
    api.clock[0] = JAN_8
    base = f"/api/v1/slas/{agreement.id}/service-reviews"
    listed = api.client.get(base, headers=api.auth(P, Role.PROGRAM_MANAGER))
    assert listed.status_code == 200
    (review,) = listed.json()["items"]
    assert (review["quarter"], review["state"], review["agenda"]) == ("2026-Q4", "open", [])
    owner = api.world.who(P, Role.TECHNICAL_LEAD).user_id
    minutes = {
        "held_on": "2027-01-07",
        "attendees": [api.world.who(C, Role.PROGRAM_MANAGER).user_id, owner],
        "decisions": ["Keep the monthly cadence"],
        "action_items": [
            {
                "description": "Publish the 2027 maintenance windows",
                "owner_id": owner,
                "due_on": "2027-01-29",
            }
        ],
    }
    url = f"{base}/{review['id']}/minutes"
    invalid = api.client.post(
        url,
        json={
            **minutes,
            "attendees": [999999],
            "action_items": [{"description": "x", "owner_id": 999999, "due_on": "2026-12-01"}],
        },
        headers=api.auth(C, Role.PROGRAM_MANAGER),
    )
    assert invalid.status_code == 422
    assert [e["field"] for e in invalid.json()["errors"]] == [
        "attendees.0",
        "action_items.0.owner_id",
        "action_items.0.due_on",
    ]
    shape = api.client.post(
        url, json={"held_on": "soon"}, headers=api.auth(C, Role.PROGRAM_MANAGER)
    )
    assert {e["field"] for e in shape.json()["errors"]} == {"held_on", "attendees"}

    held = api.client.post(url, json=minutes, headers=api.auth(C, Role.PROGRAM_MANAGER))
    assert held.status_code == 200, held.text
    body = held.json()
    assert (body["state"], body["held_on"], body["decisions"]) == (
        "held",
        "2027-01-07",
        ["Keep the monthly cadence"],
    )
    (item,) = body["action_items"]
    assert (item["owner"]["id"], item["due_on"], item["state"]) == (owner, "2027-01-29", "open")
    task = api.client.get(
        f"/api/v1/tasks/{item['task_id']}", headers=api.auth(P, Role.TECHNICAL_LEAD)
    )
    assert (task.json()["kind"], task.json()["service_review_id"]) == ("action_item", review["id"])
    assert date.fromisoformat(task.json()["due_on"]) == date(2027, 1, 29)
    assert (
        api.client.post(url, json=minutes, headers=api.auth(P, Role.PROGRAM_MANAGER)).status_code
        == 409
    )
