"""CSV import through Accord against a raw executemany of the same rows (issue 4's goal: ≥ 30 %).

    python -m bench.measurements [--rows N] [--database-url URL] [--chunk N]

Both loops write the same rows into a table of the same shape (natural-key primary key, with
value and weight INCLUDEd on PostgreSQL; WITHOUT ROWID on SQLite), one commit per chunk of the
same size, in the same run. Accord reads and checks the CSV file as it streams; the raw loop
gets the rows already parsed into tuples (its time is the database's alone). Prints JSON.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bench.target import Target, open_target, sqlite_connect
from workflow import commands
from workflow.commands.measurements import CHUNK_ROWS
from workflow.db import make_engine
from workflow.example import example_content, load_example, seed_parties
from workflow.measurements import csv_rows
from workflow.schema import upgrade

START = datetime(2026, 10, 2, tzinfo=UTC)
RAW_SQLITE = (
    "CREATE TABLE raw_measurement (agreement_id INTEGER NOT NULL, metric_key VARCHAR(80) NOT NULL,"
    " observed_at DATETIME NOT NULL, value DOUBLE NOT NULL, weight DOUBLE, batch_id INTEGER"
    " NOT NULL, ingested_at DATETIME NOT NULL,"
    " PRIMARY KEY (agreement_id, metric_key, observed_at)) WITHOUT ROWID"
)
RAW_PG = "CREATE TABLE raw_measurement (LIKE measurement INCLUDING ALL)"
RAW_INSERT = (
    "INSERT INTO raw_measurement (agreement_id, metric_key, observed_at, value, weight,"
    " batch_id, ingested_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}) ON CONFLICT DO NOTHING"
)


def write_csv(path: Path, rows: int, metrics: list[str]) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["metric", "observed_at", "value", "weight"])
        for i in range(rows):
            moment = START + timedelta(seconds=30 * (i // len(metrics)))
            out.writerow([metrics[i % len(metrics)], moment.isoformat(), f"{i % 1000}.25", i % 7])


def parsed_rows(path: Path, postgres: bool) -> list[tuple[Any, ...]]:
    """The file's rows as the raw loop binds them (UTC text on SQLite, datetimes for psycopg)."""
    now = datetime.now(UTC)
    found: list[tuple[Any, ...]] = []
    with path.open(newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for metric, at, value, weight in reader:
            moment = datetime.fromisoformat(at)
            when: Any = moment if postgres else moment.astimezone(UTC).isoformat()
            found.append((1, metric, when, float(value), float(weight), 1, now))
    return found


def run_accord(target: Target, path: Path) -> dict[str, Any]:
    engine = make_engine(target.accord_url)
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        document = load_example()
        now = datetime.now(UTC)
        parties = seed_parties(session, document, now=now)
        agreement = commands.create_agreement(
            session,
            actor=parties.actor(*next(iter(parties.actors))),
            title=document["title"],
            customer_org_id=parties.customer_org_id,
            provider_org_id=parties.provider_org_id,
            content=example_content(document),
            stakeholders=parties.stakeholders(),
            now=now,
        )
        assert agreement.id is not None
        started = time.perf_counter()
        with path.open("rb") as raw:
            report = commands.import_measurements(
                session,
                actor=None,
                agreement_id=agreement.id,
                rows=csv_rows(io.BufferedReader(raw, 256 * 1024)),
                source="csv",
                now=datetime.now(UTC),
            )
        seconds = time.perf_counter() - started
    engine.dispose()
    return {
        "seconds": round(seconds, 3),
        "accepted": report.accepted,
        "rejected": report.rejected,
        "duplicates": report.duplicates,
    }


def run_raw(target: Target, rows: list[tuple[Any, ...]], chunk: int) -> dict[str, Any]:
    started = 0.0
    if target.is_postgres:
        with target.pg_connect() as conn:
            conn.execute(RAW_PG)
            conn.commit()
            statement = RAW_INSERT.format(p="%s")
            started = time.perf_counter()
            with conn.cursor() as cur:
                for i in range(0, len(rows), chunk):
                    cur.executemany(statement, rows[i : i + chunk])
                    conn.commit()
            seconds = time.perf_counter() - started
    else:
        lite = sqlite_connect(target.sqlite_file("raw.db"))
        lite.execute(RAW_SQLITE)
        statement = RAW_INSERT.format(p="?")
        started = time.perf_counter()
        for i in range(0, len(rows), chunk):
            lite.execute("BEGIN IMMEDIATE")
            lite.executemany(statement, rows[i : i + chunk])
            lite.execute("COMMIT")
        seconds = time.perf_counter() - started
        lite.close()
    return {"seconds": round(seconds, 3), "rows": len(rows)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None, help="PostgreSQL; default: SQLite")
    parser.add_argument("--chunk", type=int, default=CHUNK_ROWS)
    args = parser.parse_args(argv)
    metrics = [m["key"] for m in load_example()["metrics"]]
    with tempfile.TemporaryDirectory(prefix="accord_bench_csv_") as scratch:
        path = Path(scratch) / "measurements.csv"
        write_csv(path, args.rows, metrics)
        with open_target(args.database_url) as target:
            accord = run_accord(target, path)
            raw = run_raw(target, parsed_rows(path, target.is_postgres), args.chunk)
            detail = target.detail
        size = path.stat().st_size
    accord_rate = args.rows / accord["seconds"]
    raw_rate = args.rows / raw["seconds"]
    print(
        json.dumps(
            {
                "benchmark": "measurements_csv_import",
                "database": target.kind,
                "rows": args.rows,
                "csv_bytes": size,
                "chunk_rows": args.chunk,
                "accord": {**accord, "rows_per_s": round(accord_rate)},
                "raw_executemany": {**raw, "rows_per_s": round(raw_rate)},
                "ratio": round(accord_rate / raw_rate, 3),
                "goal": 0.30,
                "target": detail,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
