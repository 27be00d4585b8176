"""`accord catalog`: import FIBF service-measure workbooks and list the catalogue.

A sub-app mounted by `api.cli.app`; it raises domain errors that the root turns into one
`error:` line. The operator at the console imports as `actor=None`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.cli.common import now, open_session
from workflow.catalog.report import ImportReport
from workflow.commands.catalog import import_catalog
from workflow.queries.catalog import list_catalog

catalog_app = typer.Typer(
    help="The metric catalogue: FIBF service-measure workbooks.", no_args_is_help=True
)


def _console() -> Console:
    # Wide and colourless: the summary is read in terminals and in logs alike.
    return Console(width=160, no_color=True, highlight=False, soft_wrap=False)


@catalog_app.command("import")
def import_command(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", exists=True, dir_okay=False, readable=True, help="An .xlsx workbook."
        ),
    ],
) -> None:
    """Import a workbook; importing it again updates its measures instead of adding them."""
    content = file.read_bytes()
    with open_session(ctx) as session:
        report = import_catalog(session, actor=None, filename=file.name, content=content, now=now())
    _print_report(_console(), report)


def _print_report(console: Console, report: ImportReport) -> None:
    console.print(f"{report.filename}: {report.rows} measures from {', '.join(report.sheets)}")
    counts = Table("imported", "updated", "unchanged", "distinct IDs", "interpretable", "not")
    counts.add_row(
        *(
            str(n)
            for n in (
                report.imported,
                report.updated,
                report.unchanged,
                report.distinct_ids,
                report.interpretable,
                len(report.uninterpretable),
            )
        )
    )
    console.print(counts)
    if report.uninterpretable:
        targets = Table("row", "ID", "target", "reason", title="Targets not interpreted")
        for u in report.uninterpretable:
            targets.add_row(f"{u.sheet}!{u.row}", u.id, " ".join(u.target.split()), u.reason)
        console.print(targets)
    if report.duplicate_ids:
        dupes = Table("ID", "rows", "kept apart as", title="IDs used by more than one measure")
        for d in report.duplicate_ids:
            dupes.add_row(d.id, ", ".join(d.sheet_rows), ", ".join(d.keys))
        console.print(dupes)
    for sheet in report.skipped_sheets:
        console.print(f"skipped sheet {sheet.sheet!r}: {sheet.reason}")
    for skipped in report.skipped_rows:
        console.print(f"skipped {skipped.sheet}!{skipped.row}: {skipped.reason}")
    if report.not_in_workbook:
        console.print(f"no longer in the workbook (kept): {', '.join(report.not_in_workbook)}")


@catalog_app.command("list")
def list_command(
    ctx: typer.Context,
    q: Annotated[str | None, typer.Option("--q", help="Search ID, name and description.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 100,
) -> None:
    """Catalogue measures: id, measure ID, target as written → as read, name."""
    with open_session(ctx) as session:
        found = list_catalog(session, q=q, limit=limit)
    if not found.items:
        typer.echo("no catalogue measures")
        return
    for m in found.items:
        t = m.target
        read = (
            f"{t.comparator or ''}{t.value:g} {t.unit or ''}".strip()
            if t.value is not None
            else "?"
        )
        text = " ".join(t.text.split())
        typer.echo(f"{m.id:>5}  {m.measure_id:<22}  {text[:28]:<28} → {read:<16}  {m.name}")
    if found.next_after:
        typer.echo(f"(more: showing the first {limit})")
