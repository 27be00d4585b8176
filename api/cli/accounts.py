"""`accord org | user | token`: organisations, users, their roles, passwords and API tokens.

The operator at the console administers as `actor=None`, through the same commands as the API.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from sqlmodel import select

from api.cli.common import CliError, find_organization, find_user, now, open_session
from workflow import commands
from workflow.commands import accounts
from workflow.commands.admin import ROLES, role_named
from workflow.commands.sign_in import set_passwords
from workflow.models import Organization, User
from workflow.queries.admin import list_tokens
from workflow.queries.parties import list_users

_LIST_BATCH = 500

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
    role: Annotated[
        str | None,
        typer.Option(help=f"One of {', '.join(ROLES)} (wins over --admin)."),
    ] = None,
    invite: Annotated[
        bool,
        typer.Option("--invite", help="Email them a one-use link to choose their password."),
    ] = False,
) -> None:
    """Create a user in an organisation."""
    chosen = role or ("admin" if admin else "member")
    with open_session(ctx) as session:
        organization = find_organization(session, org)
        create = accounts.invite_user if invite else commands.create_user
        user = create(
            session,
            actor=None,
            email=email,
            name=name,
            organization_id=organization.id,  # type: ignore[arg-type]
            role=chosen,
            now=now(),
        )
    suffix = "" if chosen == "member" else f", {chosen.replace('_', ' ')}"
    invited = "; invitation queued" if invite else ""
    typer.echo(f"user {user.id}: {user.email} ({user.name}, {organization.name}{suffix}){invited}")


@user_app.command("list")
def user_list(ctx: typer.Context) -> None:
    """Every user: id, email, name, organisation, role, whether active and with a password."""
    with open_session(ctx) as session:
        orgs = {o.id: o.name for o in session.exec(select(Organization)).all()}
        after: list[object] | None = None
        while True:
            found = list_users(session, limit=_LIST_BATCH, after=after)
            for u in found.items:
                role = role_named(u.is_admin, u.auditor_scope)
                flags = [role] + ([] if u.is_active else ["disabled"])
                flags += [] if u.has_password else ["no password"]
                org = orgs.get(u.organization_id, "?")
                typer.echo(f"{u.id}\t{u.email}\t{u.name}\t{org}\t{', '.join(flags)}")
            if found.next_after is None:
                return
            after = found.next_after


@user_app.command("role")
def user_role(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The user's email address.")],
    role: Annotated[str, typer.Argument(metavar="ROLE", help=f"One of {', '.join(ROLES)}.")],
) -> None:
    """Make a user a member, an administrator, an auditor (of their organisation's
    agreements) or a global auditor."""
    with open_session(ctx) as session:
        user = find_user(session, email)
        commands.set_role(session, actor=None, user_id=user.id, role=role, now=now())  # type: ignore[arg-type]
    typer.echo(f"{user.email} is now {role.replace('_', ' ')}")


@user_app.command("invite")
def user_invite(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The user's email address.")],
) -> None:
    """Email an existing user a fresh one-use link to choose their password."""
    with open_session(ctx) as session:
        user = find_user(session, email)
        accounts.reinvite_user(session, actor=None, user_id=user.id, now=now())  # type: ignore[arg-type]
    typer.echo(f"link queued for {user.email}; older links stop working")


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
    expires: Annotated[
        datetime | None,
        typer.Option(
            help="Refuse the token from this moment (UTC unless it names a zone), e.g. 2027-01-31.",
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"],
        ),
    ] = None,
) -> None:
    """Create an API token and print only the token (it is shown this once)."""
    expires_at = None
    if expires is not None:
        expires_at = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
    with open_session(ctx) as session:
        user = find_user(session, email)
        _, plain = commands.create_token(
            session,
            actor=None,
            user_id=user.id,  # type: ignore[arg-type]
            name=label,
            expires_at=expires_at,
            now=now(),
        )
    typer.echo(plain)


def _moment(value: datetime | None, empty: str) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if value is not None else empty


@token_app.command("list")
def token_list(ctx: typer.Context) -> None:
    """Every API token, newest first: id, prefix, owner, name, status, expiry, last use."""
    moment = now()
    with open_session(ctx) as session:
        emails = {u.id: u.email for u in session.exec(select(User)).all()}
        after: list[object] | None = None
        while True:
            found = list_tokens(session, limit=_LIST_BATCH, after=after)
            for t in found.items:
                typer.echo(
                    f"{t.id}\t{t.prefix}…\t{emails.get(t.user_id, t.user_id)}\t"
                    f"{t.name or '-'}\t{t.status_at(moment)}\t"
                    f"expires {_moment(t.expires_at, 'never')}\t"
                    f"last used {_moment(t.last_used_at, 'never')}"
                )
            if found.next_after is None:
                return
            after = found.next_after


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
