"""Gap analysis over HTTP: computed gaps, gaps added by hand, and the four resolutions."""

from __future__ import annotations

from typing import Any

from httpx2 import Response

from states import Role
from tests.api.conftest import Api
from tests.api.flows import (
    PM,
    complete_all,
    create_sla,
    fields,
    fire,
    gaps,
    outsider,
    to_gap_analysis,
    version,
    version_url,
)
from tests.helpers import C, P


def _gap(api: Api, sla_id: int, metric: str) -> dict[str, Any]:
    return next(g for g in gaps(api, sla_id) if g["metric_key"] == metric)


def _resolve(api: Api, gap_id: int, by: tuple[Any, Role] = (C, PM), **body: Any) -> Response:
    return api.client.post(f"/api/v1/gaps/{gap_id}/resolve", json=body, headers=api.auth(*by))


def _accept(api: Api, proposed: Response, by: tuple[Any, Role] = (P, PM)) -> dict[str, Any]:
    """The other side accepts a resolution that was proposed to it (202); the proposal."""
    assert proposed.status_code == 202, proposed.text
    proposal = proposed.json()
    assert (proposal["kind"], proposal["state"]) == ("gap_resolution", "open")
    accepted = api.client.post(
        f"/api/v1/proposals/{proposal['id']}/accept", json={}, headers=api.auth(*by)
    )
    assert accepted.status_code == 200, accepted.text
    result: dict[str, Any] = accepted.json()
    return result


def _metric(api: Api, sla_id: int, key: str) -> tuple[float, float, float]:
    metric = next(m for m in version(api, sla_id)["metrics"] if m["key"] == key)
    return metric["requirement"], metric["capability"], metric["target"]


def test_entering_gap_analysis_computes_the_gaps_between_requirement_and_capability(
    api: Api,
) -> None:
    sla = create_sla(api)
    assert gaps(api, sla["id"]) == []
    to_gap_analysis(api, sla["id"])
    found = gaps(api, sla["id"])
    assert [(g["metric_key"], g["severity"], g["source"]) for g in found] == [
        ("payroll-posting-timeliness", "medium", "computed"),
        ("core-app-availability", "high", "computed"),
    ]
    availability = found[1]
    assert (availability["requirement"], availability["capability"]) == (99.9, 99.5)
    assert availability["version_number"] == 1
    assert availability["resolution"] is None


def test_each_resolution_moves_the_metric_its_own_way(api: Api) -> None:
    sla = create_sla(api)
    to_gap_analysis(api, sla["id"])
    availability = _gap(api, sla["id"], "core-app-availability")
    posting = _gap(api, sla["id"], "payroll-posting-timeliness")

    # An agreed target moves both sides' figures: the provider must accept it first.
    adjusted = _resolve(api, availability["id"], resolution="target_adjusted", agreed_target=99.7)
    assert adjusted.status_code == 202, adjusted.text
    assert adjusted.json()["counterpart_side"] == "provider"
    assert _metric(api, sla["id"], "core-app-availability") == (99.9, 99.5, 99.5)  # unchanged
    _accept(api, adjusted)
    resolved = _gap(api, sla["id"], "core-app-availability")
    assert resolved["resolution"] == "target_adjusted"
    assert resolved["resolved_by"]["name"] == "Priya Raman"
    assert _metric(api, sla["id"], "core-app-availability") == (99.7, 99.7, 99.7)

    accepted = _resolve(
        api, posting["id"], by=(C, Role.FUNCTIONAL_LEAD), resolution="customer_accepts"
    )
    assert accepted.status_code == 200, accepted.text
    assert _metric(api, sla["id"], "payroll-posting-timeliness") == (98, 98, 98)

    again = _resolve(api, posting["id"], resolution="waived", note="changed our minds")
    assert again.status_code == 409
    assert "already resolved" in again.json()["detail"]


