"""`accord measurements import`: stream a CSV file of measurements into an agreement.

A sub-app of `api.cli` (mounted there with `app.add_typer(measurements_app,
name="measurements")`); it reads the database URL its parent's callback put on the context,
and raises domain errors that the parent turns into one `error:` line. Without `--as` the
operator at the console imports as `actor=None`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Annotated, Any, Protocol

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from sqlmodel import Session, select

from workflow.access import Actor
from workflow.commands.measurements import IngestReport, import_measurements
from workflow.db import make_engine
from workflow.errors import Conflict, NotFound
from workflow.measurements import csv_rows
from workflow.models import Agreement, User
from workflow.schema import is_current

measurements_app = typer.Typer(
    help="Measured values of an agreement's metrics.", no_args_is_help=True
)

# Rejected rows printed after an import; the rest are counted.
ERRORS_PRINTED = 20


class _HasDatabaseUrl(Protocol):
    database_url: str


@contextmanager
def _session(ctx: typer.Context) -> Iterator[Session]:
    state: _HasDatabaseUrl = ctx.obj  # set by the root callback of `accord`
    engine = make_engine(state.database_url)
    try:
        if not is_current(engine):
            raise Conflict("the database schema is not current; run `accord db upgrade`")
        with Session(engine, expire_on_commit=False) as session:
            yield session
    finally:
        engine.dispose()


class _CountingReader(io.RawIOBase):
    """A file that advances a progress bar by the bytes read from it."""

    def __init__(self, file: IO[bytes], progress: Progress, task: TaskID) -> None:
        self._file = file
        self._progress = progress
        self._task = task

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = self._file.readinto(buffer)  # type: ignore[attr-defined]
        if size:
            self._progress.update(self._task, advance=size)
        return int(size or 0)


def _actor(session: Session, email: str | None) -> Actor | None:
    if email is None:
        return None
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise NotFound(f"no user {email!r}")
    if not user.is_active:
        raise Conflict(f"user {user.email} is deactivated")
    return Actor.of(user)


@measurements_app.command("import")
def import_command(
    ctx: typer.Context,
    sla_key: Annotated[
        str, typer.Argument(metavar="SLA_KEY", help="The agreement's key, e.g. SLA-2026-0001.")
    ],
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            exists=True,
            dir_okay=False,
            readable=True,
            help="CSV with header metric,observed_at,value[,weight].",
        ),
    ],
    as_email: Annotated[
        str | None,
        typer.Option("--as", help="Import as this user (their roles apply) [default: operator]."),
    ] = None,
) -> None:
    """Import a CSV file of measurements, streamed in chunks (each chunk commits), with a
    progress bar; rejected rows are listed with their line and reason. Exits 1 when no row
    was taken (every row rejected, or none at all); rows already recorded count as taken."""
    console = Console(stderr=True, highlight=False)
    with _session(ctx) as session:
        agreement = session.exec(select(Agreement).where(Agreement.key == sla_key.strip())).first()
        if agreement is None or agreement.id is None:
            raise NotFound(f"no agreement {sla_key!r}")
        key, agreement_id = agreement.key, agreement.id
        actor = _actor(session, as_email)
        session.rollback()
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        with progress, file.open("rb") as raw:
            task = progress.add_task(file.name, total=file.stat().st_size)
            stream = io.BufferedReader(_CountingReader(raw, progress, task), 256 * 1024)
            report = import_measurements(
                session,
                actor=actor,
                agreement_id=agreement_id,
                rows=csv_rows(stream),
                source="csv",
                now=datetime.now(UTC),
                filename=file.name,
            )
    _print_report(key, report)
    if report.accepted + report.duplicates == 0:
        reason = f"all rows rejected ({report.rejected})" if report.rejected else "no rows"
        typer.echo(f"error: nothing imported: {reason}", err=True)
        raise typer.Exit(1)


def _print_report(key: str, report: IngestReport) -> None:
    typer.echo(
        f"{key}: {report.accepted} accepted, {report.duplicates} duplicates, "
        f"{report.rejected} rejected (batch {report.batch_id})"
    )
    for error in report.errors[:ERRORS_PRINTED]:
        metric = f" {error.metric}:" if error.metric else ""
        typer.echo(f"  line {error.line}:{metric} {error.reason}")
    more = report.rejected - min(len(report.errors), ERRORS_PRINTED)
    if more > 0:
        typer.echo(f"  … and {more} more rejected rows")
