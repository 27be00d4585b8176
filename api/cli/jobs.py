"""`accord jobs run-once [--now ISO-8601]` and `accord scheduler`: the time-driven jobs.

Mounted by `api.cli.app` (`jobs_app` as `jobs`, and `scheduler` as a command of its own).
"""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime
from types import FrameType
from typing import Annotated

import typer

from api import logs
from api.cli.common import open_engine
from notifications.scheduler import (
    DETAIL_LINES,
    configured_dispatch,
    jobs,
    run_once,
    run_scheduler,
)
from workflow.calendar import BUSINESS_TIME_ZONE, local_date, time_zone
from workflow.settings import get_settings

jobs_app = typer.Typer(
    help="Time-driven jobs: reminders, escalations, expiry and the governance calendar.",
    no_args_is_help=True,
)


def parse_now(text: str | None) -> datetime:
    """An ISO-8601 moment (`2026-11-09`, `2026-11-09T08:30`, `...Z`, `...-05:00`); without an
    offset it is local time in the business time zone, as the days the jobs count are."""
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO-8601 date or time (e.g. 2026-11-09T08:30-05:00)",
            param_hint="--now",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=time_zone(BUSINESS_TIME_ZONE))
    return moment.astimezone(UTC)


@jobs_app.command("run-once")
def run_once_command(
    ctx: typer.Context,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="The moment to run at, ISO-8601; without an offset, local time in "
            f"{BUSINESS_TIME_ZONE} [default: the current time]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run every job once, in order, at the given time, and print what each did.

    The calendar (expiry, renewal reminders, annual and quarterly review tasks), the
    reminder and escalation sweep, the dispatcher (once wired), then the audit checkpoint.
    Safe to repeat: a second run at the same time sends nothing new.
    """
    moment = parse_now(now)
    with open_engine(ctx) as engine:
        results = run_once(engine, moment, jobs(dispatch=configured_dispatch()))
    typer.echo(
        f"jobs at {moment:%Y-%m-%dT%H:%M:%SZ} ({local_date(moment)} in {BUSINESS_TIME_ZONE})"
    )
    for job, result in results:
        typer.echo(f"{job.id}: {result.summary}")
        for line in result.details[:DETAIL_LINES]:
            typer.echo(f"  {line}")
        if len(result.details) > DETAIL_LINES:
            typer.echo(f"  ... and {len(result.details) - DETAIL_LINES} more")


def scheduler(ctx: typer.Context) -> None:
    """Run the scheduler in this process until interrupted (Ctrl-C or SIGTERM).

    Ticks every job on its interval (coalescing missed runs, one instance each). Any number
    of scheduler processes may run against one PostgreSQL database: the database, not the
    ticker, makes every email and task happen once. Run it when `accord serve` runs with
    ACCORD_SCHEDULER=off (several API workers).
    """
    logs.configure(get_settings().log_format)
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        with open_engine(ctx) as engine:
            typer.echo("scheduler running; Ctrl-C to stop", err=True)
            try:
                run_scheduler(engine, lambda: datetime.now(UTC), stop)
            except KeyboardInterrupt:
                stop.set()
    finally:
        signal.signal(signal.SIGTERM, previous)
    typer.echo("scheduler stopped", err=True)
