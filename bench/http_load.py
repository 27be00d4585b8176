"""`python -m bench http`: `accord serve` on loopback under 16 concurrent clients.

Loads the demo (`accord demo`'s people, tokens, password and five agreements) into a fresh
database (temporary SQLite file, or a scratch PostgreSQL database created and dropped on the
server of `--database-url`), adds `--agreements` agreements in joint review (two open review
tasks each, for the completion round trips), starts `accord serve` as a subprocess on a free
loopback port (scheduler off, rate limits off: 16 clients from one address and token would
otherwise be throttled), and runs each scenario for `--seconds` with `--clients` threads,
each with its own connection:

- `healthz`: `GET /healthz`;
- `approval_queue`: `GET /api/v1/tasks?assignee=me&kind=approval&state=open` as a customer
  Business Owner (bearer token);
- `approvals_page`: `GET /approvals`, signed in through `/signin` as the same person;
- `complete_task`: `POST /api/v1/tasks/{id}/complete` (`accepted`) of a review task, then
  `GET /api/v1/tasks/{id}`: one person's completion round trip; each task is completed once.

Prints one JSON object with requests/s and p50/p99 per scenario. The clients are Python
threads in this process, on the same two cores as the server: they cost CPU too.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
from sqlmodel import Session, select

from api.demo import load_demo
from bench.machine import load_average, machine_info
from bench.target import open_target
from states import Role, Side
from workflow import commands
from workflow.access import Actor
from workflow.db import make_engine
from workflow.example import LifecycleDriver, Parties, example_content, load_example
from workflow.models import Task, User
from workflow.schema import upgrade

PASSWORD = "bench-password-not-secret"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
Client = httpx2.Client


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def prepare(url: str, agreements: int) -> dict[str, Any]:
    """The demo, plus `agreements` agreements in joint review; tokens and review task ids."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            now = datetime.now(UTC)
            demo = load_demo(session, now=now, password=PASSWORD)
            tokens = {u.role: (u.email, u.token) for u in demo.users}
            parties = _parties(session, demo.users)
            driver = LifecycleDriver(session, parties, load_example(), now)
            for n in range(agreements):
                agreement = commands.create_agreement(
                    session,
                    actor=driver.who(Side.CUSTOMER, Role.PROGRAM_MANAGER),
                    title=f"Bench agreement {n}",
                    customer_org_id=parties.customer_org_id,
                    provider_org_id=parties.provider_org_id,
                    content=example_content(driver.document),
                    stakeholders=parties.stakeholders(),
                    now=driver.tick(),
                )
                driver.fire(
                    agreement, "submit_for_review", driver.who(Side.CUSTOMER, Role.PROGRAM_MANAGER)
                )
            reviews = session.exec(
                select(Task.id, Task.side).where(Task.kind == "review", Task.state == "open")
            ).all()
    finally:
        engine.dispose()
    return {"tokens": tokens, "reviews": [(task_id, side) for task_id, side in reviews]}


def _parties(session: Session, users: Sequence[Any]) -> Parties:
    by_email = {u.email: u for u in session.exec(select(User)).all()}
    actors: dict[tuple[Side, Role], Actor] = {}
    for user in users:
        side, _, role = user.role.partition(" ")
        # Only the two parties' people act in the lifecycle (not the global auditor).
        if role and side in {s.value for s in Side}:
            actors[(Side(side), Role(role))] = Actor.of(by_email[user.email])
    customer = actors[(Side.CUSTOMER, Role.PROGRAM_MANAGER)].organization_id
    provider = actors[(Side.PROVIDER, Role.PROGRAM_MANAGER)].organization_id
    return Parties(customer, provider, actors)


