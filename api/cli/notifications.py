"""`accord notifications`: show the outbox, requeue dead messages, set a user's delivery mode
and their choice per topic group.

A sub-app mounted by `api.cli.app`; it raises domain errors that the root turns into one
`error:` line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from api.cli.common import find_user, now, open_session
from notifications.preferences import group_views, roles_held
from workflow.commands.notifications import (
    notification_choices,
    retry_notification,
    set_notification_mode,
    set_notification_preferences,
)
from workflow.errors import InvalidInput
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


@notifications_app.command("preferences")
def preferences_command(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The user's email address.")],
    choices: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[GROUP=CHOICE]...",
            help="Groups: tasks, decisions, reports, governance; choices: immediate, digest, "
            "off or default (what the user's roles get). Without any, only show them.",
        ),
    ] = None,
) -> None:
    """Show, or set, what a user is mailed per topic group (task emails are never off)."""
    wanted: dict[str, str] = {}
    for item in choices or []:
        group, sep, choice = item.partition("=")
        if not sep or not group or not choice:
            raise InvalidInput(f"{item!r} is not GROUP=CHOICE, such as decisions=digest")
        wanted[group.strip()] = choice.strip()
    with open_session(ctx) as session:
        user = find_user(session, email)
        assert user.id is not None
        if wanted:
            set_notification_preferences(
                session, actor=None, user_id=user.id, choices=wanted, now=now(), via="cli"
            )
        views = group_views(
            notification_choices(session, user.id),
            roles_held(session, user.id),
            overall=user.notification_mode,
        )
    for view in views:
        chosen = f"default ({view.default})" if view.choice == "default" else view.choice
        typer.echo(f"{view.group:<11}  {view.effective:<9}  {chosen:<19}  {view.label}")
