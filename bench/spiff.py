"""The comparison point: the same lifecycle in SpiffWorkflow, persisted after every step.

SpiffWorkflow is optional (`pip install SpiffWorkflow`); it is imported by name at run time,
so the harness works, type-checks and lints without it.

Per lifecycle: a new `BpmnWorkflow` of `sla_lifecycle.bpmn`, saved (one durable commit, like
Accord's create_agreement), then one user task per step, each followed by `do_engine_steps`,
`serialize_json` of the whole workflow and one durable commit of it (UPDATE of the workflow's
row): the usual way to persist SpiffWorkflow state. Two variants:

- `in_memory`: the instance stays in memory between steps (SpiffWorkflow's best case);
- `reload`: every step first reads the row and deserialises it, as a stateless server must
  (and as every Accord command does, since each one loads its rows under a lock).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.runner import latency_summary, rate, run_workers
from bench.target import Target, sqlite_connect

BPMN_PATH = Path(__file__).with_name("sla_lifecycle.bpmn")
PROCESS_ID = "sla_lifecycle"
DEFAULT_GAPS = 2  # what the example SLA's metrics produce in Accord

SQLITE_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS spiff_workflow (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " serialization TEXT NOT NULL, steps INTEGER NOT NULL, completed INTEGER NOT NULL)"
)
PG_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS spiff_workflow (id BIGSERIAL PRIMARY KEY,"
    " serialization TEXT NOT NULL, steps INTEGER NOT NULL, completed BOOLEAN NOT NULL)"
)


@dataclass
class Spiff:
    """The few SpiffWorkflow names the benchmark uses (untyped library: all `Any`)."""

    version: str
    parser_cls: Any
    workflow_cls: Any
    serializer_cls: Any
    ready: Any  # TaskState.READY


def load_spiff() -> Spiff | str:
    """SpiffWorkflow's classes, or why they cannot be imported."""
    try:
        parser: ModuleType = importlib.import_module("SpiffWorkflow.bpmn.parser.BpmnParser")
        workflow: ModuleType = importlib.import_module("SpiffWorkflow.bpmn.workflow")
        serializer: ModuleType = importlib.import_module("SpiffWorkflow.bpmn.serializer")
        task_util: ModuleType = importlib.import_module("SpiffWorkflow.util.task")
        version = importlib.metadata.version("SpiffWorkflow")
    except (ImportError, importlib.metadata.PackageNotFoundError) as exc:
        return f"SpiffWorkflow is not importable ({exc}); pip install SpiffWorkflow"
    return Spiff(
        version=version,
        parser_cls=parser.BpmnParser,
        workflow_cls=workflow.BpmnWorkflow,
        serializer_cls=serializer.BpmnWorkflowSerializer,
        ready=task_util.TaskState.READY,
    )


class _Store:
    """One connection's durable INSERT/UPDATE/SELECT of serialised workflows."""

    def __init__(self, target: Target) -> None:
        self.pg = target.is_postgres
        if self.pg:
            self._pg = target.pg_connect()
        else:
            self._lite = sqlite_connect(target.sqlite_file("spiff.db"))

    def create_schema(self) -> None:
        if self.pg:
            self._pg.execute(PG_SCHEMA)
            self._pg.commit()
        else:
            self._lite.execute(SQLITE_SCHEMA)

    def insert(self, serialization: str) -> int:
        if self.pg:
            row = self._pg.execute(
                "INSERT INTO spiff_workflow (serialization, steps, completed)"
                " VALUES (%s, 0, false) RETURNING id",
                (serialization,),
            ).fetchone()
            self._pg.commit()
            assert row is not None
            return int(row[0])
        self._lite.execute("BEGIN IMMEDIATE")
        cur = self._lite.execute(
            "INSERT INTO spiff_workflow (serialization, steps, completed) VALUES (?, 0, 0)",
            (serialization,),
        )
        self._lite.execute("COMMIT")
        assert cur.lastrowid is not None
        return cur.lastrowid

    def update(self, row_id: int, serialization: str, steps: int, completed: bool) -> None:
        if self.pg:
            self._pg.execute(
                "UPDATE spiff_workflow SET serialization = %s, steps = %s, completed = %s"
                " WHERE id = %s",
                (serialization, steps, completed, row_id),
            )
            self._pg.commit()
            return
        self._lite.execute("BEGIN IMMEDIATE")
        self._lite.execute(
            "UPDATE spiff_workflow SET serialization = ?, steps = ?, completed = ? WHERE id = ?",
            (serialization, steps, int(completed), row_id),
        )
        self._lite.execute("COMMIT")

    def load(self, row_id: int) -> str:
        if self.pg:
            row = self._pg.execute(
                "SELECT serialization FROM spiff_workflow WHERE id = %s", (row_id,)
            ).fetchone()
        else:
            row = self._lite.execute(
                "SELECT serialization FROM spiff_workflow WHERE id = ?", (row_id,)
            ).fetchone()
        assert row is not None
        return str(row[0])

    def close(self) -> None:
        if self.pg:
            self._pg.close()
        else:
            self._lite.close()


