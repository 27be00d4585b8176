"""`python -m bench.sweep`: how long the reminder sweep takes over 100k open tasks.

Seeds a fresh database (temporary SQLite file, or a scratch PostgreSQL database created and
dropped on the server of `--database-url`) with Core bulk inserts: 1,000 agreements in joint
review, 100 open review tasks each, their stakeholders and audit chain heads. Due dates are
spread over the 30 business days around "today" (Monday 16 November 2026), so that every task
has a reminder step due and a third of them are past an escalation. Then it times three sweeps
(`workflow.commands.sweep_reminders`, the scheduler's job) and prints one JSON object:

- `cold`: the first sweep ever, at 09:00: every task's newest reminder and every escalation due
  (about 100k outbox rows and as many audit events, a batch per transaction): the worst case,
  a scheduler that never ran;
- `idle`: the same moment again: nothing due, so no task is read (what almost every tick
  costs);
- `next_day`: 09:00 the next business day: the day's new steps only (a normal daily sweep).

Then (`--idle-tasks`, 1,000,000 by default) it adds open tasks up to that many, each with the
next moment a sweep would have stored, and times `--ticks` idle sweeps over all of them
(`idle_at_scale`): the partial index on open tasks' `next_step_at` is what keeps them flat.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bench.machine import load_average, machine_info
from bench.target import open_target
from states import Role, Side
from workflow.audit import GENESIS, agreement_chain
from workflow.calendar import (
    BUSINESS_TIME_ZONE,
    add_business_days,
    local_date,
    subtract_business_days,
)
from workflow.commands.sweeps import DEFAULT_BATCH, SweepReport, sweep_reminders
from workflow.db import make_engine
from workflow.models import (
    Agreement,
    AgreementVersion,
    AuditChainHead,
    Organization,
    StakeholderAssignment,
    Task,
    User,
)
from workflow.next_steps import next_step_at, next_step_on
from workflow.schema import upgrade

NEW_YORK = ZoneInfo("America/New_York")
TODAY = date(2026, 11, 16)  # a Monday
NOW = datetime(2026, 11, 16, 9, 0, tzinfo=NEW_YORK)
NEXT_DAY = datetime(2026, 11, 17, 9, 0, tzinfo=NEW_YORK)
CHUNK = 10_000
CREATED = datetime(2026, 10, 1, 14, 0, tzinfo=UTC)
# Users in the order `seed` inserts them (ids from 1).
_USER_IDS = {key: n + 1 for n, key in enumerate((side, role) for side in Side for role in Role)}


def _table(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


def _insert(conn: sa.Connection, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(sa.insert(_table(model)), list(rows[start : start + CHUNK]))


def seed(engine: Engine, *, tasks: int, per_agreement: int) -> dict[str, Any]:
    """Everything a sweep reads, inserted in bulk; returns counts and the time it took."""
    started = time.perf_counter()
    created = CREATED
    agreements = -(-tasks // per_agreement)
    # Due dates from 25 business days ago to 5 ahead: every task has some step due today.
    earliest = subtract_business_days(TODAY, 25, "US")
    dues = [add_business_days(earliest, n, "US") for n in range(31)]
    with engine.begin() as conn:
        _insert(
            conn,
            Organization,
            [
                {"id": i, "name": name, "holiday_calendar": "US", "created_at": created}
                for i, name in ((1, "Bench Customer"), (2, "Bench Provider"))
            ],
        )
        users: dict[tuple[Side, Role], int] = {}
        user_rows: list[dict[str, Any]] = []
        for side in Side:
            for role in Role:
                uid = len(user_rows) + 1
                users[(side, role)] = uid
                user_rows.append(
                    {
                        "id": uid,
                        "email": f"{role.value}@{side.value}.example",
                        "name": f"{side.value.title()} {role.label}",
                        "organization_id": 1 if side is Side.CUSTOMER else 2,
                        "is_admin": False,
                        "is_active": True,
                        "created_at": created,
                    }
                )
        _insert(conn, User, user_rows)
        agreement_rows: list[dict[str, Any]] = []
        version_rows: list[dict[str, Any]] = []
        assignment_rows: list[dict[str, Any]] = []
        head_rows: list[dict[str, Any]] = []
        for a in range(1, agreements + 1):
            agreement_rows.append(
                {
                    "id": a,
                    "key": f"SLA-BENCH-{a:06d}",
                    "title": f"Bench agreement {a}",
                    "customer_org_id": 1,
                    "provider_org_id": 2,
                    "remedy_policy": "corrective_action",
                    "allow_editor_approval": False,
                    "executive_approval_threshold_pct": 10,
                    "created_by_id": 1,
                    "created_at": created,
                }
            )
            version_rows.append(
                {
                    "id": a,
                    "agreement_id": a,
                    "number": 1,
                    "modification_number": 0,
                    "state": "joint_review",
                    "terms": {"period_start": "2026-10-01", "period_end": "2027-09-30"},
                    "metrics": [],
                    "content_hash": "0" * 64,
                    "lock_version": 1,
                    "cycle": 1,
                    "drafting_side": "customer",
                    "created_by_id": 1,
                    "created_at": created,
                    "state_changed_at": created,
                }
            )
            assignment_rows.extend(
                {"agreement_id": a, "side": side.value, "role": role.value, "user_id": uid}
                for (side, role), uid in users.items()
            )
            head_rows.append({"chain": agreement_chain(a), "seq": 0, "hash": GENESIS})
        _insert(conn, Agreement, agreement_rows)
        _insert(conn, AgreementVersion, version_rows)
        _insert(conn, StakeholderAssignment, assignment_rows)
        _insert(conn, AuditChainHead, head_rows)
        _insert(
            conn,
            Task,
            [task_row(n, n // per_agreement + 1, dues[n % len(dues)]) for n in range(tasks)],
        )
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(sa.text("ANALYZE"))
            conn.commit()
    return {
        "agreements": agreements,
        "open_tasks": tasks,
        "due_dates": [dues[0].isoformat(), dues[-1].isoformat()],
        "seconds": round(time.perf_counter() - started, 2),
    }


def task_row(
    n: int, agreement: int, due_on: date, next_step_at: datetime | None = None
) -> dict[str, Any]:
    """The n-th seeded review task (users are numbered side by side, role by role)."""
    a = agreement
    side = Side.CUSTOMER if n % 2 == 0 else Side.PROVIDER
    role = Role.FUNCTIONAL_LEAD if side is Side.CUSTOMER else Role.TECHNICAL_LEAD
    return {
        "agreement_id": a,
        "version_id": a,
        "cycle": 1,
        "kind": "review",
        "side": side.value,
        "role": role.value,
        "assignee_id": _USER_IDS[(side, role)],
        "title": "Review the draft",
        "detail": "",
        "state": "open",
        "required": True,
        "due_on": due_on,
        "escalation_roles": ["program_manager", "executive_sponsor"],
        "created_at": CREATED,
        "lock_version": 1,
        "next_step_at": next_step_at,
    }


def timed_sweep(engine: Engine, now: datetime, batch_size: int) -> dict[str, Any]:
    with Session(engine, expire_on_commit=False) as session:
        started, cpu_started = time.perf_counter(), time.process_time()
        report: SweepReport = sweep_reminders(session, now=now, batch_size=batch_size)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
    return {
        "now": now.isoformat(),
        "seconds": round(seconds, 3),
        # This process only (PostgreSQL's own work is in its server processes).
        "cpu_seconds": round(cpu_seconds, 3),
        "tasks_scanned": report.tasks_scanned,
        "tasks_per_s": round(report.tasks_scanned / seconds) if seconds else None,
        "enqueued_per_s": round(len(report.sent) / seconds) if seconds else None,
        "reminders_sent": len(report.reminders),
        "escalations_sent": len(report.escalations),
        "already_sent": report.already_sent,
        "write_transactions": report.transactions,
    }


def grow_idle(engine: Engine, *, total: int, today: date) -> dict[str, Any]:
    """Add open tasks up to `total`, each with the next moment a sweep on `today` would have
    stored (Core bulk inserts, spread over the seeded agreements); returns what it took."""
    started = time.perf_counter()
    with engine.connect() as conn:
        present = conn.execute(sa.select(sa.func.count()).select_from(_table(Task))).scalar_one()
        agreements = conn.execute(
            sa.select(sa.func.count()).select_from(_table(Agreement))
        ).scalar_one()
    earliest = subtract_business_days(TODAY, 25, "US")
    dues = [add_business_days(earliest, n, "US") for n in range(31)]
    opened = local_date(CREATED, BUSINESS_TIME_ZONE)
    roles = (Role.PROGRAM_MANAGER, Role.EXECUTIVE_SPONSOR)
    moments = [
        next_step_at(next_step_on(due, "US", opened, today, roles), BUSINESS_TIME_ZONE)
        for due in dues
    ]
    with engine.begin() as conn:
        for start in range(present, total, CHUNK):
            rows = [
                task_row(n, n % agreements + 1, dues[n % len(dues)], moments[n % len(dues)])
                for n in range(start, min(start + CHUNK, total))
            ]
            conn.execute(sa.insert(_table(Task)), rows)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(sa.text("ANALYZE task"))
            conn.commit()
    return {"added": max(0, total - present), "seconds": round(time.perf_counter() - started, 2)}


def idle_ticks(engine: Engine, now: datetime, ticks: int) -> dict[str, Any]:
    """`ticks` sweeps a second apart at `now`, when nothing is due: the scheduler's usual tick."""
    times: list[float] = []
    scanned = 0
    for n in range(ticks):
        with Session(engine, expire_on_commit=False) as session:
            started = time.perf_counter()
            report = sweep_reminders(session, now=now + timedelta(seconds=n))
            times.append((time.perf_counter() - started) * 1000)
        scanned += report.tasks_scanned
    times.sort()
    with engine.connect() as conn:
        open_tasks = conn.execute(
            sa.select(sa.func.count())
            .select_from(_table(Task))
            .where(_table(Task).c.state == "open")
        ).scalar_one()
    return {
        "now": now.isoformat(),
        "open_tasks": open_tasks,
        "ticks": ticks,
        "tasks_scanned": scanned,
        "ms_min": round(times[0], 2),
        "ms_median": round(times[len(times) // 2], 2),
        "ms_max": round(times[-1], 2),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__)
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server URL: the run creates accord_bench_<random> there and drops "
        "it afterwards (default: a fresh temporary SQLite file)",
    )
    parser.add_argument("--tasks", type=int, default=100_000, help="open tasks (default 100k)")
    parser.add_argument("--per-agreement", type=int, default=100, help="tasks per agreement")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help="tasks per batch")
    parser.add_argument(
        "--idle-tasks",
        type=int,
        default=1_000_000,
        help="open tasks for the idle tick at scale, added after the three sweeps, each with "
        "its stored next step (default 1,000,000; 0: skip)",
    )
    parser.add_argument("--ticks", type=int, default=21, help="idle ticks timed at scale")
    parser.add_argument("--sqlite-dir", default=None, help="where the temporary file goes")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    load_before = load_average()
    with open_target(args.database_url, sqlite_dir=args.sqlite_dir, keep=args.keep) as target:
        engine = make_engine(target.accord_url)
        try:
            upgrade(engine)
            seeded = seed(engine, tasks=args.tasks, per_agreement=args.per_agreement)
            result: dict[str, Any] = {
                "benchmark": "sweep",
                "database": target.kind,
                "database_detail": target.detail,
                "batch_size": args.batch_size,
                "seeded": seeded,
                "cold": timed_sweep(engine, NOW, args.batch_size),
                "idle": timed_sweep(engine, NOW + timedelta(minutes=5), args.batch_size),
                "next_day": timed_sweep(engine, NEXT_DAY, args.batch_size),
            }
            if args.idle_tasks > 0:
                result["idle_at_scale_seed"] = grow_idle(
                    engine, total=args.idle_tasks, today=NEXT_DAY.date()
                )
                result["idle_at_scale"] = idle_ticks(
                    engine, NEXT_DAY + timedelta(minutes=5), args.ticks
                )
        finally:
            engine.dispose()
    result["load_average_before"] = load_before
    result["load_average_after"] = load_average()
    result["machine"] = machine_info()
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
