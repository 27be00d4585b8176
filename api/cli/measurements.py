"""`accord measurements import`: stream a CSV file of measurements into an agreement;
`accord measurements correct`: correct one observation, keeping its old value.

A sub-app mounted by `api.cli.app`; it raises domain errors that the root turns into one
`error:` line. Without `--as` the operator at the console imports as `actor=None`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, Annotated, Any

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
from sqlmodel import Session

from api.cli.common import find_active_user, find_agreement, now, open_session
from workflow.access import Actor
from workflow.commands.corrections import CorrectionInput, correct_observations
from workflow.commands.measurements import IngestReport, import_measurements
from workflow.measurements import csv_rows

measurements_app = typer.Typer(
    help="Measured values of an agreement's metrics.", no_args_is_help=True
)

# Rejected rows printed after an import; the rest are counted.
ERRORS_PRINTED = 20


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
    return None if email is None else Actor.of(find_active_user(session, email))


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True, highlight=False),
        transient=True,
    )


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
    with open_session(ctx) as session:
        agreement = find_agreement(session, sla_key)
        assert agreement.id is not None
        key, agreement_id = agreement.key, agreement.id
        actor = _actor(session, as_email)
        session.rollback()
        progress = _progress_bar()
        with progress, file.open("rb") as raw:
            task = progress.add_task(file.name, total=file.stat().st_size)
            stream = io.BufferedReader(_CountingReader(raw, progress, task), 256 * 1024)
            report = import_measurements(
                session,
                actor=actor,
                agreement_id=agreement_id,
                rows=csv_rows(stream),
                source="csv",
                now=now(),
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


@measurements_app.command("correct")
def correct_command(
    ctx: typer.Context,
    sla_key: Annotated[
        str, typer.Argument(metavar="SLA_KEY", help="The agreement's key, e.g. SLA-2026-0001.")
    ],
    metric: Annotated[str, typer.Argument(metavar="METRIC", help="The metric's key.")],
    observed_at: Annotated[
        str, typer.Argument(metavar="OBSERVED_AT", help="RFC 3339 with an offset, as uploaded.")
    ],
    value: Annotated[float, typer.Argument(metavar="VALUE", help="The correct value.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the value was wrong.")],
    as_email: Annotated[
        str, typer.Option("--as", help="Correct as this user: the provider, or the data's side.")
    ],
) -> None:
    """Correct one observation, keeping its old value: now while its period is open or
    disputed, as an amendment proposal to the other side once it is final."""
    with open_session(ctx) as session:
        agreement = find_agreement(session, sla_key)
        assert agreement.id is not None
        key, agreement_id = agreement.key, agreement.id
        actor = Actor.of(find_active_user(session, as_email))
        session.rollback()
        outcome = correct_observations(
            session,
            actor=actor,
            agreement_id=agreement_id,
            corrections=[CorrectionInput(metric, observed_at, value, reason)],
            now=now(),
        )
        proposals = [(p.id, p.effect.get("period")) for p in outcome.proposals]
    if proposals:
        for proposal_id, period in proposals:
            typer.echo(
                f"{key}: {period} is final: proposed as amendment proposal {proposal_id}; "
                "applied once the other side accepts"
            )
    else:
        typer.echo(
            f"{key}: {metric} at {observed_at} corrected to {value:g}; the old value is kept"
        )
