"""`python -m bench audit`: `accord audit verify`'s logic over a million audit events.

Seeds a fresh database (temporary SQLite file, or a scratch PostgreSQL database created and
dropped on the server of `--database-url`) with a valid hash chain per agreement, written with
Core bulk inserts in the shape `workflow.audit.append` writes (the run fails unless verify says
ok), then runs `workflow.audit.verify` in a child process of its own, so that its peak RSS is
the verification's alone. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bench.machine import load_average, machine_info
from bench.target import open_target
from workflow.audit import GENESIS, agreement_chain, event_hash, verify
from workflow.canonical import canonical_json
from workflow.db import make_engine
from workflow.models import AuditChainHead, AuditEvent
from workflow.schema import upgrade

CHUNK = 10_000
START = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
_EVENTS: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]
_HEADS: sa.Table = AuditChainHead.__table__  # type: ignore[attr-defined]


def _events(chains: int, per_chain: int) -> Iterator[dict[str, Any]]:
    """Every chain's events in append order, hashed as `audit.append` hashes them."""
    for agreement in range(1, chains + 1):
        chain, prev = agreement_chain(agreement), GENESIS
        for seq in range(1, per_chain + 1):
            occurred = START + timedelta(minutes=seq, seconds=agreement % 60)
            row: dict[str, Any] = {
                "chain": chain,
                "seq": seq,
                "agreement_id": agreement,
                "version_id": agreement,
                "actor_id": 1 + seq % 18,
                "on_behalf_of_id": None,
                "action": "version.submit_for_review" if seq % 2 else "version.request_changes",
                "occurred_at": occurred,
                "prev_hash": prev,
            }
            hashed = {
                k: row[k]
                for k in ("chain", "seq", "action", "agreement_id", "version_id", "actor_id")
            }
            hashed["on_behalf_of_id"] = None
            hashed["occurred_at"] = occurred.isoformat(timespec="microseconds")
            data = {"from": "draft", "to": "joint_review", "task_ids": [seq, seq + 1]}
            data["comment"] = "Targets reviewed against the service catalogue. " * 4
            row["body"] = canonical_json({**hashed, "data": data})
            row["hash"] = prev = event_hash(prev, row["body"])
            yield row


def seed(engine: Engine, *, events: int, per_chain: int) -> dict[str, Any]:
    started = time.perf_counter()
    chains = max(1, events // per_chain)
    batch: list[dict[str, Any]] = []
    heads: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for row in _events(chains, per_chain):
            batch.append(row)
            if row["seq"] == per_chain:
                heads.append({"chain": row["chain"], "seq": row["seq"], "hash": row["hash"]})
            if len(batch) == CHUNK:
                conn.execute(sa.insert(_EVENTS), batch)
                batch.clear()
        if batch:
            conn.execute(sa.insert(_EVENTS), batch)
        for start in range(0, len(heads), CHUNK):
            conn.execute(sa.insert(_HEADS), heads[start : start + CHUNK])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE audit_event"))
    return {
        "chains": chains,
        "events": chains * per_chain,
        "seconds": round(time.perf_counter() - started, 2),
    }


def verify_here(url: str) -> dict[str, Any]:
    """Run in the child: verify once, report time and this process's peak RSS."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            started, cpu_started = time.perf_counter(), time.process_time()
            result = verify(session)
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started
    finally:
        engine.dispose()
    return {
        "seconds": round(seconds, 2),
        # On a shared machine the wall time says as much about the neighbours as the code.
        "cpu_seconds": round(cpu_seconds, 2),
        "ok": result.ok,
        "events_checked": result.events_checked,
        "agreements_checked": result.agreements_checked,
        "events_per_s": round(result.events_checked / seconds) if seconds else None,
        # Linux reports kilobytes.
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def verify_in_child(url: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.audit", "--verify-only", url],
        check=True,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench audit", description=__doc__)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server URL")
    parser.add_argument("--events", type=int, default=1_000_000, help="events (default 1M)")
    parser.add_argument("--per-chain", type=int, default=100, help="events per agreement chain")
    parser.add_argument("--sqlite-dir", default=None, help="where the temporary file goes")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file")
    parser.add_argument("--verify-only", default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verify_only:
        json.dump(verify_here(args.verify_only), sys.stdout)
        return 0
    load_before = load_average()
    with open_target(args.database_url, sqlite_dir=args.sqlite_dir, keep=args.keep) as target:
        engine = make_engine(target.accord_url)
        try:
            upgrade(engine)
            seeded = seed(engine, events=args.events, per_chain=args.per_chain)
        finally:
            engine.dispose()
        verified = verify_in_child(target.accord_url)
    if not verified["ok"] or verified["events_checked"] != seeded["events"]:
        raise SystemExit(f"verify disagrees with the seeded chain: {verified}")
    result = {
        "benchmark": "audit",
        "database": target.kind,
        "database_detail": target.detail,
        "seeded": seeded,
        "verify": verified,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "machine": machine_info(),
    }
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
