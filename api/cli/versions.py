"""`accord version export | import` and `accord diagram`: SLA versions as YAML documents, and
the lifecycle they move through as a Mermaid diagram."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import CliError, find_active_user, find_agreement, now, open_session
from states import LIFECYCLE
from states.diagram import mermaid
from workflow import commands
from workflow.access import Actor
from workflow.export import export_version, parse_document, to_yaml
from workflow.permissions import version_by_number

version_app = typer.Typer(help="SLA versions as YAML documents.", no_args_is_help=True)

SlaKey = Annotated[
    str, typer.Argument(metavar="SLA_KEY", help="The agreement's key, e.g. SLA-2026-0001.")
]


def diagram(
    highlight: Annotated[
        str | None, typer.Option(help="A state to mark as the current one.")
    ] = None,
) -> None:
    """Print the lifecycle as a Mermaid state diagram."""
    if highlight is not None and highlight not in LIFECYCLE.state_names:
        raise CliError(f"no state {highlight!r}; states are {', '.join(LIFECYCLE.state_names)}")
    typer.echo(mermaid(LIFECYCLE, highlight), nl=False)


@version_app.command("export")
def version_export(
    ctx: typer.Context,
    sla_key: SlaKey,
    number: Annotated[int, typer.Argument(metavar="N", help="The version number.", min=1)],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to this file instead of stdout.", dir_okay=False
        ),
    ] = None,
) -> None:
    """Export a version as YAML in the shape of example-sla.yaml."""
    with open_session(ctx) as session:
        agreement = find_agreement(session, sla_key)
        version = version_by_number(session, agreement, number)
        text = to_yaml(export_version(session, agreement, version))
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text)
    typer.echo(f"wrote {agreement.key} version {number} ({version.state}) to {output}")


@version_app.command("import")
def version_import(
    ctx: typer.Context,
    sla_key: SlaKey,
    number: Annotated[int, typer.Argument(metavar="N", help="The draft's version number.", min=1)],
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", help="A YAML document (an export, edited).", exists=True, dir_okay=False
        ),
    ],
    as_email: Annotated[str, typer.Option("--as", help="Email of the user who imports.")],
    lock_version: Annotated[
        int | None,
        typer.Option(help="Refuse if the draft changed since this lock_version [default: any]."),
    ] = None,
) -> None:
    """Replace a draft's terms and metrics with those of a YAML document, as a user."""
    document = parse_document(file.read_bytes())
    with open_session(ctx) as session:
        user = find_active_user(session, as_email)
        agreement = find_agreement(session, sla_key)
        expected = lock_version
        if expected is None:
            expected = version_by_number(session, agreement, number).lock_version
        version = commands.import_version(
            session,
            actor=Actor.of(user),
            agreement_id=agreement.id,  # type: ignore[arg-type]
            number=number,
            expected_lock_version=expected,
            document=document,
            now=now(),
        )
    typer.echo(
        f"imported {file} into {agreement.key} version {number}: {len(version.terms)} terms, "
        f"{len(version.metrics)} metrics, content hash {version.content_hash[:12]}, "
        f"lock_version {version.lock_version}"
    )
