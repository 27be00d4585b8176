"""Engines and write transactions for the two supported databases."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from workflow.settings import get_settings

WRITE_OPTION = "accord_write"
# Set while a command's transaction waits for its response to be stored with it
# (workflow.transaction); no second command may begin inside that transaction.
PENDING_RESPONSE_KEY = "accord.idempotency.pending"


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here, whatever the installed default."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str | None = None, *, pool_size: int = 10) -> Engine:
    url = normalise_url(url or get_settings().database_url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _sqlite_engine(url: str) -> Engine:
    busy_ms = get_settings().sqlite_busy_timeout_ms
    engine = sa.create_engine(
        url, connect_args={"check_same_thread": False, "timeout": busy_ms / 1000}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see its pysqlite docs).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # A deferred transaction that later writes fails at once with "database is locked";
        # taking the write lock up front makes writers queue on the busy timeout instead.
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def sqlite_text(moment: datetime) -> str:
    """An aware time as SQLAlchemy stores it in a SQLite column (UTC, no offset, to the
    microsecond), for the bulk statements that go to the driver past its type layer: the
    stored text must be the same, since SQLite compares times as text."""
    if moment.tzinfo is None:
        raise ValueError("stored times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(sep=" ", timespec="microseconds")[:26]


def is_postgres(session: Session) -> bool:
    bind = session.get_bind()
    return bind.dialect.name == "postgresql"


def db_now(session: Session) -> datetime:
    """The database's clock, for deadlines several processes judge (leases, key expiry): a
    process running with a simulated `now` (`accord jobs run-once --now`) must not move them."""
    if is_postgres(session):
        value = session.execute(sa.text("SELECT CURRENT_TIMESTAMP")).scalar_one()
        return value.astimezone(UTC)  # type: ignore[no-any-return]
    text = session.execute(sa.text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def begin_write(session: Session) -> None:
    """Start the command's one write transaction on a session that holds no pending changes."""
    if PENDING_RESPONSE_KEY in session.info:
        raise RuntimeError("begin_write while a command's transaction awaits its response")
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("begin_write on a session with pending changes")
        session.rollback()
    session.connection(execution_options={WRITE_OPTION: True})
    # Rows cached by earlier transactions must be re-read under the lock we now hold.
    session.expire_all()
