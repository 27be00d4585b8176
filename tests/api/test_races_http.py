"""Races over real HTTP: a live server on loopback, two clients at once; one 200, one 409."""

from __future__ import annotations

import threading
from typing import Any

import httpx2

from states import Role
from tests.api.conftest import Api
from tests.helpers import C, P
from workflow import commands
from workflow.models import Agreement


def race(base: str, *requests: tuple[str, str, dict[str, str], dict[str, Any]]) -> list[int]:
    """Send the requests at the same moment from their own clients; statuses in order."""
    barrier = threading.Barrier(len(requests), timeout=10)
    statuses = [0] * len(requests)

    def send(i: int, method: str, path: str, headers: dict[str, str], body: dict[str, Any]) -> None:
        with httpx2.Client(base_url=base, timeout=30) as client:
            barrier.wait()
            statuses[i] = client.request(method, path, headers=headers, json=body).status_code

    threads = [threading.Thread(target=send, args=(i, *r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return statuses


def _to_last_approval(api: Api) -> tuple[Agreement, int]:
    world = api.world
    agreement = world.create()
    world.to_approval(agreement)
    *others, last = world.open_tasks(agreement, "approval")
    for task in others:
        world.complete(task, "approved")
    assert last.id is not None
    return agreement, last.id


def _who(api: Api, user_id: int | None) -> tuple[Any, Role]:
    return next(k for k, a in api.world.parties.actors.items() if a.user_id == user_id)


def test_approver_and_delegate_complete_the_same_last_task(api: Api, live: str) -> None:
    agreement, task_id = _to_last_approval(api)
    task = next(t for t in api.world.open_tasks(agreement) if t.id == task_id)
    owner = _who(api, task.assignee_id)
    colleague = (owner[0], Role.PMO_TEAM)
    commands.create_delegation(
        api.world.session,
        actor=api.world.who(*owner),
        delegate_id=api.world.who(*colleague).user_id,
        starts_on=api.world.now.date(),
        ends_on=api.world.now.date(),
        now=api.world.tick(),
    )
    path = f"/api/v1/tasks/{task_id}/complete"
    body = {"outcome": "approved"}
    statuses = race(
        live,
        ("POST", path, api.auth(*owner), body),
        ("POST", path, api.auth(*colleague), body),
    )
    assert sorted(statuses) == [200, 409]
    assert api.world.version(agreement).state == "active"


def test_approve_races_withdraw(api: Api, live: str) -> None:
    agreement, task_id = _to_last_approval(api)
    task = next(t for t in api.world.open_tasks(agreement) if t.id == task_id)
    statuses = race(
        live,
        (
            "POST",
            f"/api/v1/tasks/{task_id}/complete",
            api.auth(*_who(api, task.assignee_id)),
            {"outcome": "approved"},
        ),
        (
            "POST",
            f"/api/v1/slas/{agreement.id}/versions/1/events/withdraw",
            api.auth(C, Role.PROGRAM_MANAGER),
            {"comment": "plans changed"},
        ),
    )
    assert sorted(statuses) == [200, 409]
    expected = "active" if statuses[0] == 200 else "withdrawn"
    assert api.world.version(agreement).state == expected


def test_two_edits_from_the_same_lock_version(api: Api, live: str) -> None:
    agreement = api.world.create()
    lock_version = api.world.version(agreement).lock_version
    path = f"/api/v1/slas/{agreement.id}/versions/1"
    statuses = race(
        live,
        (
            "PATCH",
            path,
            api.auth(C, Role.FUNCTIONAL_LEAD),
            {"lock_version": lock_version, "terms": {"payment_terms": "Net 15"}},
        ),
        (
            "PATCH",
            path,
            api.auth(P, Role.TECHNICAL_LEAD),
            {"lock_version": lock_version, "terms": {"payment_terms": "Net 60"}},
        ),
    )
    assert sorted(statuses) == [200, 409]
    winner = "Net 15" if statuses[0] == 200 else "Net 60"
    assert api.world.version(agreement).terms["payment_terms"] == winner
