"""`accord serve`'s server: uvicorn with Accord's logging, drain and proxy settings; with
several workers, the scheduler runs once, in the supervisor."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from typing import Any

import typer
import uvicorn
from sqlalchemy.engine import Engine

from api import logs
from notifications.scheduler import build_scheduler
from workflow.settings import Settings

# SIGTERM: requests in flight get this long, then the scheduler stops after the email it is
# sending; together well inside an orchestrator's 30 s grace period.
DRAIN_SECONDS = 5
# A worker imports the whole service before it answers the supervisor.
WORKER_START_SECONDS = 60


def run_server(
    engine: Engine, url: str, settings: Settings, *, host: str, port: int, workers: int
) -> None:
    from api.app import create_app  # FastAPI is only needed here

    inprocess = settings.scheduler == "inprocess"
    logs.configure(settings.log_format)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "timeout_graceful_shutdown": DRAIN_SECONDS,
        "log_config": None,  # the handlers logs.configure set up
        "access_log": False,  # api/observability.py logs each request with its id
        # Behind a proxy, the client's address (for rate limits and logs) comes from these.
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
    }
    if workers == 1:
        uvicorn.run(create_app(engine, scheduler=inprocess), **options)
        return
    if engine.dialect.name == "sqlite":
        typer.echo("note: on SQLite the workers queue for one writer", err=True)
    os.environ["ACCORD_DATABASE_URL"] = url  # the workers build their own engines
    stop = threading.Event()
    ticker = build_scheduler(engine, lambda: datetime.now(UTC), stop=stop) if inprocess else None
    if ticker is not None:
        ticker.start()
        typer.echo(f"scheduler running in the supervisor of {workers} workers", err=True)
    try:
        uvicorn.run(
            "api.app:worker_app",
            factory=True,
            workers=workers,
            timeout_worker_healthcheck=WORKER_START_SECONDS,
            **options,
        )
    finally:
        stop.set()
        if ticker is not None:
            ticker.shutdown(wait=True)
