"""`python -m bench lifecycle|spiff`: one JSON object on stdout per run."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machine import load_average, machine_info
from bench.runner import rate, ratio
from bench.spiff import DEFAULT_GAPS, spiff_section
from bench.target import Target, open_target


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server URL: the run creates accord_bench_<random> there and drops "
        "it afterwards (default: fresh temporary SQLite files)",
    )
    parser.add_argument("--workers", type=int, default=1, help="threads, each with its own rows")
    parser.add_argument(
        "--lifecycles",
        type=int,
        default=30,
        help="complete lifecycles per worker (default 30)",
    )
    parser.add_argument(
        "--sqlite-dir", default=None, help="where the temporary SQLite files go (default: TMPDIR)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the SQLite files (PostgreSQL: always dropped)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="benchmark", required=True)
    life = sub.add_parser(
        "lifecycle",
        help="raw commit baseline, Accord transitions and lifecycles (and SpiffWorkflow)",
    )
    _common(life)
    life.add_argument(
        "--n", type=int, default=200, help="audited transitions per worker (default 200)"
    )
    life.add_argument(
        "--raw-n",
        type=int,
        default=1000,
        help="raw baseline commits per worker, in each of two rounds (default 1000)",
    )
    life.add_argument(
        "--per-agreement",
        type=int,
        default=10,
        help="transitions fired on one agreement before the next one is used (default 10)",
    )
    life.add_argument(
        "--no-spiff", action="store_true", help="skip SpiffWorkflow even when it is installed"
    )
    life.add_argument(
        "--processes",
        type=int,
        default=0,
        help="run only the transition loop, on this many processes with an engine each "
        "(instead of --workers threads); no raw baseline, lifecycles or SpiffWorkflow",
    )
    life.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="write cProfile stats of worker 0's timed transitions to this file",
    )
    spiff = sub.add_parser("spiff", help="only the SpiffWorkflow lifecycle, persisted per step")
    _common(spiff)
    spiff.add_argument(
        "--gaps", type=int, default=DEFAULT_GAPS, help="gap resolutions per lifecycle"
    )
    return parser


def _positive(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be at least 1")


def _header(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    return {
        "benchmark": args.benchmark,
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": target.kind,
        "database_detail": target.detail,
        "workers": args.workers,
    }


def run_lifecycle(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    from bench.accord import prepare, run_lifecycles, run_transitions
    from bench.raw import run_raw

    result = _header(args, target)
    result.update({"n": args.n, "lifecycles_n": args.lifecycles, "raw_n": args.raw_n})
    load_before = load_average()
    world = prepare(target.accord_url, workers=args.workers)
    try:
        raw_before = run_raw(target, n=args.raw_n, workers=args.workers)
        transitions = run_transitions(
            world,
            n=args.n,
            workers=args.workers,
            per_agreement=args.per_agreement,
            profile=args.profile,
        )
        raw_after = run_raw(target, n=args.raw_n, workers=args.workers, first_worker=args.workers)
        lifecycles = run_lifecycles(world, count=args.lifecycles, workers=args.workers)
    finally:
        world.engine.dispose()
    raw_commits = raw_before["commits"] + raw_after["commits"]
    raw_elapsed = raw_before["elapsed_s"] + raw_after["elapsed_s"]
    raw_per_s = rate(raw_commits, raw_elapsed)
    spiff: dict[str, Any] = {"available": False, "reason": "skipped (--no-spiff)"}
    if not args.no_spiff:
        spiff = spiff_section(
            target,
            count=args.lifecycles,
            workers=args.workers,
            gap_count=round(lifecycles["gaps_per_lifecycle"] or 0),
        )
    spiff_rate = spiff["in_memory"]["lifecycles_per_s"] if spiff["available"] else None
    spiff_reload = spiff["reload"]["lifecycles_per_s"] if spiff["available"] else None
    result.update(
        {
            "lifecycles_per_s": lifecycles["lifecycles_per_s"],
            "transitions_per_s": transitions["transitions_per_s"],
            "raw_commits_per_s": raw_per_s,
            "ratio_to_raw": ratio(transitions["transitions_per_s"], raw_per_s),
            "spiff_lifecycles_per_s": spiff_rate,
            "ratio_to_spiff": ratio(lifecycles["lifecycles_per_s"], spiff_rate),
            "spiff_reload_lifecycles_per_s": spiff_reload,
            "ratio_to_spiff_reload": ratio(lifecycles["lifecycles_per_s"], spiff_reload),
            "audited_transitions_counted": transitions["audited_transitions_counted"],
            "raw": {
                "commits": raw_commits,
                "elapsed_s": round(raw_elapsed, 4),
                "commits_per_s": raw_per_s,
                "before_transitions": raw_before,
                "after_transitions": raw_after,
            },
            "transitions": transitions,
            "lifecycles": lifecycles,
            "spiff": spiff,
            "load_average_before": load_before,
            "load_average_after": load_average(),
        }
    )
    return result


def run_processes(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    from bench.processes import run_transitions_processes

    result = _header(args, target)
    result["n"] = args.n
    load_before = load_average()
    transitions = run_transitions_processes(
        target.accord_url, n=args.n, processes=args.processes, per_agreement=args.per_agreement
    )
    result.update(
        {
            "processes": args.processes,
            "transitions_per_s": transitions["transitions_per_s"],
            "transitions": transitions,
            "load_average_before": load_before,
            "load_average_after": load_average(),
        }
    )
    return result


def run_spiff_only(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    result = _header(args, target)
    result["lifecycles_n"] = args.lifecycles
    load_before = load_average()
    spiff = spiff_section(target, count=args.lifecycles, workers=args.workers, gap_count=args.gaps)
    if not spiff["available"]:
        raise SystemExit(spiff["reason"])
    result.update(
        {
            "spiff_lifecycles_per_s": spiff["in_memory"]["lifecycles_per_s"],
            "spiff_reload_lifecycles_per_s": spiff["reload"]["lifecycles_per_s"],
            "spiff": spiff,
            "load_average_before": load_before,
            "load_average_after": load_average(),
        }
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The dispatch, sweep, audit, queue and http benchmarks keep their own parsers.
    if argv[:1] == ["dispatch"]:
        from bench.dispatch import main as dispatch_main

        return dispatch_main(argv[1:])
    if argv[:1] == ["http"]:
        from bench.http_load import main as http_main

        return http_main(argv[1:])
    if argv[:1] == ["queue"]:
        from bench.queue import main as queue_main

        return queue_main(argv[1:])
    if argv[:1] == ["audit"]:
        from bench.audit import main as audit_main

        return audit_main(argv[1:])
    if argv[:1] == ["sweep"]:
        from bench.sweep import main as sweep_main

        return sweep_main(argv[1:])
    args = build_parser().parse_args(argv)
    _positive(
        args, "workers", "lifecycles", *(("n", "raw_n") if args.benchmark == "lifecycle" else ())
    )
    if args.workers > 1 and args.database_url is None:
        print(
            "note: SQLite serialises writers; --workers > 1 measures queueing on its lock",
            file=sys.stderr,
        )
    started = time.perf_counter()
    with open_target(args.database_url, sqlite_dir=args.sqlite_dir, keep=args.keep) as target:
        if args.benchmark == "lifecycle" and args.processes > 0:
            result = run_processes(args, target)
        elif args.benchmark == "lifecycle":
            result = run_lifecycle(args, target)
        else:
            result = run_spiff_only(args, target)
    result["elapsed_s"] = round(time.perf_counter() - started, 3)
    result["machine"] = machine_info()
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
