"""The `accord` command line: serve the API, administer, load the demo, check the audit trail.

The database is `--database-url` when given, else `ACCORD_DATABASE_URL`, else the embedded
SQLite default (`workflow.settings`). The CLI is the operator at the server's console: it
administers without a user (`actor=None`), and acts as a named user only where the domain needs
one (`version import --as EMAIL`). The clock is read here, at the edge, and nowhere below.
Every refusal is one line on stderr and a non-zero exit; usage errors exit 2, the rest 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select
from typer._click.exceptions import NoArgsIsHelpError
from typer.core import TyperGroup

from api import cli_db
from api import demo as demo_data
from api.cli_catalog import catalog_app
from api.cli_common import CliError, shown_url
from api.cli_config import config_app
from api.cli_jobs import jobs_app
from api.cli_jobs import scheduler as scheduler_command
from api.cli_measurements import measurements_app
from api.cli_notifications import notifications_app
from api.cli_serve import run_server
from states import LIFECYCLE
from states.diagram import mermaid
from workflow import audit, commands
from workflow.access import Actor
from workflow.commands.sign_in import set_passwords
from workflow.db import make_engine
from workflow.errors import DomainError, InvalidInput
from workflow.export import export_version, parse_document, to_yaml
from workflow.models import Agreement, Organization, User
from workflow.permissions import version_by_number
from workflow.schema import head_revision, is_current, upgrade
from workflow.settings import configuration_error, get_settings


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _domain_message(exc: DomainError) -> str:
    if isinstance(exc, InvalidInput) and exc.errors:
        fields = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors[:5])
        more = f" (+{len(exc.errors) - 5} more)" if len(exc.errors) > 5 else ""
        return f"{exc.message} ({fields}{more})"
    return exc.message


def _database_message(exc: SQLAlchemyError) -> str:
    # The driver's own message, without SQLAlchemy's SQL dump and background link.
    orig = getattr(exc, "orig", None)
    text = str(orig) if orig is not None else str(exc)
    return f"database error: {text.strip().splitlines()[0] if text.strip() else type(exc).__name__}"


class OneLineErrors(TyperGroup):
    """Turns every refusal into one `error: ...` line on stderr instead of a panel or a
    traceback; programming errors still raise."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        code = 1
        try:
            result = super().main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )
        except NoArgsIsHelpError as exc:  # `accord org`: help, not an error
            exc.show()
            sys.exit(exc.exit_code)
        except typer.TyperException as exc:  # bad arguments and options, unreadable files
            message, code = exc.format_message(), exc.exit_code
        except typer.Abort:
            message = "aborted"
        except DomainError as exc:
            message = _domain_message(exc)
        except CliError as exc:
            message = str(exc)
        except SQLAlchemyError as exc:
            message = _database_message(exc)
        except OSError as exc:
            message = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
        except ValidationError as exc:  # a bad ACCORD_* setting, read at start
            message = configuration_error(exc)
        else:
            # Non-standalone mode returns the code of `typer.Exit` (and of --help: 0).
            sys.exit(result if isinstance(result, int) else 0)
        typer.echo(f"error: {_one_line(message)}", err=True)
        sys.exit(code)