class Server:
    """`accord serve` in a process group of its own, stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, url: str, port: int, cwd: Path) -> None:
        env = {
            **os.environ,
            "ACCORD_DATABASE_URL": url,
            "ACCORD_SCHEDULER": "off",
            "ACCORD_RATE_LIMIT_PER_MINUTE": "0",
            "ACCORD_RATE_LIMIT_ADDRESS_PER_MINUTE": "0",
        }
        command = [sys.executable, "-c", "from api.cli import main; main()", "serve"]
        self.process = subprocess.Popen(
            [*command, "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.base = f"http://127.0.0.1:{port}"

    def wait_until_up(self, seconds: float = 120.0) -> None:
        deadline = time.monotonic() + seconds
        with httpx2.Client(base_url=self.base, timeout=2) as probe:
            while time.monotonic() < deadline:
                try:
                    if probe.get("/healthz").status_code == 200:
                        return
                except httpx2.TransportError:
                    time.sleep(0.1)
        raise RuntimeError("accord serve did not answer /healthz in time")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


Request = Callable[[Client, int], bool]  # one round trip; False: nothing left to do


def drive(
    base: str, clients: int, seconds: float, setup: Callable[[Client], None], request: Request
) -> dict[str, Any]:
    """`clients` threads doing `request` until `seconds` have passed (or work runs out)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    deadline = [0.0]

    def start_clock() -> None:  # run once, when every client is set up, before any goes on
        deadline[0] = time.perf_counter() + seconds

    ready = threading.Barrier(clients + 1, action=start_clock, timeout=120)

    def run(index: int) -> None:
        with httpx2.Client(base_url=base, timeout=30) as client:
            try:
                setup(client)
            finally:
                ready.wait()
            mine = latencies[index]
            while time.perf_counter() < deadline[0]:
                started = time.perf_counter()
                try:
                    if not request(client, index):
                        return
                except (httpx2.HTTPError, AssertionError) as exc:
                    errors.append(repr(exc))
                    return
                mine.append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    wall = time.perf_counter() - started
    every = sorted(ms for per in latencies for ms in per)
    if not every:
        return {"requests": 0, "errors": errors[:5]}
    return {
        "requests": len(every),
        "seconds": round(wall, 2),
        "requests_per_s": round(len(every) / wall, 1),
        "p50_ms": round(statistics.median(every), 2),
        "p99_ms": round(every[min(len(every) - 1, round(0.99 * (len(every) - 1)))], 2),
        "errors": errors[:5],
    }


def scenarios(prepared: dict[str, Any], clients: int) -> dict[str, tuple[Any, Request]]:
    owner_email, owner_token = prepared["tokens"]["customer business_owner"]
    lead = {
        "customer": prepared["tokens"]["customer functional_lead"][1],
        "provider": prepared["tokens"]["provider technical_lead"][1],
    }
    # Each client its own tasks, so that no two complete the same one.
    shares: list[list[tuple[int, str]]] = [prepared["reviews"][i::clients] for i in range(clients)]

    def nothing(client: Client) -> None:
        del client

    def bearer(token: str) -> Callable[[Client], None]:
        def setup(client: Client) -> None:
            client.headers["Authorization"] = f"Bearer {token}"

        return setup

    def sign_in(client: Client) -> None:
        form = CSRF_FIELD.search(client.get("/signin").text)
        assert form is not None, "no CSRF field on /signin"
        data = {"email": owner_email, "password": PASSWORD, "csrf_token": form[1]}
        assert client.post("/signin", data=data).status_code in (200, 303)

    def healthz(client: Client, index: int) -> bool:
        assert client.get("/healthz").status_code == 200
        return True

    def queue(client: Client, index: int) -> bool:
        params = {"assignee": "me", "kind": "approval", "state": "open"}
        assert client.get("/api/v1/tasks", params=params).status_code == 200
        return True

    def page(client: Client, index: int) -> bool:
        assert client.get("/approvals").status_code == 200
        return True

    def complete(client: Client, index: int) -> bool:
        if not shares[index]:
            return False
        task_id, side = shares[index].pop()
        auth = {"Authorization": f"Bearer {lead[side]}"}
        done = client.post(
            f"/api/v1/tasks/{task_id}/complete", json={"outcome": "accepted"}, headers=auth
        )
        assert done.status_code == 200, done.text[:200]
        assert client.get(f"/api/v1/tasks/{task_id}", headers=auth).status_code == 200
        return True

    return {
        "healthz": (nothing, healthz),
        "approval_queue": (bearer(owner_token), queue),
        "approvals_page": (sign_in, page),
        "complete_task": (nothing, complete),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench http", description=__doc__)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server URL")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario (10 s)")
    parser.add_argument(
        "--agreements", type=int, default=200, help="agreements in joint review (2 tasks each)"
    )
    parser.add_argument("--sqlite-dir", default=None, help="where the temporary file goes")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    load_before = load_average()
    with open_target(args.database_url, sqlite_dir=args.sqlite_dir, keep=args.keep) as target:
        prepared = prepare(target.accord_url, args.agreements)
        workdir = Path(target.sqlite_dir or Path.cwd())
        server = Server(target.accord_url, _free_port(), workdir)
        results: dict[str, Any] = {}
        try:
            server.wait_until_up()
            for name, (setup, request) in scenarios(prepared, args.clients).items():
                results[name] = drive(server.base, args.clients, args.seconds, setup, request)
        finally:
            server.stop()
    healthz = results["healthz"].get("requests_per_s") or 0
    queue = results["approval_queue"].get("requests_per_s") or 0
    result = {
        "benchmark": "http",
        "database": target.kind,
        "database_detail": target.detail,
        "clients": args.clients,
        "seconds_per_scenario": args.seconds,
        "scenarios": results,
        "approval_queue_to_healthz": round(queue / healthz, 3) if healthz else None,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "machine": machine_info(),
    }
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
