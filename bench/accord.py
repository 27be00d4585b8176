"""Accord's own commands, timed: transition loops and complete lifecycles on W threads."""

from __future__ import annotations

import cProfile
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from bench.runner import latency_summary, rate, run_workers
from states import Role, Side
from workflow import commands
from workflow.access import Actor
from workflow.db import make_engine
from workflow.example import Parties, example_content, load_example, seed_parties
from workflow.models import Agreement, AgreementVersion, AuditEvent, Gap, OutboxMessage, Task
from workflow.schema import upgrade

C, P = Side.CUSTOMER, Side.PROVIDER
T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # a Monday, as in the tests
CHANGES_COMMENT = "please tighten the availability target"
GAP_ANALYSIS_KINDS = ("confirm_requirements", "confirm_capabilities", "lcce_review")


class StatementCounter:
    """SQL statements sent by the current thread (BEGIN included; COMMIT is not a statement)."""

    def __init__(self, engine: Engine) -> None:
        self._local = threading.local()
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, *_args: Any) -> None:
        self._local.n = getattr(self._local, "n", 0) + 1

    def count(self) -> int:
        n: int = getattr(self._local, "n", 0)
        return n


class Clock:
    """The injected `now` of one worker: one minute later at every command."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def tick(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@dataclass
class World:
    """What every worker shares, read-only: the engine, the example and its parties."""

    engine: Engine
    parties: Parties
    document: dict[str, Any]
    statements: StatementCounter
    by_user: dict[int, Actor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_user = {a.user_id: a for a in self.parties.actors.values()}

    def who(self, side: Side, role: Role) -> Actor:
        return self.parties.actor(side, role)

    def create(self, session: Session, clock: Clock) -> int:
        agreement = commands.create_agreement(
            session,
            actor=self.who(C, Role.PROGRAM_MANAGER),
            title=self.document["title"],
            customer_org_id=self.parties.customer_org_id,
            provider_org_id=self.parties.provider_org_id,
            content=example_content(self.document),
            stakeholders=self.parties.stakeholders(),
            now=clock.tick(),
        )
        assert agreement.id is not None
        return agreement.id

    def fire(
        self,
        session: Session,
        clock: Clock,
        agreement_id: int,
        event: str,
        by: Actor,
        comment: str | None = None,
    ) -> None:
        commands.fire_event(
            session,
            actor=by,
            agreement_id=agreement_id,
            number=1,
            event=event,
            now=clock.tick(),
            comment=comment,
        )


def prepare(url: str, *, workers: int) -> World:
    """Migrate the fresh database and seed the example's organisations and people."""
    engine = make_engine(url, pool_size=max(5, workers + 2))
    upgrade(engine)
    document = load_example()
    with Session(engine, expire_on_commit=False) as session:
        parties = seed_parties(session, document, now=T0)
    return World(
        engine=engine, parties=parties, document=document, statements=StatementCounter(engine)
    )


# -- transitions ----------------------------------------------------------------------------


@dataclass
class LoopResult:
    commands: int
    statements: int
    agreement_ids: list[int]
    latencies: list[float]


