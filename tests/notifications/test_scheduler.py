"""The scheduler's jobs run against the database and are safe to repeat."""

from __future__ import annotations

import threading
import time
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from notifications.scheduler import (
    JobResult,
    build_scheduler,
    checkpoint_job,
    dispatch_hook,
    jobs,
    run_once,
    run_scheduler,
)
from states import Role
from tests.helpers import T0, C, make_world
from workflow.audit import CHECKPOINT_ACTION
from workflow.models import AuditEvent


def _checkpoints(engine: Engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).where(AuditEvent.action == CHECKPOINT_ACTION)).one()


def test_the_checkpoint_job_records_once_per_change(session: Session, engine: Engine) -> None:
    world = make_world(session)
    world.create()
    assert checkpoint_job(engine, T0).summary.startswith("checkpoint ")
    assert checkpoint_job(engine, T0).summary == "no chain moved since the last checkpoint"
    assert _checkpoints(engine) == 1


def test_every_job_ticks_with_coalescing_and_one_instance(engine: Engine) -> None:
    calls: list[tuple[str, datetime]] = []

    def fake_dispatch(
        engine: Engine, *, sender: object, renderer: object, now: datetime, limit: int
    ) -> str:
        calls.append(("dispatch", now))
        return f"sent 0 of {limit}"

    scheduler = build_scheduler(
        engine,
        lambda: T0,
        dispatch=dispatch_hook(fake_dispatch, sender=object(), renderer=object(), limit=7),
    )
    scheduler.start(paused=True)
    try:
        found = {job.id: job for job in scheduler.get_jobs()}
        assert set(found) == {
            "calendar",
            "periods",
            "sweep",
            "digest",
            "dispatch",
            "audit-checkpoint",
            "housekeeping",
        }
        for job in found.values():
            assert (job.coalesce, job.max_instances) == (True, 1)
    finally:
        scheduler.shutdown(wait=False)
    # Without a dispatcher wired, there is no dispatch job.
    assert [j.id for j in jobs()] == [
        "calendar",
        "periods",
        "sweep",
        "digest",
        "audit-checkpoint",
        "housekeeping",
    ]


def test_run_once_runs_every_job_in_order(session: Session, engine: Engine) -> None:
    world = make_world(session)
    agreement = world.create()
    world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))

    def dispatch(_engine: Engine, now: datetime) -> JobResult:
        return JobResult(f"dispatched at {now:%H:%M}")

    at = datetime.fromisoformat("2026-11-09T14:00:00+00:00")  # the review tasks' due date
    results = run_once(engine, at, jobs(dispatch=dispatch))
    assert [job.id for job, _ in results] == [
        "calendar",
        "periods",
        "sweep",
        "digest",
        "dispatch",
        "audit-checkpoint",
        "housekeeping",
    ]
    summaries = {job.id: result.summary for job, result in results}
    assert summaries["sweep"] == (
        "2 open tasks swept on 2026-11-09: 2 reminders, 0 escalations sent (0 already sent)"
    )
    assert summaries["dispatch"] == "dispatched at 14:00"
    assert summaries["periods"] == "0 reporting agreements checked on 2026-11-09: 0 periods opened"
    again = {job.id: result.summary for job, result in run_once(engine, at, jobs())}
    # Both tasks' next steps are stored for a later day: the same day's sweep reads none.
    assert again["sweep"] == (
        "0 open tasks swept on 2026-11-09: 0 reminders, 0 escalations sent (0 already sent)"
    )


def test_the_app_runs_the_ticker_when_asked(session: Session, engine: Engine) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    make_world(session).create()
    with TestClient(create_app(engine, clock=lambda: T0, scheduler=True)):
        deadline = time.monotonic() + 10
        while _checkpoints(engine) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert _checkpoints(engine) == 1


def test_the_scheduler_process_ticks_until_stopped(session: Session, engine: Engine) -> None:
    make_world(session).create()
    stop = threading.Event()
    runner = threading.Thread(target=run_scheduler, args=(engine, lambda: T0, stop))
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while _checkpoints(engine) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        runner.join(timeout=30)
    assert not runner.is_alive()
    assert _checkpoints(engine) == 1
