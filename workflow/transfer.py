"""Carry a whole installation from one database to another: the path from the embedded SQLite
file to PostgreSQL (`accord db copy`), and restoring a SQLite backup (`accord db restore`).

Every table of the models is copied row for row, in foreign-key order and primary-key order,
in batches. The source is read in one read-only transaction (a consistent snapshot, so it may
keep serving reads meanwhile) and never written; the target is written in one transaction, so
a failed copy leaves it empty. Audit events keep their sequence numbers and hashes, so the
chains verify on the target exactly as on the source; PostgreSQL sequences are moved past the
copied ids so new rows do not collide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

import workflow.models  # noqa: F401 - every table registered on the metadata
from workflow.errors import Conflict
from workflow.schema import is_current, upgrade

BATCH_ROWS = 5_000

Progress = Callable[[str, int], None]  # table name, rows just copied


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int
    target: int

    @property
    def matches(self) -> bool:
        return self.source == self.target


def tables() -> list[sa.Table]:
    """The installation's tables, parents before children."""
    return list(SQLModel.metadata.sorted_tables)


def row_counts(connection: Connection, *, present_only: bool = False) -> dict[str, int]:
    """Rows per table; with `present_only`, of the tables that exist (before migrating)."""
    present = set(sa.inspect(connection).get_table_names()) if present_only else None
    return {
        t.name: int(connection.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
        for t in tables()
        if present is None or t.name in present
    }


def require_current(source: Engine) -> None:
    if not is_current(source):
        raise Conflict("the source schema is not current; run `accord db upgrade` on it first")


def copy_installation(
    source: Engine, target: Engine, *, batch: int = BATCH_ROWS, progress: Progress | None = None
) -> list[TableCount]:
    """Copy every row from `source` into `target` (migrated here if it is not yet); refuse a
    target that holds any row. Returns each table's count on both sides."""
    require_current(source)
    _require_empty(target)  # before migrating: never touch a database that holds data
    upgrade(target)
    _require_empty(target)
    with source.connect() as reading:
        _read_only_snapshot(reading)
        expected = row_counts(reading)
        with target.begin() as writing:
            for table in tables():
                _copy_table(reading, writing, table, batch, progress)
            _move_sequences(writing)
            copied = row_counts(writing)
        reading.rollback()
    return [TableCount(name, expected[name], copied[name]) for name in expected]


def _require_empty(target: Engine) -> None:
    with target.connect() as probe:
        filled = sorted(name for name, n in row_counts(probe, present_only=True).items() if n)
    if filled:
        raise Conflict(f"the target database is not empty ({', '.join(filled)}); nothing copied")


def _read_only_snapshot(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    else:
        # A WAL reader sees the database as of its first read for the whole transaction.
        connection.exec_driver_sql("SELECT 1 FROM sqlite_master LIMIT 1")


def _copy_table(
    reading: Connection,
    writing: Connection,
    table: sa.Table,
    batch: int,
    progress: Progress | None,
) -> None:
    ordered = sa.select(table).order_by(*table.primary_key.columns)
    result = reading.execution_options(yield_per=batch).execute(ordered)
    insert = table.insert()
    for rows in result.partitions(batch):
        values: list[dict[str, Any]] = [dict(row._mapping) for row in rows]
        writing.execute(insert, values)
        if progress is not None:
            progress(table.name, len(values))


def _move_sequences(writing: Connection) -> None:
    if writing.dialect.name != "postgresql":
        return  # SQLite hands out max(rowid) + 1
    for table in tables():
        for column in table.primary_key.columns:
            sequence = writing.execute(
                sa.text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table.name, "column": column.name},
            ).scalar_one()
            if sequence is None:
                continue
            writing.execute(
                sa.text(
                    f'SELECT setval(:sequence, COALESCE(MAX("{column.name}"), 1), '  # noqa: S608
                    f'MAX("{column.name}") IS NOT NULL) FROM "{table.name}"'
                ),
                {"sequence": sequence},
            )
