"""The compliance report of one agreement-year with millions of observations in the table.

    python -m bench.compliance [--rows N] [--agreements A] [--database-url URL] [--runs R]

Seeds `--rows` observations (default 10,000,000) spread evenly over `--agreements` agreements
(default 20), each with the example SLA's 15 metrics (their aggregations cycled through mean,
p95, min, max, sum and last so that every SQL path runs) over the two years 2026-2027: so one
agreement-year holds rows / agreements / 2 observations. PostgreSQL is loaded with COPY
(psycopg), SQLite with executemany; both in primary-key order, then ANALYZE.

Then times, median of `--runs` (after one warm-up each):
- `report`: `agreement_compliance_report` for agreement 1 and 2027-01-01 to 2027-12-31: the
  SQL aggregation per metric-window plus the Python judgement (versions, status, remedies,
  responsiveness), as the API runs it minus HTTP and serialisation;
- `bare_sql`: one plain `GROUP BY metric, month` aggregate (count, sum, min, max) over the
  same agreement-year rows, the floor any report must read through.
Prints JSON with both and their ratio; the goal is report ≤ 200 ms.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from bench.target import Target, open_target, sqlite_connect
from workflow import commands
from workflow.db import make_engine
from workflow.example import example_content, load_example, seed_parties
from workflow.models import Agreement, AgreementVersion, MeasurementBatch
from workflow.queries.compliance import agreement_compliance_report
from workflow.schema import upgrade

START = datetime(2026, 1, 1, 5, tzinfo=UTC)  # New York midnight
YEARS = 2
AGGREGATIONS = ("mean", "p95", "min", "max", "sum", "last")
COLUMNS = "agreement_id, metric_key, observed_at, value, weight, batch_id, ingested_at"
SEED_CHUNK = 200_000
BARE_PG = (
    "SELECT metric_key, date_trunc('month', observed_at AT TIME ZONE 'America/New_York') AS w,"
    " count(*), sum(value), min(value), max(value) FROM measurement"
    " WHERE agreement_id = :a AND observed_at >= :s AND observed_at < :e GROUP BY 1, 2"
)
BARE_SQLITE = (
    "SELECT metric_key, substr(observed_at, 1, 7) AS w, count(*), sum(value), min(value),"
    " max(value) FROM measurement"
    " WHERE agreement_id = :a AND observed_at >= :s AND observed_at < :e GROUP BY 1, 2"
)


def setup(session: Session, agreements: int) -> tuple[list[int], list[str], int]:
    """`agreements` agreements with one version active since 2025-12-01; their batch id."""
    document = load_example()
    now = datetime.now(UTC)
    parties = seed_parties(session, document, now=now)
    ids: list[int] = []
    for _ in range(agreements):
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
        ids.append(agreement.id)
    metrics: list[str] = []
    for version in session.exec(select(AgreementVersion)).all():
        changed = []
        for i, metric in enumerate(version.metrics):
            changed.append({**metric, "aggregation": AGGREGATIONS[i % len(AGGREGATIONS)]})
        metrics = [m["key"] for m in changed]
        version.metrics = changed
        version.terms = {**version.terms, "time_zone": "America/New_York"}
        version.state, version.activated_at = "active", datetime(2025, 12, 1, tzinfo=UTC)
        session.add(version)
    for agreement in session.exec(select(Agreement)).all():
        agreement.remedy_policy = "service_credits"
        session.add(agreement)
    batch = MeasurementBatch(agreement_id=ids[0], source="csv", started_at=now)
    session.add(batch)
    session.commit()
    assert batch.id is not None
    return ids, metrics, batch.id


def rows(
    agreements: list[int], metrics: list[str], total: int, batch_id: int
) -> Iterator[tuple[int, str, datetime, float, float | None]]:
    """`total` rows in primary-key order, each (agreement, metric) evenly over two years."""
    per_series = max(1, total // (len(agreements) * len(metrics)))
    step = timedelta(seconds=YEARS * 365 * 86400 / per_series)
    for agreement in agreements:
        for m, metric in enumerate(metrics):
            for i in range(per_series):
                value = float((i * 7919 + m * 31) % 1000) / 10
                weight = None if i % 3 else float(i % 5)
                yield agreement, metric, START + i * step, value, weight


def seed_postgres(target: Target, data: Iterator[tuple[Any, ...]], batch_id: int) -> int:
    now = datetime.now(UTC).isoformat()
    count = 0
    with target.pg_connect() as conn, conn.cursor() as cur:
        with cur.copy(f"COPY measurement ({COLUMNS}) FROM STDIN") as copy:
            buffer = io.StringIO()
            for a, m, at, v, w in data:
                weight = "\\N" if w is None else repr(w)
                buffer.write(f"{a}\t{m}\t{at.isoformat()}\t{v!r}\t{weight}\t{batch_id}\t{now}\n")
                count += 1
                if count % SEED_CHUNK == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE measurement")
    return count


def seed_sqlite(target: Target, data: Iterator[tuple[Any, ...]], batch_id: int) -> int:
    lite = sqlite_connect(target.sqlite_file("accord.db"))
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    insert = f"INSERT INTO measurement ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    count = 0
    chunk: list[tuple[Any, ...]] = []
    for a, m, at, v, w in data:
        # SQLAlchemy's SQLite DateTime text, UTC: what the report's bounds compare against.
        chunk.append((a, m, at.strftime("%Y-%m-%d %H:%M:%S.%f"), v, w, batch_id, now))
        if len(chunk) == SEED_CHUNK:
            lite.execute("BEGIN IMMEDIATE")
            lite.executemany(insert, chunk)
            lite.execute("COMMIT")
            count += len(chunk)
            chunk = []
    lite.execute("BEGIN IMMEDIATE")
    lite.executemany(insert, chunk)
    lite.execute("COMMIT")
    count += len(chunk)
    lite.execute("ANALYZE")
    lite.close()
    return count


def timed(runs: int, work: Callable[[], object]) -> dict[str, float]:
    work()  # warm-up: caches, statement compilation
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return {
        "median_ms": round(statistics.median(seconds) * 1000, 2),
        "min_ms": round(min(seconds) * 1000, 2),
        "max_ms": round(max(seconds) * 1000, 2),
    }


def run(target: Target, total: int, agreements: int, runs: int) -> dict[str, Any]:
    if not target.is_postgres:
        target.accord_url = f"sqlite:///{target.sqlite_file('accord.db')}"
    engine = make_engine(target.accord_url)
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        ids, metrics, batch_id = setup(session, agreements)
    data = rows(ids, metrics, total, batch_id)
    started = time.perf_counter()
    seeded = (seed_postgres if target.is_postgres else seed_sqlite)(target, data, batch_id)
    seed_seconds = time.perf_counter() - started
    first, last = date(2027, 1, 1), date(2027, 12, 31)
    span = (datetime(2027, 1, 1, 5, tzinfo=UTC), datetime(2028, 1, 1, 5, tzinfo=UTC))
    with Session(engine, expire_on_commit=False) as session:
        holder: dict[str, Any] = {}

        def report() -> None:
            holder["report"] = agreement_compliance_report(
                session, None, ids[0], first, last, now=datetime.now(UTC)
            )
            session.rollback()

        bare_sql = sa.text(BARE_PG if target.is_postgres else BARE_SQLITE)
        bounds: dict[str, Any] = {"a": ids[0], "s": span[0], "e": span[1]}
        if not target.is_postgres:
            bounds |= {k: span[i].strftime("%Y-%m-%d %H:%M:%S") for i, k in enumerate("se")}

        def bare() -> None:
            holder["bare"] = session.connection().execute(bare_sql, bounds).all()
            session.rollback()

        report_time = timed(runs, report)
        bare_time = timed(runs, bare)
        year_rows = (
            session.connection()
            .execute(
                sa.text(
                    "SELECT count(*) FROM measurement WHERE agreement_id = :a"
                    " AND observed_at >= :s AND observed_at < :e"
                ),
                bounds,
            )
            .scalar_one()
        )
    engine.dispose()
    result = holder["report"]
    return {
        "rows_in_table": seeded,
        "seed_seconds": round(seed_seconds, 1),
        "agreements": agreements,
        "metrics_per_agreement": len(metrics),
        "agreement_year_rows": year_rows,
        "report_cells": sum(len(m.windows) for m in result.metrics),
        "bare_sql_groups": len(holder["bare"]),
        "report": report_time,
        "bare_sql": bare_time,
        "ratio": round(report_time["median_ms"] / bare_time["median_ms"], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--agreements", type=int, default=20)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database-url", default=None, help="PostgreSQL; default: SQLite")
    args = parser.parse_args(argv)
    with open_target(args.database_url) as target:
        figures = run(target, args.rows, args.agreements, args.runs)
        detail = target.detail
    print(
        json.dumps(
            {
                "benchmark": "compliance_report_agreement_year",
                "database": target.kind,
                **figures,
                "goal_ms": 200,
                "target": detail,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
