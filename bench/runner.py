"""Running a timed body on W threads that start together, and summarising latencies."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

BARRIER_TIMEOUT_S = 600.0


@dataclass
class Timed(Generic[T]):
    """What each worker's timed body returned, and the wall time from start to last finish."""

    results: list[T]
    elapsed_s: float


def run_workers(workers: int, setup: Callable[[int], Callable[[], T]]) -> Timed[T]:
    """Run `setup(i)` untimed in thread i, then the body it returns, timed, on every thread.

    Each thread owns what its setup creates (connections, sessions, rows). The clock starts
    when every setup has finished and stops when the last body returns.
    """
    barrier = threading.Barrier(workers + 1, timeout=BARRIER_TIMEOUT_S)
    results: list[T | None] = [None] * workers
    ends = [0.0] * workers
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            body = setup(index)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
            return
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return
        try:
            results[index] = body()
        except BaseException as exc:
            errors.append(exc)
        finally:
            ends[index] = time.perf_counter()

    threads = [
        threading.Thread(target=work, args=(i,), name=f"bench-{i}", daemon=True)
        for i in range(workers)
    ]
    for thread in threads:
        thread.start()
    start = 0.0
    try:
        barrier.wait()
        start = time.perf_counter()
    except threading.BrokenBarrierError:
        pass
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    done = [r for r in results if r is not None]
    if len(done) != workers:
        raise RuntimeError("a benchmark worker returned nothing")
    return Timed(done, max(ends) - start)


def latency_summary(seconds: Sequence[float]) -> dict[str, float | None]:
    """Mean and percentiles in milliseconds of per-operation durations."""
    if not seconds:
        return {"mean_ms": None, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    ms = sorted(s * 1000 for s in seconds)

    def pct(p: float) -> float:
        return round(ms[min(len(ms) - 1, int(p * len(ms)))], 3)

    return {
        "mean_ms": round(statistics.fmean(ms), 3),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": round(ms[-1], 3),
    }


def rate(count: int, elapsed_s: float) -> float:
    return round(count / elapsed_s, 2) if elapsed_s > 0 else 0.0


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def flatten(lists: Sequence[Sequence[Any]]) -> list[Any]:
    return [item for inner in lists for item in inner]
