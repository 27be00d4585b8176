"""Idempotency-Key: the key, the effects and the response are one transaction.

A retry gets the first response at once (never "not finished"), a crash before the commit
leaves nothing (the retry runs the command), concurrent duplicates make one effect and all get
the first response, and a key older than the time-to-live is swept away.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from sqlmodel import Session, select

import api.idempotency as idempotency_module
from api.deps import idempotency
from api.idempotency import is_idempotent
from states import Role
from tests.api.conftest import Api
from tests.api.flows import count, sla_payload, version_url
from tests.helpers import C
from workflow import commands
from workflow.models import Agreement, AuditEvent, IdempotencyRecord

PM = Role.PROGRAM_MANAGER


def _record(session: Session, key: str) -> IdempotencyRecord | None:
    session.expire_all()
    return session.exec(select(IdempotencyRecord).where(IdempotencyRecord.key == key)).first()


def test_the_response_is_stored_with_the_command(api: Api) -> None:
    headers = {**api.auth(C, PM), "Idempotency-Key": "create-1"}
    first = api.client.post("/api/v1/slas", json=sla_payload(api), headers=headers)
    assert first.status_code == 201, first.text
    record = _record(api.world.session, "create-1")
    assert record is not None
    assert record.status_code == 201
    assert record.response_body == first.text
    again = api.client.post("/api/v1/slas", json=sla_payload(api), headers=headers)
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"


def test_a_crash_before_the_commit_leaves_nothing_and_the_retry_runs_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def die(*_args: Any) -> None:
        raise RuntimeError("the process died before its commit")

    headers = {**api.auth(C, PM), "Idempotency-Key": "create-crash"}
    monkeypatch.setattr(idempotency_module, "record_response", die)
    crashed = api.client.post("/api/v1/slas", json=sla_payload(api), headers=headers)
    assert crashed.status_code == 500
    assert count(api.world.session, Agreement) == 0
    assert _record(api.world.session, "create-crash") is None
    monkeypatch.undo()
    retry = api.client.post("/api/v1/slas", json=sla_payload(api), headers=headers)
    assert retry.status_code == 201, retry.text
    assert "idempotent-replayed" not in retry.headers
    assert count(api.world.session, Agreement) == 1


def test_a_key_left_without_response_by_an_older_release_runs_the_command(api: Api) -> None:
    session = api.world.session
    user_id = api.world.parties.actors[(C, PM)].user_id
    session.add(IdempotencyRecord(user_id=user_id, key="stuck", request_hash="0" * 64))
    session.commit()
    headers = {**api.auth(C, PM), "Idempotency-Key": "stuck"}
    response = api.client.post("/api/v1/slas", json=sla_payload(api), headers=headers)
    assert response.status_code == 201, response.text
    assert count(session, Agreement) == 1
    record = _record(session, "stuck")
    assert record is not None
    assert record.status_code == 201


def test_a_refused_command_stores_no_key(api: Api) -> None:
    headers = {**api.auth(C, PM), "Idempotency-Key": "too-early"}
    sla = api.client.post("/api/v1/slas", json=sla_payload(api), headers=api.auth(C, PM)).json()
    url = f"{version_url(sla['id'])}/events/submit_for_approval"
    refused = api.client.post(url, headers=headers)
    assert refused.status_code == 409
    assert _record(api.world.session, "too-early") is None


def test_expired_keys_are_swept_and_live_ones_kept(api: Api) -> None:
    session = api.world.session
    for key in ("old", "new"):
        headers = {**api.auth(C, PM), "Idempotency-Key": key}
        body = sla_payload(api, title=f"SLA {key}")
        assert api.client.post("/api/v1/slas", json=body, headers=headers).status_code == 201
    old = _record(session, "old")
    assert old is not None
    day = timedelta(hours=24)
    kept = commands.expire_idempotency_keys(
        session, now=old.created_at + timedelta(hours=23), ttl=day
    )
    assert kept == 0
    assert _record(session, "old") is not None
    swept = commands.expire_idempotency_keys(session, now=old.created_at + day * 2, ttl=day)
    assert swept == 2
    assert _record(session, "old") is None
    assert _record(session, "new") is None


def _at_once(base: str, count_: int, path: str, headers: dict[str, str], body: Any) -> list[Any]:
    barrier = threading.Barrier(count_, timeout=10)
    answers: list[Any] = [None] * count_

    def send(i: int) -> None:
        with httpx2.Client(base_url=base, timeout=30) as client:
            barrier.wait()
            answers[i] = client.post(path, headers=headers, json=body)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(count_)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return answers


def test_concurrent_duplicates_create_one_agreement_and_share_its_response(
    api: Api,
    live: str,
) -> None:
    headers = {**api.auth(C, PM), "Idempotency-Key": "create-race"}
    answers = _at_once(live, 4, "/api/v1/slas", headers, sla_payload(api))
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert count(api.world.session, Agreement) == 1


def test_concurrent_duplicates_fire_an_event_once(
    api: Api,
    live: str,
) -> None:
    created = api.client.post("/api/v1/slas", json=sla_payload(api), headers=api.auth(C, PM))
    sla_id = created.json()["id"]
    events = count(api.world.session, AuditEvent)
    headers = {**api.auth(C, PM), "Idempotency-Key": "submit-race"}
    path = f"{version_url(sla_id)}/events/submit_for_review"
    answers = _at_once(live, 4, path, headers, {"comment": "ready"})
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    assert len({a.text for a in answers}) == 1
    assert count(api.world.session, AuditEvent) == events + 1


def test_a_keyed_put_is_stored_with_its_command(api: Api) -> None:
    headers = {**api.auth(C, PM), "Idempotency-Key": "go-digest"}
    url = "/api/v1/me/notification-settings"
    first = api.client.put(url, json={"mode": "digest"}, headers=headers)
    assert first.status_code == 200, first.text
    assert api.client.get(url, headers=api.auth(C, PM)).json()["mode"] == "digest"
    again = api.client.put(url, json={"mode": "digest"}, headers=headers)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"


def test_every_route_that_takes_a_key_stores_its_answer_with_its_command(api: Api) -> None:
    routes = iter_route_contexts(api.client.app.routes)  # type: ignore[attr-defined]
    keyed = [
        route
        for route in (context.original_route for context in routes)
        if isinstance(route, APIRoute)
        and any(d.dependency is idempotency for d in route.dependencies)
    ]
    assert len(keyed) >= 15
    assert [r.path for r in keyed if not is_idempotent(r.endpoint)] == []


def test_a_key_reused_after_it_expired_runs_the_command_again(api: Api) -> None:
    sla = api.client.post("/api/v1/slas", json=sla_payload(api), headers=api.auth(C, PM)).json()
    headers = {**api.auth(C, PM), "Idempotency-Key": "submit-once"}
    url = f"{version_url(sla['id'])}/events/submit_for_review"
    assert api.client.post(url, headers=headers).status_code == 200
    session = api.world.session
    record = _record(session, "submit-once")
    assert record is not None
    assert record.created_at == api.clock[0]  # stamped by the request's clock
    api.clock[0] += timedelta(hours=25)
    again = api.client.post(url, headers=headers)
    assert again.status_code == 409  # it ran again and was refused: not the stale replay
    assert "idempotent-replayed" not in again.headers
