"""Crash test: commands with Idempotency-Keys while the server is killed with SIGKILL at random
moments and restarted; every request not acknowledged is retried with its key until it is.

Every key must end with exactly one effect (one agreement per key), every answer to one key
the same agreement, and the audit chain must verify. ACCORD_CRASH_KEYS and
ACCORD_CRASH_KILLS set the size (the nightly profile runs 400 keys and 12 kills).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx2
import pytest
from sqlmodel import Session, col, func, select

from states import Role
from tests.api.conftest import Api
from tests.api.flows import sla_payload
from tests.helpers import T0, C, make_world
from tests.notifications.smtp import free_port
from tests.processes import Server
from workflow import audit, commands
from workflow.models import Agreement

KEYS = int(os.environ.get("ACCORD_CRASH_KEYS", "60"))
KILLS = int(os.environ.get("ACCORD_CRASH_KILLS", "4"))
CLIENTS = 3


def _send(base: str, token: str, key: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """One attempt; the answer when acknowledged, None when the server was not there."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    try:
        with httpx2.Client(base_url=base, timeout=10) as client:
            response = client.post("/api/v1/slas", json=body, headers=headers)
    except httpx2.TransportError:
        return None
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    answer["replayed"] = response.headers.get("idempotent-replayed") == "true"
    return answer


def test_killed_servers_lose_nothing_and_do_nothing_twice(
    session: Session, database_url: str, tmp_path: Path
) -> None:
    world = make_world(session)
    pm = world.parties.actors[(C, Role.PROGRAM_MANAGER)]
    _, token = commands.create_token(session, actor=None, user_id=pm.user_id, now=T0)
    payload = sla_payload(cast(Api, SimpleNamespace(world=world)))
    bodies = {f"crash-{n}": {**payload, "title": f"Crash {n}"} for n in range(KEYS)}
    answers: dict[str, list[int]] = defaultdict(list)
    unacknowledged: list[str] = []
    replayed: list[str] = []  # retries the server had already done: their answer was lost
    lock = threading.Lock()
    server = Server(database_url, free_port(), tmp_path)
    server.start()
    rng = random.Random(20261202)  # which acknowledgement each kill follows

    def client(keys: list[str]) -> None:
        for key in keys:
            answer = _send(server.base, token, key, bodies[key])
            with lock:
                if answer is None:
                    unacknowledged.append(key)
                else:
                    answers[key].append(answer["id"])
            if answer is None:  # as a client would: wait for the service, retry later
                server.wait_until_up()

    keys = list(bodies)
    workers = [threading.Thread(target=client, args=(keys[i::CLIENTS],)) for i in range(CLIENTS)]
    try:
        for worker in workers:
            worker.start()
        # Each kill lands after a random number of further acknowledgements (not after a
        # wall-clock delay), so it falls mid-load on a fast machine and a slow one alike.
        for _ in range(KILLS):
            goal = min(KEYS - CLIENTS, len(answers) + rng.randint(1, KEYS // (KILLS + 1)))
            deadline = time.monotonic() + 120
            while len(answers) < goal and time.monotonic() < deadline:
                time.sleep(0.01)
            assert any(w.is_alive() for w in workers), "the load ended before every kill"
            server.kill()
            server.start()
        for worker in workers:
            worker.join(timeout=300)
        assert not any(w.is_alive() for w in workers)
        for key in unacknowledged:  # the client's retry, with the same key and body
            for _attempt in range(5):
                answer = _send(server.base, token, key, bodies[key])
                if answer is not None:
                    answers[key].append(answer["id"])
                    if answer["replayed"]:
                        replayed.append(key)
                    break
    finally:
        server.stop()

    assert server.kills == KILLS, "the clients finished before every kill: raise the keys"
    assert sorted(answers) == sorted(bodies), "a key was never acknowledged"
    for key, ids in answers.items():
        assert len(set(ids)) == 1, f"{key} answered with different agreements: {ids}"
    session.rollback()
    per_title = dict(
        session.exec(
            select(Agreement.title, func.count())
            .where(col(Agreement.title).startswith("Crash "))
            .group_by(col(Agreement.title))
        ).all()
    )
    assert per_title == {body["title"]: 1 for body in bodies.values()}
    verification = audit.verify(session)
    assert verification.ok, verification.failures
    print(  # the figures for the closing note (pytest -s)
        f"crash test: {KEYS} keys, {server.kills} SIGKILLs, "
        f"{len(unacknowledged)} unacknowledged requests retried, {len(replayed)} of them had "
        "been done before the kill and were answered from the stored response"
    )
    if not unacknowledged:
        pytest.fail("no request was in flight at any kill: the test proved nothing")
