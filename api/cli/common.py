"""What every `accord` command shares: the database it works on, its refusal, the lookups by
name the operator types.

The root callback (`api.cli.app`) puts a `CliState` on the context; every command reaches the
database through `open_engine(ctx)` or `open_session(ctx)`, so all check the schema alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import typer
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, select

from workflow.db import make_engine
from workflow.models import Agreement, Organization, User
from workflow.schema import is_current, upgrade


class CliError(Exception):
    """A refusal of the CLI itself (unknown name, unreadable file, schema not current)."""


@dataclass(frozen=True)
class CliState:
    database_url: str


def shown_url(url: str) -> str:
    """A database URL as it may be printed: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the database"


def now() -> datetime:
    """The clock, read here at the edge and passed down."""
    return datetime.now(UTC)


def database_url(ctx: typer.Context) -> str:
    state: CliState = ctx.obj  # set by the root callback; subcommands inherit it
    return state.database_url


@contextmanager
def open_engine(ctx: typer.Context, *, upgrade_sqlite: bool = False) -> Iterator[Engine]:
    """The engine, with the schema checked: upgraded first on SQLite when asked (the embedded
    default needs no separate step), otherwise required to be current."""
    url = database_url(ctx)
    made = make_engine(url)
    try:
        if upgrade_sqlite and made.dialect.name == "sqlite":
            upgrade(made)
        elif not is_current(made):
            raise CliError(
                f"the schema of {shown_url(url)} is not current; run `accord db upgrade`"
            )
        yield made
    finally:
        made.dispose()


@contextmanager
def open_session(ctx: typer.Context) -> Iterator[Session]:
    """A session on the current schema; commands commit, this only closes."""
    with open_engine(ctx) as made, Session(made, expire_on_commit=False) as opened:
        yield opened


def find_organization(session: Session, name_or_id: str) -> Organization:
    org = session.exec(select(Organization).where(Organization.name == name_or_id)).first()
    if org is None and name_or_id.isdigit():
        org = session.get(Organization, int(name_or_id))
    if org is None:
        raise CliError(f"no organisation named or numbered {name_or_id!r}")
    return org


def find_user(session: Session, email: str) -> User:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise CliError(f"no user with email {email!r}")
    return user


def find_active_user(session: Session, email: str) -> User:
    """A user the CLI may act as (`--as EMAIL`): known and not deactivated."""
    user = find_user(session, email)
    if not user.is_active:
        raise CliError(f"user {user.email} is deactivated")
    return user


def find_agreement(session: Session, key: str) -> Agreement:
    agreement = session.exec(select(Agreement).where(Agreement.key == key.strip())).first()
    if agreement is None:
        raise CliError(f"no agreement {key!r}")
    return agreement
