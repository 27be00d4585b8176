"""`accord notifications`: show the outbox, requeue dead messages, set a user's delivery mode.

A sub-app mounted by `api.cli.app`; it raises domain errors that the root turns into one
`error:` line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from api.cli.common import find_user, now, open_session
from workflow.commands.notifications import retry_notification, set_notification_mode
from workflow.models import OutboxStatus
from workflow.queries.notifications import list_notifications

notifications_app = typer.Typer(
    help="Outgoing email: list the outbox, requeue dead messages, choose digests.",
    no_args_is_help=True,
)


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}"


@notifications_app.command("list")
def list_command(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="Only messages in this state: pending, sent or dead.")
    ] = None,
    topic: Annotated[str | None, typer.Option(help="Only this topic, e.g. task.assigned.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 50,
) -> None:
    """The outbox, newest first: id, status, attempts, topic, next attempt or sent time, error."""
    with open_session(ctx) as session:
        found = list_notifications(session, status=status, topic=topic, limit=limit)
    if not found.items:
        typer.echo("no notifications")
        return
    for n in found.items:
        when = (
            f"sent {_when(n.sent_at)}"
            if n.status == OutboxStatus.SENT
            else f"due {_when(n.next_attempt_at)}"
        )
        line = f"{n.id:>6}  {n.status:<7}  {n.attempts:>2}  {n.topic:<32}  {when} UTC"
        if n.last_error:
            line += f"  {' '.join(n.last_error.split())[:200]}"
        typer.echo(line)
    if found.next_after:
        typer.echo(f"(more: showing the newest {limit})")


@notifications_app.command("retry")
def retry_command(
    ctx: typer.Context,
    notification_id: Annotated[int, typer.Argument(metavar="ID", help="The message's id.")],
) -> None:
    """Requeue a dead message; people it already reached are not mailed again."""
    with open_session(ctx) as session:
        message = retry_notification(session, actor=None, outbox_id=notification_id, now=now())
    typer.echo(f"notification {message.id} ({message.topic}) is pending again")


@notifications_app.command("mode")
def mode_command(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The user's email address.")],
    mode: Annotated[
        str, typer.Argument(metavar="MODE", help="immediate (each email) or digest (one a day).")
    ],
) -> None:
    """Choose how a user receives notifications."""
    with open_session(ctx) as session:
        user = find_user(session, email)
        assert user.id is not None
        user = set_notification_mode(session, actor=None, user_id=user.id, mode=mode, now=now())
    typer.echo(f"{user.email} receives notifications: {user.notification_mode}")