app = typer.Typer(
    cls=OneLineErrors,
    name="accord",
    help="Accord: govern Service Level Agreements between a customer and a provider.",
    # Markdown joins a docstring's wrapped lines into paragraphs (the default keeps the breaks).
    rich_markup_mode="markdown",
    no_args_is_help=True,
    add_completion=False,
    # Locals may hold tokens and database passwords; never print them.
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
org_app = typer.Typer(help="Organisations.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
version_app = typer.Typer(help="SLA versions as YAML documents.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
db_app.command("copy")(cli_db.copy)
db_app.command("backup")(cli_db.backup)
db_app.command("restore")(cli_db.restore)
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
app.add_typer(version_app, name="version")
app.add_typer(jobs_app, name="jobs")
app.add_typer(notifications_app, name="notifications")
app.add_typer(catalog_app, name="catalog")
app.add_typer(measurements_app, name="measurements")
app.command("scheduler")(scheduler_command)


@dataclass(frozen=True)
class CliState:
    database_url: str


@app.callback()
def _options(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="SQLAlchemy URL of the database [default: $ACCORD_DATABASE_URL, "
            "else sqlite:///./accord.db]",
            show_default=False,
        ),
    ] = None,
) -> None:
    ctx.obj = CliState(database_url or get_settings().database_url)


def _now() -> datetime:
    return datetime.now(UTC)


def _url(ctx: typer.Context) -> str:
    state: CliState = ctx.obj  # set by the callback; subcommands inherit it
    return state.database_url


@contextmanager
def _engine(ctx: typer.Context, *, upgrade_sqlite: bool = False) -> Iterator[Engine]:
    """The engine, with the schema checked: upgraded first on SQLite when asked (the embedded
    default needs no separate step), otherwise required to be current."""
    engine = make_engine(_url(ctx))
    try:
        if upgrade_sqlite and engine.dialect.name == "sqlite":
            upgrade(engine)
        elif not is_current(engine):
            raise CliError(
                f"the schema of {shown_url(_url(ctx))} is not current; run `accord db upgrade`"
            )
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _session(ctx: typer.Context) -> Iterator[Session]:
    with _engine(ctx) as engine, Session(engine, expire_on_commit=False) as session:
        yield session


def _organization(session: Session, name_or_id: str) -> Organization:
    org = session.exec(select(Organization).where(Organization.name == name_or_id)).first()
    if org is None and name_or_id.isdigit():
        org = session.get(Organization, int(name_or_id))
    if org is None:
        raise CliError(f"no organisation named or numbered {name_or_id!r}")
    return org


def _user(session: Session, email: str) -> User:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise CliError(f"no user with email {email!r}")
    return user


def _agreement(session: Session, key: str) -> Agreement:
    agreement = session.exec(select(Agreement).where(Agreement.key == key.strip())).first()
    if agreement is None:
        raise CliError(f"no agreement {key!r}")
    return agreement


# ---- serve and schema ----------------------------------------------------------------------


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(help="Server processes sharing the port.", min=1, max=64)
    ] = 1,
) -> None:
    """Run the HTTP API (on SQLite, the schema is upgraded first). With --workers N the
    processes share the port and the in-process scheduler runs once, in the supervisor."""
    settings = get_settings()
    with _engine(ctx, upgrade_sqlite=True) as engine:
        run_server(engine, _url(ctx), settings, host=host, port=port, workers=workers)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply every pending migration (idempotent)."""
    engine = make_engine(_url(ctx))
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    typer.echo(f"{shown_url(_url(ctx))} is at schema revision {head_revision()}")


# ---- administration ------------------------------------------------------------------------


@org_app.command("create")
def org_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The organisation's unique name.")],
    holiday_calendar: Annotated[
        str, typer.Option(help="Holiday calendar for business days (country code).")
    ] = "US",
) -> None:
    """Create an organisation."""
    with _session(ctx) as session:
        org = commands.create_organization(
            session, actor=None, name=name, holiday_calendar=holiday_calendar, now=_now()
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
    with _session(ctx) as session:
        organization = _organization(session, org)
        user = commands.create_user(
            session,
            actor=None,
            email=email,
            name=name,
            organization_id=organization.id,  # type: ignore[arg-type]
            is_admin=admin,
            now=_now(),
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
    with _session(ctx) as session:
        (user,) = set_passwords(session, actor=None, emails=[email], password=password, now=_now())
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
    with _session(ctx) as session:
        user = _user(session, email)
        _, plain = commands.create_token(
            session,
            actor=None,
            user_id=user.id,  # type: ignore[arg-type]
            name=label,
            now=_now(),
        )
    typer.echo(plain)


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id.")],
) -> None:
    """Revoke an API token."""
    with _session(ctx) as session:
        token = commands.revoke_token(session, actor=None, token_id=token_id, now=_now())
        user = session.get(User, token.user_id)
    assert token.revoked_at is not None
    owner = user.email if user is not None else f"user {token.user_id}"
    typer.echo(
        f"token {token.id} ({token.prefix}…) of {owner} revoked at "
        f"{token.revoked_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    )


# ---- demo ----------------------------------------------------------------------------------


@app.command()
def demo(
    ctx: typer.Context,
    tokens_file: Annotated[
        Path, typer.Option(help="Where to write `email token name (role)` lines.")
    ] = demo_data.DEFAULT_TOKENS_FILE,
    if_empty: Annotated[
        bool,
        typer.Option("--if-empty", help="Do nothing if the database has organisations."),
    ] = False,
) -> None:
    """Load the example SLA with its people, tokens and agreements in every working state.

    Creates both organisations and their 18 stakeholders, an administrator, an API token per
    user (written to --tokens-file), and agreements in draft, joint_review, gap_analysis,
    approval, and active with version 2 in draft.
    """
    with (
        _engine(ctx, upgrade_sqlite=True) as engine,
        Session(engine, expire_on_commit=False) as session,
    ):
        if if_empty and demo_data.has_organisations(session):
            typer.echo("the database already has organisations; demo not loaded")
            return
        # Fail on an unwritable tokens file before anything is created.
        tokens_file.parent.mkdir(parents=True, exist_ok=True)
        result = demo_data.load_demo(session, now=_now())
    demo_data.write_tokens(tokens_file, result.users)

    console = Console()
    table = Table(title="Demo agreements")
    table.add_column("id", justify="right")
    table.add_column("key")
    table.add_column("title")
    table.add_column("versions")
    for a in result.agreements:
        versions = ", ".join(f"v{number} {state}" for number, state in a.versions)
        table.add_row(str(a.id), a.key, a.title, versions)
    console.print(table)
    console.print(
        f"{len(result.users)} users; their API tokens are in {tokens_file} "
        f"(administrator: {demo_data.ADMIN_EMAIL})",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"Sign in at {get_settings().base_url.rstrip('/')}/signin as any of them "
        f"(e.g. {result.users[1].email}) with the password: {result.password}",
        highlight=False,
        soft_wrap=True,
    )
    if result.period is not None and result.agreements:
        first = result.agreements[0]
        console.print(
            f"{first.key} has eight weeks of measurements; its reporting period {result.period} "
            "was submitted and waits for the customer Functional Lead's review: "
            f"{get_settings().base_url.rstrip('/')}/slas/{first.id}/periods/{result.period}",
            highlight=False,
            soft_wrap=True,
        )


# ---- audit ---------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Recompute every hash chain; exit 1 naming the first bad event."""
    with _session(ctx) as session:
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
    with _session(ctx) as session:
        event = commands.checkpoint_audit(session, now=_now(), force=True)
        assert event is not None
        heads = json.loads(event.body)["data"]["heads"]
    typer.echo(f"checkpoint {event.seq} of the system chain records {len(heads)} chain heads")


