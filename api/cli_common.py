"""What the CLI's command modules share: their refusal and how a database URL is shown."""

from __future__ import annotations

from sqlalchemy.engine import make_url


class CliError(Exception):
    """A refusal of the CLI itself (unknown name, unreadable file, schema not current)."""


def shown_url(url: str) -> str:
    """A database URL as it may be printed: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the database"
