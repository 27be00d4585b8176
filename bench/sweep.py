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
- `idle`: the same moment again: nothing new, only the scan and the outbox look-ups (what
  almost every tick costs);
- `next_day`: 09:00 the next business day: the day's new steps only (a normal daily sweep).
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
from workflow.calendar import add_business_days, subtract_business_days
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
from workflow.schema import upgrade

NEW_YORK = ZoneInfo("America/New_York")
TODAY = date(2026, 11, 16)  # a Monday
NOW = datetime(2026, 11, 16, 9, 0, tzinfo=NEW_YORK)
NEXT_DAY = datetime(2026, 11, 17, 9, 0, tzinfo=NEW_YORK)
CHUNK = 10_000


def _table(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


def _insert(conn: sa.Connection, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(sa.insert(_table(model)), list(rows[start : start + CHUNK]))


def seed(engine: Engine, *, tasks: int, per_agreement: int) -> dict[str, Any]:
    """Everything a sweep reads, inserted in bulk; returns counts and the time it took."""
    started = time.perf_counter()
    created = datetime(2026, 10, 1, 14, 0, tzinfo=UTC)
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
        task_rows: list[dict[str, Any]] = []
        for n in range(tasks):
            a = n // per_agreement + 1
            side = Side.CUSTOMER if n % 2 == 0 else Side.PROVIDER
            role = Role.FUNCTIONAL_LEAD if side is Side.CUSTOMER else Role.TECHNICAL_LEAD
            task_rows.append(
                {
                    "agreement_id": a,
                    "version_id": a,
                    "cycle": 1,
                    "kind": "review",
                    "side": side.value,
                    "role": role.value,
                    "assignee_id": users[(side, role)],
                    "title": "Review the draft",
                    "detail": "",
                    "state": "open",
                    "required": True,
                    "due_on": dues[n % len(dues)],
                    "escalation_roles": ["program_manager", "executive_sponsor"],
                    "created_at": created,
                    "lock_version": 1,
                }
            )
        _insert(conn, Task, task_rows)
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


def timed_sweep(engine: Engine, now: datetime, batch_size: int) -> dict[str, Any]:
    with Session(engine, expire_on_commit=False) as session:
        started = time.perf_counter()
        report: SweepReport = sweep_reminders(session, now=now, batch_size=batch_size)
        seconds = time.perf_counter() - started
    return {
        "now": now.isoformat(),
        "seconds": round(seconds, 3),
        "tasks_scanned": report.tasks_scanned,
        "tasks_per_s": round(report.tasks_scanned / seconds) if seconds else None,
        "reminders_sent": len(report.reminders),
        "escalations_sent": len(report.escalations),
        "already_sent": report.already_sent,
        "write_transactions": report.transactions,
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