def _transition_worker(
    world: World,
    worker: int,
    n: int,
    per_agreement: int,
    warmup: int,
    profile: Path | None,
) -> Callable[[], LoopResult]:
    session = Session(world.engine, expire_on_commit=False)
    clock = Clock(T0 + timedelta(days=7 * worker))
    pm = world.who(C, Role.PROGRAM_MANAGER)
    reviewer = world.who(C, Role.FUNCTIONAL_LEAD)

    def step(agreement_id: int, i: int) -> None:
        if i % 2 == 0:
            world.fire(session, clock, agreement_id, "submit_for_review", pm)
        else:
            world.fire(session, clock, agreement_id, "request_changes", reviewer, CHANGES_COMMENT)

    warm = world.create(session, clock)
    for i in range(warmup):
        step(warm, i)
    agreement_ids = [world.create(session, clock) for _ in range(math.ceil(n / per_agreement))]

    def body() -> LoopResult:
        profiler = cProfile.Profile() if profile is not None and worker == 0 else None
        latencies = []
        statements = world.statements.count()
        if profiler is not None:
            profiler.enable()
        try:
            for i in range(n):
                agreement_id = agreement_ids[i // per_agreement]
                t = time.perf_counter()
                step(agreement_id, i % per_agreement)
                latencies.append(time.perf_counter() - t)
        finally:
            if profiler is not None:
                profiler.disable()
                assert profile is not None
                profiler.dump_stats(str(profile))
            session.close()
        return LoopResult(n, world.statements.count() - statements, agreement_ids, latencies)

    return body


def run_transitions(
    world: World,
    *,
    n: int,
    workers: int,
    per_agreement: int,
    warmup: int = 4,
    profile: Path | None = None,
) -> dict[str, Any]:
    """`n` fire_event commands per worker, alternating submit_for_review / request_changes."""
    per_agreement = max(2, per_agreement + per_agreement % 2)  # even: each ends in draft
    timed = run_workers(
        workers,
        lambda i: _transition_worker(world, i, n, per_agreement, warmup, profile),
    )
    commands_ = sum(r.commands for r in timed.results)
    statements = sum(r.statements for r in timed.results)
    ids = [a for r in timed.results for a in r.agreement_ids]
    counted = _count_rows(world.engine, ids)
    if counted["audited_transitions_counted"] != commands_:
        raise RuntimeError(f"expected {commands_} audited transitions, counted {counted}")
    return {
        "commands": commands_,
        "events": ["submit_for_review", "request_changes"],
        "agreements": len(ids),
        "transitions_per_agreement": per_agreement,
        "elapsed_s": round(timed.elapsed_s, 4),
        "transitions_per_s": rate(commands_, timed.elapsed_s),
        **counted,
        "sql_statements_per_transition": round(statements / commands_, 2),
        "latency": latency_summary([x for r in timed.results for x in r.latencies]),
        "warmup_transitions_per_worker": warmup,
    }


def _count_rows(engine: Engine, agreement_ids: list[int]) -> dict[str, int]:
    """Audit events and outbox rows the timed commands wrote (creation excluded)."""
    with Session(engine) as session:
        in_ids = col(AuditEvent.agreement_id).in_(agreement_ids)
        transitions = session.exec(
            select(func.count())
            .select_from(AuditEvent)
            .where(in_ids, col(AuditEvent.action).startswith("version."))
        ).one()
        events = session.exec(
            select(func.count())
            .select_from(AuditEvent)
            .where(in_ids, AuditEvent.action != "agreement.created")
        ).one()
        outbox = session.exec(
            select(func.count())
            .select_from(OutboxMessage)
            .where(col(OutboxMessage.agreement_id).in_(agreement_ids))
        ).one()
    return {
        "audited_transitions_counted": int(transitions),
        "audit_events_written": int(events),
        "outbox_rows_written": int(outbox),
    }


# -- lifecycles -----------------------------------------------------------------------------


def _open_tasks(session: Session, agreement_id: int, kinds: tuple[str, ...]) -> list[Task]:
    stmt = select(Task).where(
        Task.agreement_id == agreement_id, Task.state == "open", col(Task.kind).in_(kinds)
    )
    return list(session.exec(stmt.order_by(col(Task.id))).all())


def _complete(world: World, session: Session, clock: Clock, tasks: list[Task], outcome: str) -> int:
    for task in tasks:
        assert task.id is not None
        assert task.assignee_id is not None
        commands.complete_task(
            session,
            actor=world.by_user[task.assignee_id],
            task_id=task.id,
            outcome=outcome,
            now=clock.tick(),
        )
    return len(tasks)


@dataclass
class Lifecycle:
    agreement_id: int
    commands: int
    gaps: int


def lifecycle(world: World, session: Session, clock: Clock) -> Lifecycle:
    """Create → reviews → gap analysis → approvals → active, one command per step."""
    customer_pm = world.who(C, Role.PROGRAM_MANAGER)
    agreement_id = world.create(session, clock)
    world.fire(session, clock, agreement_id, "submit_for_review", customer_pm)
    done = 2
    done += _complete(
        world, session, clock, _open_tasks(session, agreement_id, ("review",)), "accepted"
    )
    gaps = session.exec(select(Gap.id).where(Gap.agreement_id == agreement_id)).all()
    for gap_id in gaps:
        assert gap_id is not None
        commands.resolve_gap(
            session,
            actor=world.who(P, Role.PROGRAM_MANAGER),  # its own figure: applied at once
            gap_id=gap_id,
            resolution="provider_commits",
            note="provider will add capacity",
            now=clock.tick(),
        )
    done += len(gaps)
    done += _complete(
        world, session, clock, _open_tasks(session, agreement_id, GAP_ANALYSIS_KINDS), "done"
    )
    world.fire(
        session, clock, agreement_id, "submit_for_approval", world.who(P, Role.PROGRAM_MANAGER)
    )
    done += 1
    done += _complete(
        world, session, clock, _open_tasks(session, agreement_id, ("approval",)), "approved"
    )
    return Lifecycle(agreement_id, done, len(gaps))


@dataclass
class LifecycleResult:
    lifecycles: int
    commands: int
    statements: int
    gaps: int
    agreement_ids: list[int]
    latencies: list[float]


def _lifecycle_worker(
    world: World, worker: int, count: int, warmup: int
) -> Callable[[], LifecycleResult]:
    session = Session(world.engine, expire_on_commit=False)
    clock = Clock(T0 + timedelta(days=7 * worker, hours=4))
    for _ in range(warmup):
        lifecycle(world, session, clock)

    def body() -> LifecycleResult:
        ids, latencies, commands_, gaps = [], [], 0, 0
        statements = world.statements.count()
        try:
            for _ in range(count):
                t = time.perf_counter()
                done = lifecycle(world, session, clock)
                latencies.append(time.perf_counter() - t)
                ids.append(done.agreement_id)
                commands_ += done.commands
                gaps += done.gaps
            statements = world.statements.count() - statements
        finally:
            session.close()
        return LifecycleResult(count, commands_, statements, gaps, ids, latencies)

    return body


def run_lifecycles(world: World, *, count: int, workers: int, warmup: int = 1) -> dict[str, Any]:
    timed = run_workers(workers, lambda i: _lifecycle_worker(world, i, count, warmup))
    lifecycles = sum(r.lifecycles for r in timed.results)
    commands_ = sum(r.commands for r in timed.results)
    statements = sum(r.statements for r in timed.results)
    gaps = sum(r.gaps for r in timed.results)
    ids = [a for r in timed.results for a in r.agreement_ids]
    with Session(world.engine) as session:
        active = session.exec(
            select(func.count())
            .select_from(AgreementVersion)
            .where(col(AgreementVersion.agreement_id).in_(ids), AgreementVersion.state == "active")
        ).one()
        audit_events = session.exec(
            select(func.count())
            .select_from(AuditEvent)
            .where(col(AuditEvent.agreement_id).in_(ids))
        ).one()
        agreements = session.exec(
            select(func.count()).select_from(Agreement).where(col(Agreement.id).in_(ids))
        ).one()
    if active != lifecycles or agreements != lifecycles:
        raise RuntimeError(f"{lifecycles} lifecycles ran but {active} versions are active")
    return {
        "lifecycles": lifecycles,
        "commands": commands_,
        "commands_per_lifecycle": round(commands_ / lifecycles, 2) if lifecycles else None,
        "audit_events_per_lifecycle": round(int(audit_events) / lifecycles, 2)
        if lifecycles
        else None,
        "gaps_per_lifecycle": round(gaps / lifecycles, 2) if lifecycles else None,
        "sql_statements_per_lifecycle": round(statements / lifecycles, 2) if lifecycles else None,
        "versions_active_counted": int(active),
        "elapsed_s": round(timed.elapsed_s, 4),
        "lifecycles_per_s": rate(lifecycles, timed.elapsed_s),
        "commands_per_s": rate(commands_, timed.elapsed_s),
        "latency_per_lifecycle": latency_summary([x for r in timed.results for x in r.latencies]),
        "warmup_lifecycles_per_worker": warmup,
    }
