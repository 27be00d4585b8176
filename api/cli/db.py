"""`accord db upgrade | copy | backup | restore`: migrate, move an installation, keep a copy,
bring one back.

The upgrade path from the embedded default: `accord db copy --to postgresql://…` copies every
row into an empty PostgreSQL database (migrated on the way), prints each table's count on both
sides and verifies the audit chains there; then point ACCORD_DATABASE_URL at it.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from api.cli.common import CliError, database_url, shown_url
from workflow import audit, transfer
from workflow.db import make_engine, normalise_url
from workflow.errors import Conflict
from workflow.schema import head_revision, upgrade

SQLITE_HEADER = b"SQLite format 3\x00"
PG_DUMP_HEADER = b"PGDMP"

db_app = typer.Typer(help="The database schema.", no_args_is_help=True)


def _current_url(ctx: typer.Context) -> str:
    return normalise_url(database_url(ctx))


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise CliError("an in-memory SQLite database has nothing to back up")
    return Path(parsed.database)


@db_app.command("copy")
def copy(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", help="URL of the empty target database.")],
    batch: Annotated[int, typer.Option(help="Rows per insert.", min=1, max=100_000)] = 5_000,
) -> None:
    """Copy this installation, every table and audit chain, into an empty database."""
    source = make_engine(_current_url(ctx))
    target = make_engine(to)
    try:
        counts = _copy_with_progress(source, target, batch)
        _print_counts(counts)
        if not all(c.matches for c in counts):
            raise CliError("row counts differ between source and target")
        _verify(target, where=shown_url(normalise_url(to)))
    finally:
        source.dispose()
        target.dispose()


def _copy_with_progress(source: Engine, target: Engine, batch: int) -> list[transfer.TableCount]:
    transfer.require_current(source)
    with source.connect() as connection:
        total = sum(transfer.row_counts(connection).values())
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("copying", total=total)

        def advance(table: str, rows: int) -> None:
            bar.update(task, advance=rows, description=f"copying {table}")

        return transfer.copy_installation(source, target, batch=batch, progress=advance)


def _print_counts(counts: list[transfer.TableCount]) -> None:
    table = Table(title="Rows copied")
    for column in ("table", "source", "target", ""):
        table.add_column(column, justify="left" if column == "table" else "right")
    for c in counts:
        table.add_row(c.table, str(c.source), str(c.target), "ok" if c.matches else "DIFFERS")
    Console().print(table)


def _verify(engine: Engine, *, where: str) -> None:
    with Session(engine) as session:
        result = audit.verify(session)
    if not result.ok:
        first = result.failures[0]
        raise CliError(f"the audit chain does not verify on {where}: {first.reason}")
    typer.echo(
        f"audit trail intact on {where}: {result.events_checked} events in "
        f"{result.agreements_checked} agreement chains and the system chain"
    )


@db_app.command("backup")
def backup(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Where to write the backup.")],
) -> None:
    """Back up the database: SQLite through its online backup API (consistent while others
    write); PostgreSQL through pg_dump's custom format, when pg_dump is installed."""
    if file.exists():
        raise CliError(f"{file} exists; choose a new file")
    url = _current_url(ctx)
    path = _sqlite_path(url)
    if path is not None:
        if not path.exists():
            raise CliError(f"{path} does not exist")
        live, copied = sqlite3.connect(path), sqlite3.connect(file)
        try:
            live.backup(copied)  # one step: a consistent snapshot; writers carry on in WAL
        finally:
            copied.close()
            live.close()
        typer.echo(f"backed up {path} to {file} ({file.stat().st_size} bytes)")
        return
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise CliError(
            "pg_dump is not installed: back up PostgreSQL with `pg_dump --format=custom` "
            "or your provider's snapshots"
        )
    _run([pg_dump, "--format=custom", "--no-owner", f"--file={file}", _libpq(url)])
    typer.echo(f"backed up {shown_url(url)} to {file} with pg_dump ({file.stat().st_size} bytes)")


@db_app.command("restore")
def restore(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A file `db backup` wrote.")],
) -> None:
    """Restore a backup into this (empty) database and verify its audit chains."""
    if not file.is_file():
        raise CliError(f"{file} is not a file")
    with file.open("rb") as opened:
        header = opened.read(16)
    url = _current_url(ctx)
    if header.startswith(SQLITE_HEADER):
        # Read-only, and without the service's pragmas: restoring never writes to the backup.
        source = sa.create_engine(f"sqlite:///file:{file.resolve()}?mode=ro&uri=true")
        target = make_engine(url)
        try:
            counts = transfer.copy_installation(source, target)
            typer.echo(f"restored {sum(c.target for c in counts)} rows from {file}")
            _verify(target, where=shown_url(url))
        finally:
            source.dispose()
            target.dispose()
        return
    if header.startswith(PG_DUMP_HEADER):
        _restore_pg_dump(file, url)
        return
    raise CliError(f"{file} is neither a SQLite backup nor a pg_dump archive")


def _restore_pg_dump(file: Path, url: str) -> None:
    if make_url(url).get_backend_name() != "postgresql":
        raise CliError("a pg_dump archive restores into PostgreSQL only")
    pg_restore = shutil.which("pg_restore")
    if pg_restore is None:
        raise CliError("pg_restore is not installed")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            has_tables = connection.exec_driver_sql(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            ).scalar_one()
        if has_tables:
            raise Conflict("the target database is not empty; restore into a new database")
        _run([pg_restore, "--no-owner", "--exit-on-error", f"--dbname={_libpq(url)}", str(file)])
        typer.echo(f"restored {file} into {shown_url(url)}")
        _verify(engine, where=shown_url(url))
    finally:
        engine.dispose()


def _libpq(url: str) -> str:
    """The URL as libpq tools take it (no SQLAlchemy driver suffix)."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise CliError(f"{Path(command[0]).name} failed: {last}")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply every pending migration (idempotent)."""
    url = database_url(ctx)
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    typer.echo(f"{shown_url(url)} is at schema revision {head_revision()}")
