"""`accord config show`: the effective configuration, secrets masked."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import SecretStr

from api.cli.common import shown_url
from workflow.settings import ENV_FILE, PREFIX, Settings, get_settings, unknown_variables

config_app = typer.Typer(help="The service's configuration.", no_args_is_help=True)

MASK = "********"


def shown(name: str, value: object) -> str:
    """A setting as it may be printed: secrets masked, a database password hidden."""
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if name == "database_url":
        return shown_url(str(value))
    return "" if value is None else str(value)


@config_app.command("show")
def show() -> None:
    """Print every ACCORD_* setting in effect (from the environment, ./.env or the default)."""
    settings = get_settings()
    dotenv = Path(ENV_FILE)
    typer.echo(f"# {dotenv.resolve()} {'read' if dotenv.is_file() else 'not present'}")
    for name in Settings.model_fields:
        typer.echo(f"{PREFIX}{name.upper()}={shown(name, getattr(settings, name))}")
    for variable in unknown_variables():
        typer.echo(f"# ignored: {variable} names no setting")
