"""`accord serve`: uvicorn with Accord's logging, drain and proxy settings; with several
workers, the scheduler runs once, in the supervisor."""

from __future__ import annotations

import errno
import os
import socket
import threading
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
import uvicorn
from sqlalchemy.engine import Engine

from api import logs
from api.cli.common import database_url, open_engine
from notifications.scheduler import build_scheduler
from workflow.settings import Settings, get_settings

# SIGTERM: requests in flight get this long, then the scheduler stops after the email it is
# sending; together well inside an orchestrator's 30 s grace period.
DRAIN_SECONDS = 5
# A worker imports the whole service before it answers the supervisor.
WORKER_START_SECONDS = 60


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(help="Server processes sharing the port.", min=1, max=64)
    ] = 1,
) -> None:
    """Run the HTTP API (on SQLite, the schema is upgraded first). With --workers N the
    processes share the port and the in-process scheduler runs once, in the supervisor."""
    settings = get_settings()
    refuse_a_taken_port(host, port)
    with open_engine(ctx, upgrade_sqlite=True) as engine:
        run_server(engine, database_url(ctx), settings, host=host, port=port, workers=workers)


def refuse_a_taken_port(host: str, port: int) -> None:
    """One clear line instead of uvicorn's traceback-like log after the schema upgrade."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise typer.BadParameter(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
            raise typer.BadParameter(
                f"port {port} on {host} is already in use (another Accord?): choose another "
                f"with --port {port + 1} (make run PORT={port + 1})",
                param_hint="--port",
            ) from exc


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
