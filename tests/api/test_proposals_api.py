"""Proposals over HTTP (api.md, "Joint accountability"), on both databases: an excusal is
proposed (202) and counts only when the other side accepts; the proposer never decides;
a rejection needs a comment; an excusal in force is withdrawn the same way; both sides hear."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from states import Role
from tests.api.conftest import Api
from tests.api.flows import outsider
from tests.helpers import C, P
from tests.notifications.smtp import Mailbox, smtp_server
from tests.notifications.test_end_to_end import deliver, to
from tests.workflow.commands.test_periods import DEC_1, NOVEMBER
from tests.workflow.test_compliance_sql import store
from workflow import commands
from workflow.models import Agreement, Excusal

PM, FL = Role.PROGRAM_MANAGER, Role.FUNCTIONAL_LEAD
EXCUSAL = {
    "metric": "proper-payments",
    "window": "2026-11",
    "party": "customer",
    "reason": "the customer's data arrived late",
}


def _reporting(api: Api) -> Agreement:
    agreement = api.world.create()
    api.world.to_active(agreement)
    assert agreement.id is not None
    store(api.world.session, agreement.id, NOVEMBER)
    commands.open_due_periods(api.world.session, now=DEC_1)
    api.clock[0] = DEC_1
    return agreement


def _status(api: Api, agreement: Agreement) -> str:
    report = api.client.get(
        f"/api/v1/slas/{agreement.id}/reports/compliance?from=2026-11-01&to=2026-11-30",
        headers=api.auth(C, PM),
    ).json()
    row = next(m for m in report["metrics"] if m["key"] == "proper-payments")
    status: str = row["windows"][0]["status"]
    return status


def _propose(api: Api, agreement: Agreement) -> int:
    response = api.client.post(
        f"/api/v1/slas/{agreement.id}/excusals", json=EXCUSAL, headers=api.auth(P, PM)
    )
    assert response.status_code == 202, response.text
    assert response.json()["state"] == "open"
    proposal_id: int = response.json()["proposal_id"]
    return proposal_id


def _decide(api: Api, proposal_id: int, what: str, by: Any, **body: Any) -> Any:
    return api.client.post(
        f"/api/v1/proposals/{proposal_id}/{what}", json=body, headers=api.auth(*by)
    )


def test_an_excusal_is_proposed_and_counts_once_accepted(api: Api) -> None:
    agreement = _reporting(api)
    proposal_id = _propose(api, agreement)
    assert _status(api, agreement) == "missed"

    shown = api.client.get(f"/api/v1/proposals/{proposal_id}", headers=api.auth(C, FL))
    assert shown.status_code == 200
    proposal = shown.json()
    assert proposal["sla_id"] == agreement.id
    assert (proposal["kind"], proposal["state"]) == ("excusal", "open")
    assert proposal["proposed_by"] == {
        "user_id": api.world.who(P, PM).user_id,
        "side": "provider",
    }
    assert proposal["counterpart_side"] == "customer"
    assert proposal["effect"]["changes"][0]["after"].startswith("excused, charged to the customer")
    assert proposal["decided_by"] is None
    task = api.client.get(f"/api/v1/tasks/{proposal['task_id']}", headers=api.auth(C, PM)).json()
    assert (task["kind"], task["side"], task["role"]) == (
        "proposal_review",
        "customer",
        "program_manager",
    )

    # The proposer cannot decide their own; a stranger does not see it.
    assert _decide(api, proposal_id, "accept", (P, PM)).status_code == 403
    stranger = outsider(api)
    assert api.client.get(f"/api/v1/proposals/{proposal_id}", headers=stranger).status_code == 404
    assert api.client.get("/api/v1/proposals", headers=stranger).json()["items"] == []

    accepted = _decide(api, proposal_id, "accept", (C, PM), comment="agreed")
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert (body["state"], body["comment"]) == ("accepted", "agreed")
    assert body["decided_by"] == {"user_id": api.world.who(C, PM).user_id, "side": "customer"}
    assert body["decided_at"] is not None
    assert _status(api, agreement) == "excused"
    again = _decide(api, proposal_id, "reject", (C, PM), comment="changed my mind")
    assert again.status_code == 409


def test_a_rejection_needs_a_comment_and_lists_filter(api: Api) -> None:
    agreement = _reporting(api)
    proposal_id = _propose(api, agreement)
    assert _decide(api, proposal_id, "reject", (C, FL)).status_code == 422
    assert _decide(api, proposal_id, "reject", (C, FL), comment=" ").status_code == 422
    rejected = _decide(api, proposal_id, "reject", (C, FL), comment="the data was on time")
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["state"] == "rejected"
    assert _status(api, agreement) == "missed"

    second = _propose(api, agreement)
    headers = api.auth(C, PM)
    listed = api.client.get("/api/v1/proposals", headers=headers).json()["items"]
    assert [p["id"] for p in listed] == [second, proposal_id]  # newest first
    only_open = api.client.get("/api/v1/proposals?state=open", headers=headers).json()["items"]
    assert [p["id"] for p in only_open] == [second]
    other = api.world.create()
    by_sla = api.client.get(f"/api/v1/proposals?sla_id={other.id}", headers=headers).json()
    assert by_sla["items"] == []
    assert api.client.get("/api/v1/proposals?state=maybe", headers=headers).status_code == 422


def test_completing_the_review_task_decides_the_proposal(api: Api) -> None:
    agreement = _reporting(api)
    proposal_id = _propose(api, agreement)
    task_id = api.client.get(f"/api/v1/proposals/{proposal_id}", headers=api.auth(C, PM)).json()[
        "task_id"
    ]
    refused = api.client.post(
        f"/api/v1/tasks/{task_id}/complete",
        json={"outcome": "rejected"},
        headers=api.auth(C, PM),
    )
    assert refused.status_code == 422
    done = api.client.post(
        f"/api/v1/tasks/{task_id}/complete",
        json={"outcome": "accepted"},
        headers=api.auth(C, PM),
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "completed"
    shown = api.client.get(f"/api/v1/proposals/{proposal_id}", headers=api.auth(P, PM)).json()
    assert shown["state"] == "accepted"
    assert _status(api, agreement) == "excused"


def test_an_excusal_in_force_is_withdrawn_by_proposal(api: Api) -> None:
    agreement = _reporting(api)
    proposal_id = _propose(api, agreement)
    _decide(api, proposal_id, "accept", (C, PM))
    report = api.client.get(
        f"/api/v1/slas/{agreement.id}/reports/compliance?from=2026-11-01&to=2026-11-30",
        headers=api.auth(C, PM),
    ).json()
    assert report["totals"]["excused"] == 1
    excusal_id = api.world.session.exec(select(Excusal.id)).one()
    api.world.session.rollback()

    withdrawal = api.client.delete(f"/api/v1/excusals/{excusal_id}", headers=api.auth(C, PM))
    assert withdrawal.status_code == 202, withdrawal.text
    proposal = withdrawal.json()
    assert (proposal["kind"], proposal["state"]) == ("excusal_withdrawal", "open")
    assert proposal["counterpart_side"] == "provider"
    twice = api.client.delete(f"/api/v1/excusals/{excusal_id}", headers=api.auth(C, PM))
    assert twice.status_code == 409
    assert _status(api, agreement) == "excused"  # until the provider accepts
    assert _decide(api, proposal["id"], "accept", (P, FL)).status_code == 200
    assert _status(api, agreement) == "missed"
    gone = api.client.delete(f"/api/v1/excusals/{excusal_id}", headers=api.auth(C, PM))
    assert gone.status_code == 409
    assert api.client.delete("/api/v1/excusals/999999", headers=api.auth(C, PM)).status_code == 404
    _propose(api, agreement)  # the window may be excused again


@pytest.fixture
def post() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    with smtp_server(box) as controller:
        yield box, controller.port


def test_both_sides_leads_hear_of_the_proposal_and_the_decision(
    api: Api, engine: Engine, post: tuple[Mailbox, int]
) -> None:
    agreement = _reporting(api)
    api.world.now = DEC_1
    deliver(api.world, engine, post)  # what the lifecycle sent before
    proposal_id = _propose(api, agreement)
    leads = {api.world.who(side, role).email for side in (C, P) for role in (PM, FL)}
    sent = deliver(api.world, engine, post)
    made = [m for m in sent if "The provider proposes" in str(m["Subject"])]
    assert Counter(to(m) for m in made) == Counter(leads)
    plain = made[0].get_body(("plain",))
    assert plain is not None
    assert f"/proposals/{proposal_id}" in plain.get_content()
    assert (
        "Proper payments, excluding customer errors in 2026-11: counts as a miss"
        in plain.get_content()
    )
    review = [m for m in sent if m not in made]
    assert [to(m) for m in review] == [api.world.who(C, PM).email]  # the task

    _decide(api, proposal_id, "reject", (C, PM), comment="Our data was on time.")
    decided = deliver(api.world, engine, post)
    assert Counter(to(m) for m in decided) == Counter(leads)
    text = decided[0].get_body(("plain",))
    assert text is not None
    assert "Our data was on time." in text.get_content()
    assert "rejected" in str(decided[0]["Subject"])
