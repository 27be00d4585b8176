"""Versions over HTTP: the lifecycle of domain.md, refusals, edits under optimistic locking."""

from __future__ import annotations

from typing import Any

from httpx2 import Response

from states import Role
from tests.api.conftest import Api
from tests.api.flows import (
    BO,
    PM,
    complete,
    complete_all,
    count,
    create_sla,
    fields,
    fire,
    gaps,
    open_tasks,
    resolve_all_gaps,
    sla_url,
    state_of,
    to_active,
    to_approval,
    to_gap_analysis,
    version,
    version_url,
)
from tests.helpers import C, P
from workflow.models import AuditEvent, OutboxMessage

FL = Role.FUNCTIONAL_LEAD
TL = Role.TECHNICAL_LEAD


def _kinds(tasks: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted((t["kind"], t["side"], t["role"]) for t in tasks)


def _patch(
    api: Api, sla_id: int, body: dict[str, Any], number: int = 1, if_match: str | None = None
) -> Response:
    headers = api.auth(C, FL) | ({"If-Match": if_match} if if_match is not None else {})
    return api.client.patch(version_url(sla_id, number), json=body, headers=headers)


def test_an_sla_goes_from_draft_to_active_then_a_revision_supersedes_it(api: Api) -> None:
    sla = create_sla(api)
    sid = sla["id"]

    # Draft → joint review: both sides review; a reviewer sends it back once.
    submitted = fire(api, sid, "submit_for_review", (P, TL))
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["state"] == "joint_review"
    assert _kinds(open_tasks(api, sid)) == [
        ("review", "customer", "functional_lead"),
        ("review", "provider", "technical_lead"),
    ]
    customer_review = next(t for t in open_tasks(api, sid, "review") if t["side"] == "customer")
    sent_back = complete(
        api, customer_review, "changes_requested", comment="payroll accuracy needs a source"
    )
    assert sent_back.json()["outcome"] == "changes_requested"
    assert state_of(api, sid) == "draft"
    assert _kinds(open_tasks(api, sid)) == [("rework", "customer", "program_manager")]
    complete_all(api, sid, "rework", "done")

    # Joint review → gap analysis: gaps computed, requirements and capabilities confirmed.
    to_gap_analysis(api, sid)
    assert state_of(api, sid) == "gap_analysis"
    assert sorted(g["metric_key"] for g in gaps(api, sid)) == [
        "core-app-availability",
        "payroll-posting-timeliness",
    ]
    resolve_all_gaps(api, sid)
    for kind in ("confirm_requirements", "confirm_capabilities", "lcce_review"):
        complete_all(api, sid, kind, "done")

    # Gap analysis → approval: version 1 needs both Business Owners and both Sponsors.
    assert fire(api, sid, "submit_for_approval", (C, PM)).json()["state"] == "approval"
    assert _kinds(open_tasks(api, sid)) == [
        ("approval", "customer", "business_owner"),
        ("approval", "customer", "executive_sponsor"),
        ("approval", "provider", "business_owner"),
        ("approval", "provider", "executive_sponsor"),
    ]
    complete_all(api, sid, "approval", "approved")
    active = api.client.get(sla_url(sid), headers=api.auth(C, BO)).json()
    assert active["active_version"]["number"] == 1
    assert active["active_version"]["activated_at"] is not None
    assert active["working_version"] is None

    # A revision: version 2 drafted by the provider while version 1 stays in force.
    revision = api.client.post(f"{sla_url(sid)}/revisions", headers=api.auth(P, BO)).json()
    assert (revision["number"], revision["modification_number"]) == (2, 1)
    metrics = revision["metrics"]
    metrics[0]["target"] = 99.5
    unexplained = _patch(
        api, sid, {"lock_version": revision["lock_version"], "metrics": metrics}, 2
    )
    assert fields(unexplained) == {"metrics.0.target_change"}
    metrics[0]["target_change"] = {"driven_by": "provider", "reason": "staffing changes"}
    edited = _patch(
        api,
        sid,
        {
            "lock_version": revision["lock_version"],
            "metrics": metrics,
            "terms": {"annual_cost": "5000000.00"},  # +3.1%: under the 10% Sponsor threshold
        },
        2,
    )
    assert edited.status_code == 200, edited.text
    assert state_of(api, sid, 1) == "active"

    # Approval of the revision: Business Owners only; one rejects, and round it goes again.
    to_approval(api, sid, 2)
    assert _kinds(open_tasks(api, sid, "approval")) == [
        ("approval", "customer", "business_owner"),
        ("approval", "provider", "business_owner"),
    ]
    assert version(api, sid, 2, by=(C, BO))["allowed_events"] == ["reject"]
    rejected = fire(api, sid, "reject", (C, BO), 2, comment="the cost increase needs a rationale")
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["state"] == "draft"
    assert open_tasks(api, sid, "approval") == []
    assert _kinds(open_tasks(api, sid)) == [("rework", "provider", "program_manager")]
    complete_all(api, sid, "rework", "done")
    to_active(api, sid, 2)

    final = api.client.get(sla_url(sid), headers=api.auth(P, PM)).json()
    assert [(v["number"], v["state"]) for v in final["versions"]] == [
        (1, "superseded"),
        (2, "active"),
    ]
    assert final["active_version"]["number"] == 2
    assert final["working_version"] is None
    assert version(api, sid, 2)["metrics"][0]["target"] == 99.5


def test_a_version_lists_the_events_each_caller_may_fire_and_carries_an_etag(api: Api) -> None:
    sla = create_sla(api)
    response = api.client.get(version_url(sla["id"]), headers=api.auth(C, PM))
    assert response.headers["etag"] == '"1"'
    body = response.json()
    assert (body["state"], body["lock_version"]) == ("draft", 1)
    assert body["allowed_events"] == ["submit_for_review", "withdraw"]
    assert version(api, sla["id"], by=(P, TL))["allowed_events"] == ["submit_for_review"]
    assert version(api, sla["id"], by=(C, BO))["allowed_events"] == []
    assert body["not_ready"] == {}  # a draft with metrics and a period goes to review


def test_a_version_says_what_each_of_the_caller_s_events_still_needs(api: Api) -> None:
    sla = create_sla(api)
    to_gap_analysis(api, sla["id"])
    body = version(api, sla["id"], by=(P, PM))
    assert body["allowed_events"] == ["request_rework", "submit_for_approval", "withdraw"]
    assert body["not_ready"] == {
        "submit_for_approval": [
            "every gap must be resolved before approval",
            "gap-analysis tasks are still open",
        ]
    }
    assert body["terms"]["period_start"] == "2026-10-01"
    assert len(body["metrics"]) == 15
    assert body["created_by"]["name"] == "Priya Raman"


def test_an_event_the_state_does_not_allow_is_409_naming_state_and_allowed_events(
    api: Api,
) -> None:
    sla = create_sla(api)
    response = fire(api, sla["id"], "submit_for_approval", (C, PM))
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["current_state"] == "draft"
    assert problem["allowed_events"] == ["submit_for_review", "withdraw"]
    assert "submit_for_approval is not allowed while version 1 is draft" in problem["detail"]


def test_a_failed_guard_is_409_with_the_reasons(api: Api) -> None:
    sla = create_sla(api)
    to_gap_analysis(api, sla["id"])
    response = fire(api, sla["id"], "submit_for_approval", (C, PM))
    assert response.status_code == 409
    problem = response.json()
    assert problem["current_state"] == "gap_analysis"
    assert problem["reasons"] == [
        "every gap must be resolved before approval",
        "gap-analysis tasks are still open",
    ]
    assert problem["allowed_events"] == ["request_rework", "submit_for_approval", "withdraw"]


def test_the_wrong_role_is_403_and_an_unknown_event_404(api: Api) -> None:
    sla = create_sla(api)
    refused = fire(api, sla["id"], "submit_for_review", (C, BO))
    assert refused.status_code == 403
    assert "Program Manager or Technical Lead" in refused.json()["detail"]
    assert fire(api, sla["id"], "launch", (C, PM)).status_code == 404
    assert api.client.get(version_url(sla["id"], 7), headers=api.auth(C, PM)).status_code == 404
    assert state_of(api, sla["id"]) == "draft"


def test_a_refused_command_leaves_no_audit_event_and_no_outbox_message(api: Api) -> None:
    sla = create_sla(api)
    session = api.world.session
    before = (count(session, AuditEvent), count(session, OutboxMessage))
    refusals = [
        fire(api, sla["id"], "withdraw", (C, PM)),  # guard: a comment is required
        fire(api, sla["id"], "submit_for_review", (C, BO)),  # wrong role
        fire(api, sla["id"], "terminate", (C, BO), comment="x"),  # wrong state
        _patch(api, sla["id"], {"lock_version": 9, "terms": {"currency": "EUR"}}),  # stale
        _patch(api, sla["id"], {"lock_version": 1, "metrics": [{"key": "x"}]}),  # invalid
        api.client.post(f"{sla_url(sla['id'])}/revisions", headers=api.auth(C, PM)),
    ]
    assert [r.status_code for r in refusals] == [409, 403, 409, 409, 422, 409]
    assert (count(session, AuditEvent), count(session, OutboxMessage)) == before
    assert version(api, sla["id"])["lock_version"] == 1


def test_an_edit_needs_the_lock_version_read_and_a_stale_one_is_409(api: Api) -> None:
    sla = create_sla(api)
    first = _patch(api, sla["id"], {"lock_version": 1, "terms": {"payment_terms": "Net 30"}})
    assert first.status_code == 200, first.text
    assert first.headers["etag"] == '"2"'
    body = first.json()
    assert body["lock_version"] == 2
    assert body["terms"]["payment_terms"] == "Net 30"
    assert body["terms"]["annual_cost"] == "4850000.00"  # terms merge key by key
    assert body["last_edited_by"]["name"] == "Sam Okafor"

    stale = _patch(api, sla["id"], {"lock_version": 1, "terms": {"payment_terms": "Net 45"}})
    assert stale.status_code == 409
    assert stale.json()["current_lock_version"] == 2
    assert "reload" in stale.json()["detail"]

    missing = _patch(api, sla["id"], {"terms": {"payment_terms": "Net 45"}})
    assert missing.status_code == 428
    assert missing.headers["content-type"] == "application/problem+json"
    assert "If-Match" in missing.json()["detail"]


def test_if_match_carries_the_etag_instead_of_the_body(api: Api) -> None:
    sla = create_sla(api)
    etag = api.client.get(version_url(sla["id"]), headers=api.auth(C, FL)).headers["etag"]
    edited = _patch(api, sla["id"], {"terms": {"billing_frequency": "monthly"}}, if_match=etag)
    assert edited.status_code == 200, edited.text
    assert edited.headers["etag"] == '"2"'
    again = _patch(api, sla["id"], {"terms": {"billing_frequency": "annual"}}, if_match=etag)
    assert again.status_code == 409
    disagree = _patch(api, sla["id"], {"lock_version": 1}, if_match='"2"')
    assert fields(disagree) == {"If-Match"}
    garbage = _patch(api, sla["id"], {}, if_match="yesterday")
    assert fields(garbage) == {"If-Match"}
    assert version(api, sla["id"])["terms"]["billing_frequency"] == "monthly"


def test_an_edit_names_every_bad_field_and_cannot_touch_server_owned_ones(api: Api) -> None:
    sla = create_sla(api)
    metrics = version(api, sla["id"])["metrics"]
    metrics[1] = {**metrics[1], "target": "high", "colour": "red"}
    response = _patch(
        api,
        sla["id"],
        {
            "lock_version": 1,
            "state": "active",
            "content_hash": "0" * 64,
            "number": 3,
            "terms": {"currency": "dollars", "discount": 5},
            "metrics": metrics,
        },
    )
    assert fields(response) == {
        "state",
        "content_hash",
        "number",
        "terms.currency",
        "terms.discount",
        "metrics.1.target",
        "metrics.1.colour",
    }
    duplicate = _patch(api, sla["id"], {"lock_version": 1, "metrics": [metrics[0], metrics[0]]})
    assert fields(duplicate) == {"metrics"}


def test_a_null_term_is_removed_and_only_a_draft_can_be_edited(api: Api) -> None:
    sla = create_sla(api)
    cleared = _patch(api, sla["id"], {"lock_version": 1, "terms": {"stabilization": None}})
    assert "stabilization" not in cleared.json()["terms"]
    fire(api, sla["id"], "submit_for_review", (C, PM))
    in_review = version(api, sla["id"])
    refused = _patch(api, sla["id"], {"lock_version": in_review["lock_version"], "terms": {}})
    assert refused.status_code == 409
    assert refused.json()["current_state"] == "joint_review"
    assert "only a draft can be edited" in refused.json()["detail"]


def test_an_event_with_a_stale_lock_version_is_409(api: Api) -> None:
    sla = create_sla(api)
    _patch(api, sla["id"], {"lock_version": 1, "terms": {"payment_terms": "Net 30"}})
    stale = fire(api, sla["id"], "submit_for_review", (C, PM), lock_version=1)
    assert stale.status_code == 409
    assert stale.json()["current_lock_version"] == 2
    fresh = api.client.post(
        f"{version_url(sla['id'])}/events/submit_for_review",
        headers={**api.auth(C, PM), "If-Match": '"2"'},
    )
    assert fresh.status_code == 200, fresh.text


def test_the_same_idempotency_key_fires_an_event_once(api: Api) -> None:
    sla = create_sla(api)
    headers = {**api.auth(C, PM), "Idempotency-Key": "submit-v1"}
    url = f"{version_url(sla['id'])}/events/submit_for_review"
    first = api.client.post(url, json={"comment": "ready"}, headers=headers)
    events = count(api.world.session, AuditEvent)
    again = api.client.post(url, json={"comment": "ready"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert count(api.world.session, AuditEvent) == events


def test_the_diff_compares_with_the_active_version_by_default(api: Api) -> None:
    sla = create_sla(api)
    sid = sla["id"]
    first = api.client.get(f"{version_url(sid)}/diff", headers=api.auth(C, PM)).json()
    assert first["against"] is None
    assert len(first["metrics_added"]) == 15
    to_active(api, sid)
    revision = api.client.post(f"{sla_url(sid)}/revisions", headers=api.auth(C, PM)).json()
    metrics = [m for m in revision["metrics"] if m["key"] != "fbwt-difference"]
    metrics[0] = {
        **metrics[0],
        "target": 99.9,
        "target_change": {"driven_by": "customer", "reason": "payroll errors are costly"},
    }
    edit = {"lock_version": 1, "metrics": metrics, "terms": {"payment_terms": "Net 30"}}
    assert _patch(api, sid, edit, 2).status_code == 200
    diff = api.client.get(f"{version_url(sid, 2)}/diff", headers=api.auth(P, PM)).json()
    assert diff["against"] == 1
    assert diff["terms"] == {
        "payment_terms": {
            "from": "IPAC settlement within 30 days of the quarterly bill",
            "to": "Net 30",
        }
    }
    assert diff["metrics_removed"] == ["fbwt-difference"]
    assert diff["metrics_added"] == []
    changed = diff["metrics_changed"]["payroll-accuracy"]
    assert changed["target"] == {"from": 99.8, "to": 99.9}
    assert changed["target_change"]["to"]["driven_by"] == "customer"
    backwards = api.client.get(
        f"{version_url(sid, 1)}/diff", params={"against": 2}, headers=api.auth(C, PM)
    ).json()
    assert backwards["metrics_added"] == ["fbwt-difference"]
    missing = api.client.get(
        f"{version_url(sid, 2)}/diff", params={"against": 9}, headers=api.auth(C, PM)
    )
    assert missing.status_code == 404
