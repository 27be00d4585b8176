"""Data corrections and disputes that end, over HTTP (api.md, "Joint accountability"), on both
databases: corrections with their history, old → new on a resubmission, acceptance with
exceptions, escalation to both Executive Sponsors and their decision by task."""

from __future__ import annotations

from typing import Any

from states import Role
from tests.api.conftest import Api
from tests.api.flows import (
    complete,
    count,
    create_sla,
    fields,
    open_tasks,
    outsider,
    sla_payload,
)
from tests.helpers import C, P
from tests.workflow.commands.test_periods import DEC_1, NOVEMBER
from tests.workflow.test_compliance_report import local
from tests.workflow.test_compliance_sql import store
from workflow import commands
from workflow.models import Agreement, MeasurementCorrection, Proposal

PM_P, FL_C = (P, Role.PROGRAM_MANAGER), (C, Role.FUNCTIONAL_LEAD)
TWELFTH = local(2026, 11, 12).isoformat()
DISPUTE = {"disputes": [{"metric": "proper-payments", "reason": "The file was short."}]}


def _reporting(api: Api) -> Agreement:
    agreement = api.world.create()
    api.world.to_active(agreement)
    assert agreement.id is not None
    store(api.world.session, agreement.id, NOVEMBER)
    commands.open_due_periods(api.world.session, now=DEC_1)
    api.clock[0] = DEC_1
    return agreement


def _event(api: Api, sla: int, event: str, by: Any, body: Any = None) -> Any:
    return api.client.post(
        f"/api/v1/slas/{sla}/periods/2026-11/events/{event}", json=body, headers=api.auth(*by)
    )


def _correct(api: Api, sla: int, by: Any, *rows: tuple[str, str, float, str]) -> Any:
    return api.client.post(
        f"/api/v1/slas/{sla}/measurements/corrections",
        json={
            "corrections": [
                {"metric": m, "observed_at": at, "value": v, "reason": r} for m, at, v, r in rows
            ]
        },
        headers=api.auth(*by),
    )


def test_a_correction_in_a_dispute_shows_old_to_new_and_its_history(api: Api) -> None:
    sla = _reporting(api).id or 0
    assert _event(api, sla, "submit", PM_P).status_code == 200
    # Under the customer's review: 409, with why.
    refused = _correct(api, sla, PM_P, ("proper-payments", TWELFTH, 99.7, "reloaded"))
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "2026-11 is submitted" in refused.json()["detail"]

    assert _event(api, sla, "dispute", FL_C, DISPUTE).status_code == 200
    done = _correct(api, sla, PM_P, ("proper-payments", TWELFTH, 99.7, "full file reloaded"))
    assert done.status_code == 200, done.text
    assert (done.json()["applied"], done.json()["proposed"]) == (1, 0)
    resubmitted = _event(api, sla, "resubmit", PM_P, {"comment": "Corrected."})
    assert resubmitted.status_code == 200
    [change] = resubmitted.json()["resubmission_changes"]
    assert (change["metric"], change["old_status"], change["new_status"]) == (
        "proper-payments",
        "missed",
        "met",
    )
    assert (change["old_actual"], change["new_actual"]) == (99.0, 99.7)
    assert resubmitted.json()["corrections"][0]["reason"] == "full file reloaded"

    history = api.client.get(
        f"/api/v1/slas/{sla}/measurements/history",
        params={"metric": "proper-payments", "observed_at": TWELFTH},
        headers=api.auth(C, Role.BUSINESS_OWNER),
    )
    assert history.status_code == 200
    assert [h["value"] for h in history.json()["history"]] == [99.0, 99.7]
    assert history.json()["history"][1]["set_by"]["name"] == api.world.who(*PM_P).name
    missing = api.client.get(
        f"/api/v1/slas/{sla}/measurements/history",
        params={"metric": "proper-payments", "observed_at": "2026-11-13T00:00:00Z"},
        headers=api.auth(*PM_P),
    )
    assert missing.status_code == 404
    naive = api.client.get(
        f"/api/v1/slas/{sla}/measurements/history",
        params={"metric": "proper-payments", "observed_at": "2026-11-13"},
        headers=api.auth(*PM_P),
    )
    assert fields(naive) == {"observed_at"}
    stranger = api.client.get(
        f"/api/v1/slas/{sla}/measurements/history",
        params={"metric": "proper-payments", "observed_at": TWELFTH},
        headers=outsider(api),
    )
    assert stranger.status_code == 404


