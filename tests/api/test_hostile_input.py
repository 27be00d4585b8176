"""Hostile input over HTTP: out-of-range integers, NUL characters and non-finite numbers are
refused with a 422 problem naming each field, the same on both databases, and nothing is
stored; a fault of ours is a problem+json 500 that keeps the connection open."""

from __future__ import annotations

import http.client
import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from api.app import create_app
from tests.api.conftest import Api
from tests.api.flows import (
    PM,
    count,
    create_sla,
    fields,
    gaps,
    to_gap_analysis,
    version,
    version_url,
)
from tests.api.pages.conftest import serve
from tests.helpers import C, P
from workflow.models import Agreement, Gap, Organization, Task

PG_INT_OVERFLOW = 2**31  # one past PostgreSQL's INTEGER
SQLITE_INT_OVERFLOW = 2**63  # one past SQLite's INTEGER
TOO_BIG = (PG_INT_OVERFLOW, SQLITE_INT_OVERFLOW)
PATH_FILLERS = {"period": "2026-11", "event": "submit"}


def _problem(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def _id_operations(app: FastAPI) -> list[tuple[str, str, list[str]]]:
    """(method, path, its integer path parameters) of every API operation naming an id."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            ints = [
                p["name"]
                for p in operation.get("parameters", [])
                if p["in"] == "path" and p["schema"].get("type") == "integer"
            ]
            if ints:
                found.append((method.upper(), path, ints))
    return found


def test_every_id_in_a_path_past_the_column_is_refused_naming_it(api: Api) -> None:
    # An administrator passes every role check, which comes before the parameters' own.
    caller = api.admin
    operations = _id_operations(api.client.app)  # type: ignore[arg-type]
    assert len(operations) >= 25
    for big in TOO_BIG:
        for method, path, ints in operations:
            url = path.format(**dict.fromkeys(ints, big), **PATH_FILLERS)
            body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
            answer = api.client.request(method, url, json=body, headers=caller)
            named = fields(answer)
            assert set(ints) <= named, (method, path, named)
            assert answer.json()["status"] == 422


def test_ids_in_queries_and_bodies_past_the_column_are_refused_naming_them(api: Api) -> None:
    sla = create_sla(api)
    owner = api.auth(C, PM)
    for big in TOO_BIG:
        assert fields(api.client.get(f"/api/v1/tasks?sla_id={big}", headers=owner)) == {"sla_id"}
        diff = api.client.get(f"{version_url(sla['id'])}/diff?against={big}", headers=owner)
        assert fields(diff) == {"against"}
        delegation = {"delegate_id": big, "starts_on": "2026-11-03", "ends_on": "2026-11-10"}
        answer = api.client.post("/api/v1/delegations", json=delegation, headers=owner)
        assert fields(answer) == {"delegate_id"}
        user = {"email": "x@customer.example", "name": "X", "organization_id": big}
        answer = api.client.post("/api/v1/users", json=user, headers=api.admin)
        assert fields(answer) == {"organization_id"}
        stakeholders = [{"side": "customer", "role": "program_manager", "user_id": big}]
        answer = api.client.put(
            f"/api/v1/slas/{sla['id']}/stakeholders",
            json={"stakeholders": stakeholders},
            headers=owner,
        )
        assert fields(answer) == {"stakeholders.0.user_id"}
        created = api.client.post(
            "/api/v1/slas",
            json={"title": "T", "customer_org_id": big, "provider_org_id": big},
            headers=owner,
        )
        assert fields(created) == {"customer_org_id", "provider_org_id"}
    assert count(api.world.session, Agreement) == 1


def test_nul_characters_are_refused_wherever_they_come_naming_the_field(api: Api) -> None:
    sla = create_sla(api)
    owner = api.auth(C, PM)
    organizations = count(api.world.session, Organization)
    named = api.client.post("/api/v1/organizations", json={"name": "A\x00B"}, headers=api.admin)
    assert fields(named) == {"name"}
    assert "NUL" in named.json()["errors"][0]["message"]
    assert count(api.world.session, Organization) == organizations

    titled = api.client.post("/api/v1/slas", json={"title": "Payroll\x00"}, headers=owner)
    assert "title" in fields(titled)
    terms = api.client.patch(
        version_url(sla["id"]),
        json={"lock_version": 1, "terms": {"service_hours": "24x7\x00"}},
        headers=owner,
    )
    assert fields(terms) == {"terms.service_hours"}
    assert version(api, sla["id"])["lock_version"] == 1
    searched = api.client.get("/api/v1/slas", params={"q": "pay\x00roll"}, headers=owner)
    assert fields(searched) == {"q"}
    event = api.client.post(
        f"{version_url(sla['id'])}/events/submit_for_review",
        json={"comment": "ready\x00"},
        headers=owner,
    )
    assert fields(event) == {"comment"}
    assert version(api, sla["id"])["state"] == "draft"
    in_path = api.client.post(f"{version_url(sla['id'])}/events/sub%00mit", headers=owner)
    assert fields(in_path) == {"event"}


def test_a_comment_and_a_gap_description_with_nul_are_refused(api: Api) -> None:
    sla = create_sla(api)
    to_gap_analysis(api, sla["id"])
    pm = api.auth(C, PM)
    gap = {"metric_key": "core-app-availability", "description": "x\x00", "severity": "low"}
    added = api.client.post(f"{version_url(sla['id'])}/gaps", json=gap, headers=pm)
    assert fields(added) == {"description"}
    session = api.world.session
    task = session.exec(
        select(Task).where(Task.agreement_id == sla["id"], Task.state == "open")
    ).first()
    assert task is not None
    done = api.client.post(
        f"/api/v1/tasks/{task.id}/complete",
        json={"outcome": "done", "comment": "\x00"},
        headers=api.auth(C, PM),
    )
    assert fields(done) == {"comment"}
    session.rollback()
    assert session.get(Task, task.id).state == "open"  # type: ignore[union-attr]


# Python's json reads these; JSON has no such numbers.
NON_FINITE = ("NaN", "Infinity", "-Infinity")


def test_non_finite_numbers_are_refused_and_nothing_moves(api: Api) -> None:
    sla = create_sla(api)
    owner = api.auth(C, PM)
    metrics = version(api, sla["id"])["metrics"]
    for literal in NON_FINITE:
        body = re.sub(
            r'"target": [-0-9.e]+',
            f'"target": {literal}',
            '{"lock_version": 1, "metrics": ' + json.dumps(metrics) + "}",
            count=1,
        )
        answer = api.client.patch(
            version_url(sla["id"]),
            content=body,
            headers={**owner, "Content-Type": "application/json"},
        )
        assert fields(answer) == {"metrics.0.target"}
    assert version(api, sla["id"])["metrics"] == metrics

    what_if = f"{version_url(sla['id'])}/what-if"
    for text in ("nan", "inf", "-Infinity", "1e309"):
        params = {"metric": metrics[0]["key"], "target": text}
        assert fields(api.client.get(what_if, params=params, headers=owner)) == {"target"}


def test_a_gap_cannot_be_resolved_to_a_non_finite_target(api: Api) -> None:
    sla = create_sla(api)
    to_gap_analysis(api, sla["id"])
    gap = next(g for g in gaps(api, sla["id"]) if g["metric_key"] == "core-app-availability")
    url = f"/api/v1/gaps/{gap['id']}/resolve"
    for literal in NON_FINITE:
        answer = api.client.post(
            url,
            content='{"resolution": "target_adjusted", "agreed_target": ' + literal + "}",
            headers={**api.auth(C, PM), "Content-Type": "application/json"},
        )
        assert fields(answer) == {"agreed_target"}
    api.world.session.rollback()
    stored = api.world.session.get(Gap, gap["id"])
    assert stored is not None
    assert (stored.resolution, stored.agreed_target) == (None, None)


def test_a_yaml_import_with_a_non_finite_target_is_refused(api: Api) -> None:
    sla = create_sla(api)
    owner = api.auth(C, PM)
    exported = api.client.get(f"{version_url(sla['id'])}/export", headers=owner).text
    for value in (".nan", ".inf", "-.inf"):
        hostile = re.sub(r"(\n\s+target: )[-0-9.e]+", rf"\g<1>{value}", exported, count=1)
        answer = api.client.post(
            f"{version_url(sla['id'])}/import",
            content=hostile,
            headers={**owner, "Content-Type": "application/yaml", "If-Match": '"1"'},
        )
        assert {f for f in fields(answer) if f.endswith("target")}, answer.text
    # YAML can spell NUL too ("\0"); the document is refused naming the metric's name.
    hostile = re.sub(r"(\n\s+name: )[^\n]+", r'\g<1>"A\\0B"', exported, count=1)
    answer = api.client.post(
        f"{version_url(sla['id'])}/import",
        content=hostile,
        headers={**owner, "Content-Type": "application/yaml", "If-Match": '"1"'},
    )
    assert {f for f in fields(answer) if f.endswith("name")}, answer.text
    assert version(api, sla["id"])["lock_version"] == 1


def test_a_measurement_batch_with_what_no_column_holds_is_refused_at_parse_time(api: Api) -> None:
    sla = create_sla(api)
    observation = '{"metric": "%s", "observed_at": "2026-11-02", "value": %s}'
    for metric, value, field in (
        ("m", "NaN", "observations.0.value"),
        ("\\u0000", "1", "observations.0.metric"),
        ("\\ud800", "1", "observations.0.metric"),  # a lone surrogate no driver can encode
    ):
        answer = api.client.post(
            f"/api/v1/slas/{sla['id']}/measurements",
            content='{"observations": [' + observation % (metric, value) + "]}",
            headers={**api.auth(P, PM), "Content-Type": "application/json"},
        )
        assert fields(answer) == {field}


def test_an_empty_cursor_is_the_first_page(api: Api) -> None:
    create_sla(api)
    owner = api.auth(C, PM)
    first = api.client.get("/api/v1/slas", params={"limit": 1}, headers=owner).json()
    empty = api.client.get("/api/v1/slas", params={"limit": 1, "cursor": ""}, headers=owner)
    assert empty.status_code == 200
    assert empty.json() == first


# ---- a fault of ours ------------------------------------------------------------------------


def _broken_app(engine: Engine) -> FastAPI:
    app = create_app(engine)

    @app.get("/api/v1/broken", include_in_schema=False)
    def broken() -> None:
        raise RuntimeError("a bug")

    return app


def test_an_unhandled_error_is_a_problem_and_the_connection_stays_open(engine: Engine) -> None:
    with serve(_broken_app(engine)) as base:
        address = urlsplit(base)
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
        try:
            connection.request("GET", "/api/v1/broken")
            failed = connection.getresponse()
            body = failed.read()
            assert failed.status == 500
            assert failed.getheader("content-type") == "application/problem+json"
            assert b'"status":500' in body
            assert b"a bug" not in body  # the fault is logged, not shown
            # The same connection serves the next request.
            socket_before = connection.sock
            connection.request("GET", "/healthz")
            healthy = connection.getresponse()
            assert (healthy.status, healthy.read()) == (200, b'{"status":"ok"}')
            assert connection.sock is socket_before
        finally:
            connection.close()


@pytest.mark.parametrize("path", ["/api/v1/broken", "/broken-page"])
def test_an_unhandled_error_answers_in_the_kind_of_the_path(engine: Engine, path: str) -> None:
    app = create_app(engine)

    @app.get(path, include_in_schema=False)
    def broken() -> None:
        raise RuntimeError("a bug")

    with TestClient(app) as client:
        answer = client.get(path)
    assert answer.status_code == 500
    if path.startswith("/api/"):
        assert _problem(answer, 500)["detail"].startswith("something went wrong")
    else:
        assert answer.headers["content-type"].startswith("text/html")
        assert "Something went wrong" in answer.text