@dataclass
class SpiffResult:
    lifecycles: int
    commits: int
    bytes_written: int
    latencies: list[float]


def _complete_step(task: Any, gap_count: int) -> str:
    """Play the user's part of a ready user task: the data Accord's command would carry."""
    name = str(task.task_spec.name)
    if name == "submit_for_review":
        task.data["gap_count"] = gap_count
    elif name.startswith("review_"):
        task.data[name] = "accepted"
    elif name.startswith("approve_"):
        task.data[name] = "approved"
    else:
        task.data["outcome"] = "done"
    task.run()
    return name


def _worker(
    spiff: Spiff, target: Target, count: int, gap_count: int, reload: bool, warmup: int
) -> Callable[[], SpiffResult]:
    parser = spiff.parser_cls()
    parser.add_bpmn_file(str(BPMN_PATH))
    spec = parser.get_spec(PROCESS_ID)
    serializer = spiff.serializer_cls()
    store = _Store(target)

    def one() -> tuple[int, int]:
        workflow = spiff.workflow_cls(spec)
        workflow.do_engine_steps()
        data = serializer.serialize_json(workflow)
        row_id = store.insert(data)
        commits, written, steps = 1, len(data), 0
        while not workflow.is_completed():
            if reload:
                workflow = serializer.deserialize_json(store.load(row_id))
            ready = workflow.get_tasks(state=spiff.ready, manual=True)
            if not ready:
                raise RuntimeError("SpiffWorkflow stopped before the end event")
            _complete_step(ready[0], gap_count)
            workflow.do_engine_steps()
            steps += 1
            data = serializer.serialize_json(workflow)
            store.update(row_id, data, steps, bool(workflow.is_completed()))
            commits += 1
            written += len(data)
        return commits, written

    for _ in range(warmup):
        one()

    def body() -> SpiffResult:
        commits = written = 0
        latencies = []
        try:
            for _ in range(count):
                t = time.perf_counter()
                c, w = one()
                latencies.append(time.perf_counter() - t)
                commits += c
                written += w
        finally:
            store.close()
        return SpiffResult(count, commits, written, latencies)

    return body


def run_spiff(
    spiff: Spiff,
    target: Target,
    *,
    count: int,
    workers: int,
    gap_count: int = DEFAULT_GAPS,
    reload: bool = False,
    warmup: int = 1,
) -> dict[str, Any]:
    schema = _Store(target)
    try:
        schema.create_schema()
    finally:
        schema.close()
    timed = run_workers(workers, lambda i: _worker(spiff, target, count, gap_count, reload, warmup))
    lifecycles = sum(r.lifecycles for r in timed.results)
    commits = sum(r.commits for r in timed.results)
    written = sum(r.bytes_written for r in timed.results)
    return {
        "variant": "reload" if reload else "in_memory",
        "lifecycles": lifecycles,
        "commits": commits,
        "commits_per_lifecycle": round(commits / lifecycles, 2) if lifecycles else None,
        "serialized_kib_per_commit": round(written / commits / 1024, 1) if commits else None,
        "elapsed_s": round(timed.elapsed_s, 4),
        "lifecycles_per_s": rate(lifecycles, timed.elapsed_s),
        "commits_per_s": rate(commits, timed.elapsed_s),
        "latency_per_lifecycle": latency_summary([x for r in timed.results for x in r.latencies]),
        "warmup_lifecycles_per_worker": warmup,
    }


def spiff_section(
    target: Target, *, count: int, workers: int, gap_count: int = DEFAULT_GAPS
) -> dict[str, Any]:
    """Both variants, or why SpiffWorkflow could not be measured."""
    spiff = load_spiff()
    if isinstance(spiff, str):
        return {"available": False, "reason": spiff}
    return {
        "available": True,
        "version": spiff.version,
        "bpmn": BPMN_PATH.name,
        "gaps_per_lifecycle": gap_count,
        "persistence": "postgresql (psycopg)" if target.is_postgres else "sqlite3 WAL FULL",
        "in_memory": run_spiff(spiff, target, count=count, workers=workers, gap_count=gap_count),
        "reload": run_spiff(
            spiff, target, count=count, workers=workers, gap_count=gap_count, reload=True
        ),
    }
