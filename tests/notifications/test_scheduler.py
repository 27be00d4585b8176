"""The scheduler's jobs run against the database and are safe to repeat."""

from __future__ import annotations

import time

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from notifications.scheduler import build_scheduler, checkpoint_job
from tests.helpers import T0, make_world
from workflow.audit import CHECKPOINT_ACTION
from workflow.models import AuditEvent


def _checkpoints(engine: Engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).where(AuditEvent.action == CHECKPOINT_ACTION)).one()


def test_the_checkpoint_job_records_once_per_change(session: Session, engine: Engine) -> None:
    world = make_world(session)
    world.create()
    checkpoint_job(engine, lambda: T0)
    checkpoint_job(engine, lambda: T0)
    assert _checkpoints(engine) == 1


def test_the_scheduler_ticks_with_coalescing_and_one_instance(engine: Engine) -> None:
    scheduler = build_scheduler(engine, lambda: T0)
    scheduler.start(paused=True)
    try:
        job = scheduler.get_job("audit-checkpoint")
        assert job is not None
        assert (job.coalesce, job.max_instances) == (True, 1)
    finally:
        scheduler.shutdown(wait=False)


def test_the_app_runs_the_ticker_when_asked(session: Session, engine: Engine) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    make_world(session).create()
    with TestClient(create_app(engine, clock=lambda: T0, scheduler=True)):
        deadline = time.monotonic() + 10
        while _checkpoints(engine) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert _checkpoints(engine) == 1
