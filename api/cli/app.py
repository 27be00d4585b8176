"""The `accord` command line: serve the API, administer, load the demo, check the audit trail.

The database is `--database-url` when given, else `ACCORD_DATABASE_URL`, else the embedded
SQLite default (`workflow.settings`). The CLI is the operator at the server's console: it
administers without a user (`actor=None`), and acts as a named user only where the domain needs
one (`version import --as EMAIL`). The clock is read at this edge, and nowhere below.
Every refusal is one line on stderr and a non-zero exit; usage errors exit 2, the rest 1.

This module is the root: it registers the command groups of its sibling modules, which never
import it back.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from typer._click.exceptions import NoArgsIsHelpError
from typer.core import TyperGroup

from api.cli import accounts, audit, db, demo, jobs, serve, versions
from api.cli.catalog import catalog_app
from api.cli.common import CliError, CliState
from api.cli.config import config_app
from api.cli.measurements import measurements_app
from api.cli.notifications import notifications_app
from workflow.errors import DomainError, InvalidInput
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


def _refusal(exc: Exception) -> tuple[str, int] | None:
    """The one line and exit code for an exception the CLI reports; None if it must raise."""
    if isinstance(exc, typer.TyperException):  # bad arguments and options, unreadable files
        return exc.format_message(), exc.exit_code
    if isinstance(exc, typer.Abort):
        return "aborted", 1
    if isinstance(exc, DomainError):
        return _domain_message(exc), 1
    if isinstance(exc, CliError):
        return str(exc), 1
    if isinstance(exc, SQLAlchemyError):
        return _database_message(exc), 1
    if isinstance(exc, OSError):
        return (f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)), 1
    if isinstance(exc, ValidationError):  # a bad ACCORD_* setting, read at start
        return configuration_error(exc), 1
    return None


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
        try:
            result = super().main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )
        except NoArgsIsHelpError as exc:  # `accord org`: help, not an error
            exc.show()
            sys.exit(exc.exit_code)
        except Exception as exc:
            refusal = _refusal(exc)
            if refusal is None:
                raise
            message, code = refusal
            typer.echo(f"error: {_one_line(message)}", err=True)
            sys.exit(code)
        # Non-standalone mode returns the code of `typer.Exit` (and of --help: 0).
        sys.exit(result if isinstance(result, int) else 0)


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


@app.callback()
def options(
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


# Groups and commands in the order `accord --help` has always listed them.
app.add_typer(db.db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(accounts.org_app, name="org")
app.add_typer(accounts.user_app, name="user")
app.add_typer(accounts.token_app, name="token")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(versions.version_app, name="version")
app.add_typer(jobs.jobs_app, name="jobs")
app.add_typer(notifications_app, name="notifications")
app.add_typer(catalog_app, name="catalog")
app.add_typer(measurements_app, name="measurements")
app.command("scheduler")(jobs.scheduler)
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)
app.command("diagram")(versions.diagram)


def main() -> None:
    """Console-script entry point (`accord`)."""
    app(prog_name="accord")
