"""Where a benchmark writes: a fresh SQLite directory or a scratch PostgreSQL database."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from workflow.db import normalise_url

SQLITE_BUSY_TIMEOUT_S = 30.0


@dataclass
class Target:
    """One run's database: Accord's URL plus how the raw and SpiffWorkflow loops connect."""

    kind: str  # "sqlite" or "postgresql"
    accord_url: str
    sqlite_dir: Path | None = None
    libpq_url: str | None = None  # the scratch database, for psycopg
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def is_postgres(self) -> bool:
        return self.kind == "postgresql"

    def sqlite_file(self, name: str) -> Path:
        """A fresh file of its own for each loop (Accord, raw baseline, SpiffWorkflow)."""
        assert self.sqlite_dir is not None
        return self.sqlite_dir / name

    def pg_connect(self) -> psycopg.Connection[Any]:
        assert self.libpq_url is not None
        return psycopg.connect(self.libpq_url)


def sqlite_connect(path: Path) -> sqlite3.Connection:
    """Durable like Accord's engine: WAL, synchronous=FULL, explicit transactions."""
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=SQLITE_BUSY_TIMEOUT_S
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    return conn


def filesystem_of(path: Path) -> str | None:
    """The filesystem type holding `path` (ext4, tmpfs, ...), from /proc/mounts."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    resolved = str(path.resolve())
    best, best_type = "", None
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount_point, fs_type = parts[1], parts[2]
        inside = resolved == mount_point or resolved.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, best_type = mount_point, fs_type
    return best_type


@contextmanager
def sqlite_target(parent: str | None, *, keep: bool = False) -> Iterator[Target]:
    directory = Path(tempfile.mkdtemp(prefix="accord_bench_", dir=parent))
    try:
        yield Target(
            kind="sqlite",
            accord_url=f"sqlite:///{directory / 'accord.db'}",
            sqlite_dir=directory,
            detail={
                "directory": str(directory),
                "filesystem": filesystem_of(directory),
                "sqlite_version": sqlite3.sqlite_version,
                "journal_mode": "wal",
                "synchronous": "full",
                "kept": keep,
            },
        )
    finally:
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)


def _libpq(url: str) -> str:
    """A SQLAlchemy or libpq PostgreSQL URL as psycopg wants it."""
    parsed = make_url(normalise_url(url)).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


@contextmanager
def postgres_target(url: str) -> Iterator[Target]:
    """Create `accord_bench_<random>` on the server of `url`; drop it afterwards, whatever happens.

    Nothing else on the server is read or written: the URL's own database is used only to
    issue CREATE DATABASE and DROP DATABASE.
    """
    admin_url = _libpq(url)
    name = f"accord_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    scratch = make_url(admin_url).set(database=name)
    try:
        libpq_url = scratch.render_as_string(hide_password=False)
        with psycopg.connect(libpq_url) as conn:
            settings = {
                key: str(conn.execute(f"SHOW {key}").fetchone()[0])  # type: ignore[index]
                for key in ("server_version", "fsync", "synchronous_commit", "max_connections")
            }
        yield Target(
            kind="postgresql",
            accord_url=normalise_url(libpq_url),
            libpq_url=libpq_url,
            detail={
                "scratch_database": name,
                "host": scratch.host,
                "port": scratch.port,
                **settings,
                "psycopg_version": psycopg.__version__,
            },
        )
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def open_target(
    database_url: str | None, *, sqlite_dir: str | None = None, keep: bool = False
) -> Iterator[Target]:
    if database_url is None:
        with sqlite_target(sqlite_dir, keep=keep) as target:
            yield target
        return
    if database_url.startswith(("postgresql", "postgres")):
        with postgres_target(database_url) as target:
            yield target
        return
    raise SystemExit(
        "--database-url must be a PostgreSQL URL (the SQLite default is a fresh temporary "
        "file; use --sqlite-dir to choose where)"
    )
