"""`accord org | user | token`: organisations, users, their passwords and API tokens.

The operator at the console administers as `actor=None`, through the same commands as the API.
"""

from __future__ import annotations

import sys
from datetime import UTC
from typing import Annotated

import typer

from api.cli.common import CliError, find_organization, find_user, now, open_session
from workflow import commands
from workflow.commands.sign_in import set_passwords
from workflow.models import User

org_app = typer.Typer(help="Organisations.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)


@org_app.command("create")
def org_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The organisation's unique name.")],
    holiday_calendar: Annotated[
        str, typer.Option(help="Holiday calendar for business days (country code).")
    ] = "US",
) -> None:
    """Create an organisation."""
    with open_session(ctx) as session:
        org = commands.create_organization(
            session, actor=None, name=name, holiday_calendar=holiday_calendar, now=now()
        )
    typer.echo(f"organisation {org.id}: {org.name} (holidays: {org.holiday_calendar})")


@user_app.command("create")
def user_create(
    ctx: typer.Context,
    email: Annotated[
        str, typer.Argument(metavar="EMAIL", help="The user's email address (their login).")
    ],
    name: Annotated[str, typer.Option(help="Full name.")],
    org: Annotated[str, typer.Option(help="Organisation, by name or id.")],
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an administrator.")] = False,
) -> None:
    """Create a user in an organisation."""
    with open_session(ctx) as session:
        organization = find_organization(session, org)
        user = commands.create_user(
            session,
            actor=None,
            email=email,
            name=name,
            organization_id=organization.id,  # type: ignore[arg-type]
            is_admin=admin,
            now=now(),
        )
    suffix = ", administrator" if user.is_admin else ""
    typer.echo(f"user {user.id}: {user.email} ({user.name}, {organization.name}{suffix})")


@user_app.command("set-password")
def user_set_password(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The user's email address.")],
) -> None:
    """Set the password a user signs in to the pages with, read as one line from standard
    input (never an argument: those show in the process list and shell history). Ends the
    user's open sessions."""
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CliError("no password on standard input: send it as one line")
    with open_session(ctx) as session:
        (user,) = set_passwords(session, actor=None, emails=[email], password=password, now=now())
    typer.echo(f"password set for {user.email}; their open sessions are ended")


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    email: Annotated[
        str, typer.Argument(metavar="EMAIL", help="Email of the user the token is for.")
    ],
    label: Annotated[str, typer.Option("--name", help="A label for the token.")] = "",
) -> None:
    """Create an API token and print only the token (it is shown this once)."""
    with open_session(ctx) as session:
        user = find_user(session, email)
        _, plain = commands.create_token(
            session,
            actor=None,
            user_id=user.id,  # type: ignore[arg-type]
            name=label,
            now=now(),
        )
    typer.echo(plain)


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id.")],
) -> None:
    """Revoke an API token."""
    with open_session(ctx) as session:
        token = commands.revoke_token(session, actor=None, token_id=token_id, now=now())
        user = session.get(User, token.user_id)
    assert token.revoked_at is not None
    owner = user.email if user is not None else f"user {token.user_id}"
    typer.echo(
        f"token {token.id} ({token.prefix}…) of {owner} revoked at "
        f"{token.revoked_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    )
