"""The in-process ticker. The database, not APScheduler, makes each job happen once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine
from sqlmodel import Session

from workflow import commands

log = logging.getLogger(__name__)

CHECKPOINT_EVERY_MINUTES = 15


def checkpoint_job(engine: Engine, clock: Callable[[], datetime]) -> None:
    with Session(engine, expire_on_commit=False) as session:
        event = commands.checkpoint_audit(session, now=clock())
    if event is not None:
        log.info("audit checkpoint %s recorded", event.seq)


def build_scheduler(engine: Engine, clock: Callable[[], datetime]) -> BackgroundScheduler:
    """A memory-store scheduler; never share a job store between processes."""
    scheduler = BackgroundScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        timezone="UTC",
    )
    scheduler.add_job(
        checkpoint_job,
        "interval",
        minutes=CHECKPOINT_EVERY_MINUTES,
        args=[engine, clock],
        id="audit-checkpoint",
        next_run_time=datetime.now(UTC),  # APScheduler runs on the wall clock
    )
    return scheduler
