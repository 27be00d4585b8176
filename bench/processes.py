"""Accord's transition loop on P processes, each with its own engine (no shared GIL).

`python -m bench lifecycle --processes P`: the parent migrates the database and seeds the
parties; each child builds its own engine and runs exactly the thread benchmark's worker
(`bench.accord._transition_worker`: its own agreements, alternating `submit_for_review` and
`request_changes`). The clock starts when every child has finished its setup and stops when
the last one finishes (`time.monotonic` is one clock for every process on Linux).
"""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.synchronize import Barrier
from typing import Any

from bench.accord import World, _count_rows, _transition_worker, prepare
from bench.runner import latency_summary, rate
from workflow.db import make_engine

_TIMEOUT_S = 600.0


def _child(
    url: str,
    world: dict[str, Any],
    index: int,
    n: int,
    per_agreement: int,
    barrier: Barrier,
    results: Any,
) -> None:
    from bench.accord import StatementCounter

    engine = make_engine(url, pool_size=2)
    mine = World(
        engine=engine,
        parties=world["parties"],
        document=world["document"],
        statements=StatementCounter(engine),
    )
    try:
        body = _transition_worker(mine, index, n, per_agreement, 4, None)
    except BaseException:
        barrier.abort()
        raise
    barrier.wait(_TIMEOUT_S)
    done = body()
    ended = time.monotonic()
    engine.dispose()
    results.put((done.commands, done.statements, done.agreement_ids, done.latencies, ended))


def run_transitions_processes(
    url: str, *, n: int, processes: int, per_agreement: int
) -> dict[str, Any]:
    """`n` transitions in each of `processes` processes, timed together."""
    per_agreement = max(2, per_agreement + per_agreement % 2)  # as the thread loop does
    world = prepare(url, workers=1)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes + 1)
    results = context.Queue()
    shared = {"parties": world.parties, "document": world.document}
    children = [
        context.Process(
            target=_child, args=(url, shared, i, n, per_agreement, barrier, results), daemon=True
        )
        for i in range(processes)
    ]
    try:
        for child in children:
            child.start()
        barrier.wait(_TIMEOUT_S)
        started = time.monotonic()
        found = [results.get(timeout=_TIMEOUT_S) for _ in children]
        for child in children:
            child.join(timeout=60)
        commands = sum(f[0] for f in found)
        elapsed = max(f[4] for f in found) - started
        ids = [a for f in found for a in f[2]]
        counted = _count_rows(world.engine, ids)
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
        world.engine.dispose()
    if counted["audited_transitions_counted"] != commands:
        raise RuntimeError(f"expected {commands} audited transitions, counted {counted}")
    return {
        "processes": processes,
        "commands": commands,
        "elapsed_s": round(elapsed, 4),
        "transitions_per_s": rate(commands, elapsed),
        **counted,
        "sql_statements_per_transition": round(sum(f[1] for f in found) / commands, 2),
        "latency": latency_summary([x for f in found for x in f[3]]),
    }