# ---- lifecycle diagram and YAML ------------------------------------------------------------


@app.command()
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
    sla_key: Annotated[
        str, typer.Argument(metavar="SLA_KEY", help="The agreement's key, e.g. SLA-2026-0001.")
    ],
    number: Annotated[int, typer.Argument(metavar="N", help="The version number.", min=1)],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to this file instead of stdout.", dir_okay=False
        ),
    ] = None,
) -> None:
    """Export a version as YAML in the shape of example-sla.yaml."""
    with _session(ctx) as session:
        agreement = _agreement(session, sla_key)
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
    sla_key: Annotated[
        str, typer.Argument(metavar="SLA_KEY", help="The agreement's key, e.g. SLA-2026-0001.")
    ],
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
    with _session(ctx) as session:
        user = _user(session, as_email)
        if not user.is_active:
            raise CliError(f"user {user.email} is deactivated")
        agreement = _agreement(session, sla_key)
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
            now=_now(),
        )
    typer.echo(
        f"imported {file} into {agreement.key} version {number}: {len(version.terms)} terms, "
        f"{len(version.metrics)} metrics, content hash {version.content_hash[:12]}, "
        f"lock_version {version.lock_version}"
    )


def main() -> None:
    """Console-script entry point (`accord`)."""
    app(prog_name="accord")
