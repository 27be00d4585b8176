"""The floor: durable commits of an audited transition's shape, with no ORM and no rules.

Each commit is one UPDATE of a state row, one INSERT of a hash-chained audit row and one
INSERT of an outbox row, as one transaction: the least any audited transition must write.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.runner import latency_summary, rate, run_workers
from bench.target import Target, sqlite_connect

STATES = ("draft", "joint_review")

# Roughly the size of what Accord writes for submit_for_review (body ~1 kB, payload ~0.4 kB).
_BODY_FILLER = "x" * 700
_PAYLOAD_FILLER = "y" * 250

SQLITE_SCHEMA = (
    "CREATE TABLE bench_state (id INTEGER PRIMARY KEY, state TEXT NOT NULL,"
    " lock_version INTEGER NOT NULL, state_changed_at TEXT NOT NULL)",
    "CREATE TABLE bench_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, chain TEXT NOT NULL,"
    " seq INTEGER NOT NULL, action TEXT NOT NULL, occurred_at TEXT NOT NULL,"
    " body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE (chain, seq))",
    "CREATE TABLE bench_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,"
    " dedupe_key TEXT NOT NULL UNIQUE, payload TEXT NOT NULL, status TEXT NOT NULL,"
    " created_at TEXT NOT NULL)",
)
PG_SCHEMA = (
    "CREATE TABLE bench_state (id INTEGER PRIMARY KEY, state TEXT NOT NULL,"
    " lock_version INTEGER NOT NULL, state_changed_at TIMESTAMPTZ NOT NULL)",
    "CREATE TABLE bench_audit (id BIGSERIAL PRIMARY KEY, chain TEXT NOT NULL,"
    " seq INTEGER NOT NULL, action TEXT NOT NULL, occurred_at TIMESTAMPTZ NOT NULL,"
    " body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE (chain, seq))",
    "CREATE TABLE bench_outbox (id BIGSERIAL PRIMARY KEY, topic TEXT NOT NULL,"
    " dedupe_key TEXT NOT NULL UNIQUE, payload JSON NOT NULL, status TEXT NOT NULL,"
    " created_at TIMESTAMPTZ NOT NULL)",
)


@dataclass
class _Rows:
    """The values of one raw transition of worker `worker`, step `seq`."""

    worker: int
    seq: int
    prev_hash: str
    state: str = field(init=False)
    chain: str = field(init=False)
    body: str = field(init=False)
    hash: str = field(init=False)
    payload: str = field(init=False)
    dedupe_key: str = field(init=False)

    def __post_init__(self) -> None:
        self.state = STATES[self.seq % 2]
        self.chain = f"bench:{self.worker}"
        self.body = json.dumps(
            {"chain": self.chain, "seq": self.seq, "to_state": self.state, "pad": _BODY_FILLER},
            sort_keys=True,
        )
        self.hash = hashlib.sha256(
            b"bench\x00" + self.prev_hash.encode() + b"\x00" + self.body.encode()
        ).hexdigest()
        self.payload = json.dumps({"to_state": self.state, "pad": _PAYLOAD_FILLER})
        self.dedupe_key = f"bench:{self.worker}:{self.seq}"


@dataclass
class RawResult:
    commits: int
    latencies: list[float]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


def _sqlite_worker(target: Target, worker: int, n: int, warmup: int) -> Callable[[], RawResult]:
    conn = sqlite_connect(target.sqlite_file("raw.db"))
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO bench_state (id, state, lock_version, state_changed_at) VALUES (?, ?, 0, ?)",
        (worker + 1, STATES[0], _now()),
    )
    conn.execute("COMMIT")
    prev = "0" * 64
    seq = 0

    def one() -> None:
        nonlocal prev, seq
        seq += 1
        rows = _Rows(worker, seq, prev)
        now = _now()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "UPDATE bench_state SET state = ?, lock_version = lock_version + 1,"
            " state_changed_at = ? WHERE id = ?",
            (rows.state, now, worker + 1),
        )
        conn.execute(
            "INSERT INTO bench_audit (chain, seq, action, occurred_at, body, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (rows.chain, seq, "bench.transition", now, rows.body, prev, rows.hash),
        )
        conn.execute(
            "INSERT INTO bench_outbox (topic, dedupe_key, payload, status, created_at)"
            " VALUES (?, ?, ?, 'pending', ?)",
            ("bench.transition", rows.dedupe_key, rows.payload, now),
        )
        conn.execute("COMMIT")
        prev = rows.hash

    for _ in range(warmup):
        one()
    return _timed_loop(one, n, close=conn.close)


def _pg_worker(target: Target, worker: int, n: int, warmup: int) -> Callable[[], RawResult]:
    conn = target.pg_connect()
    conn.execute(
        "INSERT INTO bench_state (id, state, lock_version, state_changed_at)"
        " VALUES (%s, %s, 0, now())",
        (worker + 1, STATES[0]),
    )
    conn.commit()
    prev = "0" * 64
    seq = 0

    def one() -> None:
        nonlocal prev, seq
        seq += 1
        rows = _Rows(worker, seq, prev)
        conn.execute(
            "UPDATE bench_state SET state = %s, lock_version = lock_version + 1,"
            " state_changed_at = now() WHERE id = %s",
            (rows.state, worker + 1),
        )
        conn.execute(
            "INSERT INTO bench_audit (chain, seq, action, occurred_at, body, prev_hash, hash)"
            " VALUES (%s, %s, %s, now(), %s, %s, %s)",
            (rows.chain, seq, "bench.transition", rows.body, prev, rows.hash),
        )
        conn.execute(
            "INSERT INTO bench_outbox (topic, dedupe_key, payload, status, created_at)"
            " VALUES (%s, %s, %s, 'pending', now())",
            ("bench.transition", rows.dedupe_key, rows.payload),
        )
        conn.commit()
        prev = rows.hash

    for _ in range(warmup):
        one()
    return _timed_loop(one, n, close=conn.close)


def _timed_loop(one: Callable[[], None], n: int, *, close: Callable[[], None]) -> Callable[[], Any]:
    def body() -> RawResult:
        latencies = []
        try:
            for _ in range(n):
                t = time.perf_counter()
                one()
                latencies.append(time.perf_counter() - t)
        finally:
            close()
        return RawResult(n, latencies)

    return body


def _create_schema(target: Target) -> None:
    if target.is_postgres:
        with target.pg_connect() as pg:
            for ddl in PG_SCHEMA:
                pg.execute(ddl)
        return
    lite = sqlite_connect(target.sqlite_file("raw.db"))
    try:
        for ddl in SQLITE_SCHEMA:
            lite.execute(ddl)
    finally:
        lite.close()


def run_raw(
    target: Target, *, n: int, workers: int, warmup: int = 20, first_worker: int = 0
) -> dict[str, Any]:
    """`n` durable commits on each of `workers` connections; throughput over all of them.

    `first_worker` numbers the workers (state rows, chains) so that a second round on the
    same tables starts fresh rows.
    """
    if first_worker == 0:
        _create_schema(target)
    make = _pg_worker if target.is_postgres else _sqlite_worker
    timed = run_workers(workers, lambda i: make(target, first_worker + i, n, warmup))
    commits = sum(r.commits for r in timed.results)
    return {
        "driver": "psycopg" if target.is_postgres else "sqlite3",
        "statements_per_commit": ["UPDATE state", "INSERT audit", "INSERT outbox"],
        "commits": commits,
        "elapsed_s": round(timed.elapsed_s, 4),
        "commits_per_s": rate(commits, timed.elapsed_s),
        "latency": latency_summary([x for r in timed.results for x in r.latencies]),
        "warmup_commits_per_worker": warmup,
    }
