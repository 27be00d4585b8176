"""`python -m bench queue`: the approval queue's latency with 10k and with 1M tasks stored.

Seeds a fresh database (temporary SQLite file, or a scratch PostgreSQL database created and
dropped on the server of `--database-url`) with the sweep benchmark's parties and agreements,
then the approver's queue (`--queue` open approval tasks, 300 by default, so that the first
and the fifth page are full at every size) and filler tasks in bulk (Core inserts) up to each
size: every task kind, a tenth open, assignees spread over the 18 stakeholders, none of them
in the approver's queue. The queue stays the same while the table grows a hundredfold, which
is what "flat" asks: its cost must not follow the table. At each size it times the approval
queue as the API runs it (`workflow.queries.tasks.list_tasks` with `assignee=me`,
`kind=approval`, `state=open`, 50 a page) for one Executive Sponsor: the first page and the
fifth page (reached through the keyset cursor). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bench.machine import load_average, machine_info
from bench.sweep import CHUNK, TODAY, seed, task_row
from bench.target import open_target
from states import Role, Side
from workflow.access import Actor
from workflow.db import make_engine
from workflow.models import Agreement, Task
from workflow.queries.tasks import TaskFilter, list_tasks
from workflow.schema import upgrade

NOW = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
KINDS = ("review", "approval", "rework", "lcce_review", "gap_resolution")
ROLES = tuple((side, role) for side in Side for role in Role)
APPROVER = (Side.CUSTOMER, Role.EXECUTIVE_SPONSOR)
_T: sa.Table = Task.__table__  # type: ignore[attr-defined]
_A: sa.Table = Agreement.__table__  # type: ignore[attr-defined]


def seed_queue(engine: Engine, length: int) -> None:
    """The approver's own open approval tasks, due over the same 90 days as the filler."""
    with engine.connect() as conn:
        agreements = conn.execute(sa.select(sa.func.count()).select_from(_A)).scalar_one()
    rows = []
    for n in range(length):
        row = _row(n, agreements)
        side, role = APPROVER
        row.update(kind="approval", side=side.value, role=role.value, state="open")
        row["assignee_id"] = ROLES.index(APPROVER) + 1
        rows.append(row)
    with engine.begin() as conn:
        conn.execute(sa.insert(_T), rows)


def grow(engine: Engine, total: int) -> float:
    """Add tasks up to `total`; the mix is a function of the task's number only."""
    started = time.perf_counter()
    with engine.connect() as conn:
        present = conn.execute(sa.select(sa.func.count()).select_from(_T)).scalar_one()
        agreements = conn.execute(sa.select(sa.func.count()).select_from(_A)).scalar_one()
    with engine.begin() as conn:
        for start in range(present, total, CHUNK):
            rows = [_row(n, agreements) for n in range(start, min(start + CHUNK, total))]
            conn.execute(sa.insert(_T), rows)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE task"))
    return time.perf_counter() - started


def _row(n: int, agreements: int) -> dict[str, Any]:
    side, role = ROLES[n % len(ROLES)]
    row = task_row(n, n % agreements + 1, TODAY + timedelta(days=n % 90 - 30))
    row.update(
        # Independent of the assignee (n % 18): open one in ten, each kind one in five.
        kind=KINDS[(n // (len(ROLES) * 10)) % len(KINDS)],
        side=side.value,
        role=role.value,
        assignee_id=ROLES.index((side, role)) + 1,
        state="open" if (n // len(ROLES)) % 10 == 0 else "completed",
        next_step_at=None,
    )
    if (side, role) == APPROVER and row["kind"] == "approval":
        row["state"] = "completed"  # the approver's queue is seeded apart, once
    return row


def timed_queue(engine: Engine, calls: int) -> dict[str, Any]:
    actor = Actor(ROLES.index(APPROVER) + 1, 1, False, "Sponsor", "sponsor@example")
    wanted = TaskFilter(mine=True, state="open", kind="approval")
    first: list[float] = []
    fifth: list[float] = []
    with Session(engine) as session:
        for _ in range(calls):
            started = time.perf_counter()
            page = list_tasks(session, actor, wanted, now=NOW, limit=50)
            first.append((time.perf_counter() - started) * 1000)
            after = page.next_after
            for _ in range(3):
                after = list_tasks(session, actor, wanted, now=NOW, after=after).next_after
            started = time.perf_counter()
            list_tasks(session, actor, wanted, now=NOW, after=after)
            fifth.append((time.perf_counter() - started) * 1000)
            session.rollback()
    with engine.connect() as conn:
        queue = conn.execute(
            sa.select(sa.func.count())
            .select_from(_T)
            .where(_T.c.assignee_id == actor.user_id, _T.c.state == "open", _T.c.kind == "approval")
        ).scalar_one()
    return {
        "queue_length": queue,
        "first_page_items": len(page.items),
        "first_page": _summary(first),
        "fifth_page": _summary(fifth),
    }


def _summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))], 2),
        "max_ms": round(ms[-1], 2),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench queue", description=__doc__)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server URL")
    parser.add_argument(
        "--sizes", default="10000,1000000", help="task counts, ascending (default 10k,1M)"
    )
    parser.add_argument("--calls", type=int, default=200, help="timed calls per size")
    parser.add_argument("--queue", type=int, default=300, help="the approver's open approvals")
    parser.add_argument("--sqlite-dir", default=None, help="where the temporary file goes")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    load_before = load_average()
    runs: list[dict[str, Any]] = []
    with open_target(args.database_url, sqlite_dir=args.sqlite_dir, keep=args.keep) as target:
        engine = make_engine(target.accord_url)
        try:
            upgrade(engine)
            # The sweep's parties, 1,000 agreements and a first 1,000 (open review) tasks.
            seed(engine, tasks=1000, per_agreement=1)
            seed_queue(engine, args.queue)
            for size in sizes:
                seeded = grow(engine, size)
                timed = timed_queue(engine, args.calls)
                runs.append({"tasks": size, "seed_seconds": round(seeded, 1), **timed})
        finally:
            engine.dispose()
    base, top = runs[0]["first_page"]["p99_ms"], runs[-1]["first_page"]["p99_ms"]
    result = {
        "benchmark": "queue",
        "database": target.kind,
        "database_detail": target.detail,
        "runs": runs,
        "p99_ratio_largest_to_smallest": round(top / base, 2) if base else None,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "machine": machine_info(),
    }
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
