"""`accord audit verify | checkpoint`: the hash-chained audit trail."""

from __future__ import annotations

import json

import typer

from api.cli.common import CliError, now, open_session
from workflow import audit, commands

audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Recompute every hash chain; exit 1 naming the first bad event."""
    with open_session(ctx) as session:
        result = audit.verify(session)
    if not result.ok:
        first = result.failures[0]
        where = f"chain {first.chain}"
        if first.seq is not None:
            where += f", seq {first.seq}"
        if first.event_id is not None:
            where += f" (event id {first.event_id})"
        more = len(result.failures) - 1
        raise CliError(
            f"audit trail broken at {where}: {first.reason}"
            + (f" ({more} more failure{'s' if more > 1 else ''})" if more else "")
        )
    typer.echo(
        f"audit trail intact: {result.events_checked} events in "
        f"{result.agreements_checked} agreement chains and the system chain"
    )


@audit_app.command("checkpoint")
def audit_checkpoint(ctx: typer.Context) -> None:
    """Record every chain head, so that a truncated chain is detected later."""
    with open_session(ctx) as session:
        event = commands.checkpoint_audit(session, now=now(), force=True)
        assert event is not None
        heads = json.loads(event.body)["data"]["heads"]
    typer.echo(f"checkpoint {event.seq} of the system chain records {len(heads)} chain heads")