def test_unknown_observations_are_named_and_nothing_is_written(api: Api) -> None:
    sla = _reporting(api).id or 0
    response = _correct(
        api,
        sla,
        PM_P,
        ("proper-payments", TWELFTH, 99.7, "good"),
        ("proper-payments", "2026-11-13T00:00:00Z", 99.7, "no such reading"),
    )
    assert fields(response) == {"corrections.1"}
    assert count(api.world.session, MeasurementCorrection) == 0
    empty = api.client.post(
        f"/api/v1/slas/{sla}/measurements/corrections",
        json={"corrections": []},
        headers=api.auth(*PM_P),
    )
    assert fields(empty) == {"corrections"}


def test_a_correction_of_a_final_report_is_a_proposal(api: Api) -> None:
    sla = _reporting(api).id or 0
    _event(api, sla, "submit", PM_P)
    _event(api, sla, "accept", FL_C)
    response = _correct(api, sla, PM_P, ("proper-payments", TWELFTH, 99.7, "reloaded"))
    assert response.status_code == 202, response.text
    [proposal] = response.json()["proposals"]
    assert (proposal["kind"], proposal["state"]) == ("amendment", "open")
    assert count(api.world.session, Proposal) == 1
    assert count(api.world.session, MeasurementCorrection) == 0
    [review] = open_tasks(api, sla, "proposal_review")
    assert complete(api, review, "accepted").status_code == 200
    assert count(api.world.session, MeasurementCorrection) == 1


def test_accepting_with_exceptions_over_http(api: Api) -> None:
    sla = _reporting(api).id or 0
    _event(api, sla, "submit", PM_P)
    final = _event(
        api,
        sla,
        "accept_with_exceptions",
        FL_C,
        {"exceptions": [{"metric": "proper-payments", "reason": "Still disputed."}]},
    )
    assert final.status_code == 200, final.text
    assert final.json()["state"] == "final"
    [exception] = final.json()["exceptions"]
    assert (exception["metric"], exception["state"]) == ("proper-payments", "open")


def test_two_rounds_escalate_and_both_sponsors_decide_by_task(api: Api) -> None:
    sla = _reporting(api).id or 0
    _event(api, sla, "submit", PM_P)
    _event(api, sla, "dispute", FL_C, DISPUTE)
    _event(api, sla, "resubmit", PM_P, {"comment": "The data is right."})
    escalated = _event(api, sla, "dispute", FL_C, DISPUTE)
    assert escalated.json()["state"] == "escalated"
    assert escalated.json()["escalations"] == 1
    # The Sponsors decide through their tasks; the event is not fired by hand.
    by_hand = _event(api, sla, "uphold", (C, Role.EXECUTIVE_SPONSOR))
    assert by_hand.status_code == 403
    decisions = open_tasks(api, sla, "dispute_decision")
    assert len(decisions) == 2
    no_comment = complete(api, decisions[0], "sustained")
    assert no_comment.status_code == 422
    for task in decisions:
        assert complete(api, task, "upheld").status_code == 200
    period = api.client.get(
        f"/api/v1/slas/{sla}/periods/2026-11", headers=api.auth(C, Role.BUSINESS_OWNER)
    )
    assert period.json()["state"] == "final"


def test_escalation_settings_are_validated(api: Api) -> None:
    created = create_sla(api, dispute_escalation_rounds=3, dispute_escalation_business_days=20)
    assert (
        created["dispute_escalation_rounds"],
        created["dispute_escalation_business_days"],
    ) == (3, 20)
    assert create_sla(api)["dispute_escalation_rounds"] == 2

    bad = api.client.post(
        "/api/v1/slas",
        json=sla_payload(api, dispute_escalation_rounds=0, dispute_escalation_business_days=999),
        headers=api.auth(C, Role.PROGRAM_MANAGER),
    )
    assert fields(bad) == {"dispute_escalation_rounds", "dispute_escalation_business_days"}