def test_resolutions_are_checked_and_every_bad_field_named(api: Api) -> None:
    sla = create_sla(api)
    to_gap_analysis(api, sla["id"])
    gap = _gap(api, sla["id"], "core-app-availability")
    assert fields(_resolve(api, gap["id"], resolution="ignored")) == {"resolution"}
    assert fields(_resolve(api, gap["id"], resolution="target_adjusted")) == {"agreed_target"}
    assert fields(_resolve(api, gap["id"], resolution="waived", note=" ")) == {"note"}
    assert fields(_resolve(api, gap["id"], resolution="waived", id=3)) == {"id"}
    assert _resolve(api, gap["id"], by=(C, Role.PMO_TEAM), resolution="waived").status_code == 403
    waived = _resolve(api, gap["id"], resolution="waived", note="legacy system retires in Q2")
    _accept(api, waived)  # by the provider's Program Manager
    assert _gap(api, sla["id"], "core-app-availability")["resolution_note"] == (
        "legacy system retires in Q2"
    )
    assert _metric(api, sla["id"], "core-app-availability") == (99.9, 99.5, 99.5)
    assert _resolve(api, 999, resolution="waived", note="x").status_code == 404
    stranger = outsider(api)
    hidden = api.client.post(
        f"/api/v1/gaps/{gap['id']}/resolve", json={"resolution": "waived"}, headers=stranger
    )
    assert hidden.status_code == 404


def test_a_gap_added_by_hand_must_be_resolved_before_approval(api: Api) -> None:
    sla = create_sla(api)
    url = f"{version_url(sla['id'])}/gaps"
    body = {
        "metric_key": "prompt-payment",
        "description": "last year missed twice",
        "severity": "low",
    }
    too_early = api.client.post(url, json=body, headers=api.auth(C, Role.FUNCTIONAL_LEAD))
    assert too_early.status_code == 409
    assert too_early.json()["current_state"] == "draft"

    to_gap_analysis(api, sla["id"])
    bad = api.client.post(
        url,
        json={"metric_key": "nope", "description": " ", "severity": "dire"},
        headers=api.auth(C, Role.FUNCTIONAL_LEAD),
    )
    assert fields(bad) == {"metric_key", "description", "severity"}
    assert api.client.post(url, json=body, headers=api.auth(P, Role.PMO_TEAM)).status_code == 403
    added = api.client.post(url, json=body, headers=api.auth(C, Role.FUNCTIONAL_LEAD))
    assert added.status_code == 201, added.text
    gap = added.json()
    assert (gap["source"], gap["severity"], gap["requirement"]) == ("manual", "low", 99.5)
    assert gap["created_by"]["name"] == "Sam Okafor"

    for other in gaps(api, sla["id"]):
        if other["source"] == "computed":
            _resolve(api, other["id"], by=(P, PM), resolution="provider_commits")
    for kind in ("confirm_requirements", "confirm_capabilities", "lcce_review"):
        complete_all(api, sla["id"], kind, "done")
    blocked = fire(api, sla["id"], "submit_for_approval", (P, PM))
    assert blocked.status_code == 409
    assert blocked.json()["reasons"] == ["every gap must be resolved before approval"]
    waiver = _resolve(api, gap["id"], resolution="waived", note="tracked in the service review")
    still = fire(api, sla["id"], "submit_for_approval", (P, PM))  # a proposal is no resolution
    assert still.json()["reasons"] == ["every gap must be resolved before approval"]
    _accept(api, waiver)
    assert fire(api, sla["id"], "submit_for_approval", (P, PM)).json()["state"] == "approval"


def test_gaps_are_listed_a_page_at_a_time(api: Api) -> None:
    sla = create_sla(api)
    to_gap_analysis(api, sla["id"])
    url = f"{version_url(sla['id'])}/gaps"
    first = api.client.get(url, params={"limit": 1}, headers=api.auth(P, PM)).json()
    assert [g["metric_key"] for g in first["items"]] == ["payroll-posting-timeliness"]
    rest = api.client.get(
        url, params={"limit": 1, "cursor": first["next_cursor"]}, headers=api.auth(P, PM)
    ).json()
    assert [g["metric_key"] for g in rest["items"]] == ["core-app-availability"]
    assert rest["next_cursor"] is None
