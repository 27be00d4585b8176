"""The ticker. APScheduler only wakes the jobs up; the database makes each effect happen once.

Every job is a function of `(engine, now)` that opens its own session, runs workflow commands
and returns what it did. The same jobs run on an interval in `accord serve` (in-process) and in
`accord scheduler` (its own process), and once each, in order, in `accord jobs run-once`. Each
process has its own in-memory job store: never a shared `SQLAlchemyJobStore` (library-notes.md).
Any number of processes may tick at once: row claims and unique outbox keys, not the ticker,
give exactly-once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine
from sqlmodel import Session

from notifications.digest import compile_digests
from notifications.dispatch import dispatch_pending
from notifications.emails import template_renderer, template_summary
from notifications.senders import sender_from_settings
from workflow import commands
from workflow.calendar import BUSINESS_TIME_ZONE
from workflow.commands.calendar_jobs import run_calendar
from workflow.commands.maintenance import JobOutcome
from workflow.commands.sweeps import sweep_reminders
from workflow.db import db_now
from workflow.settings import get_settings

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = timedelta(minutes=15)
CALENDAR_EVERY = timedelta(minutes=15)
SWEEP_EVERY = timedelta(minutes=5)
DISPATCH_EVERY = timedelta(seconds=10)
DIGEST_EVERY = timedelta(minutes=30)
HOUSEKEEPING_EVERY = timedelta(hours=1)
DETAIL_LINES = 50  # per job in a report; the rest is counted


@dataclass
class JobResult:
    """What one run of a job did: a one-line summary and a line per effect."""

    summary: str
    details: list[str] = field(default_factory=list)


JobFunction = Callable[[Engine, datetime], JobResult]


@dataclass(frozen=True)
class Job:
    id: str
    every: timedelta
    run: JobFunction
    description: str


# ---- the jobs -------------------------------------------------------------------------------


def calendar_job(
    engine: Engine, now: datetime, *, time_zone: str = BUSINESS_TIME_ZONE
) -> JobResult:
    """Expiry, renewal decisions and reminders, annual and quarterly review tasks."""
    with Session(engine, expire_on_commit=False) as session:
        report = run_calendar(session, now=now, time_zone_name=time_zone)
    counts = {
        kind: len(report.of(kind))
        for kind in (
            "expired",
            "renewal_reminder",
            "annual_review",
            "renewal_decision",
            "service_review",
        )
    }
    summary = (
        f"{report.versions_checked} active versions checked on {report.today}: "
        f"{counts['expired']} expired, {counts['renewal_reminder']} renewal reminders, "
        f"{counts['annual_review']} annual reviews, {counts['renewal_decision']} renewal "
        f"decisions, {counts['service_review']} service reviews opened"
    )
    details = [
        f"{a.kind} {a.agreement_key} v{a.version_number}: {a.detail}"
        + (f" (task {', '.join(map(str, a.task_ids))})" if a.task_ids else "")
        for a in report.actions
    ]
    details += [f"waiting: {w}" for w in report.waiting]
    return JobResult(summary, details)


def periods_job(engine: Engine, now: datetime) -> JobResult:
    """Open the reporting periods that ended, each with its submit task."""
    with Session(engine, expire_on_commit=False) as session:
        report = commands.open_due_periods(session, now=now)
    return JobResult(
        f"{report.agreements_checked} reporting agreements checked on {report.today}: "
        f"{len(report.opened)} periods opened",
        [f"opened {key} {period}" for key, period in report.opened],
    )


def sweep_job(engine: Engine, now: datetime, *, time_zone: str = BUSINESS_TIME_ZONE) -> JobResult:
    """Reminders and escalations of open tasks."""
    with Session(engine, expire_on_commit=False) as session:
        report = sweep_reminders(session, now=now, time_zone=time_zone)
    summary = (
        f"{report.tasks_scanned} open tasks swept on {report.today}: "
        f"{len(report.reminders)} reminders, {len(report.escalations)} escalations sent"
        f" ({report.already_sent} already sent"
        + (f", {report.deferred} deferred" if report.deferred else "")
        + ")"
    )
    details = [
        (
            f"reminder {s.step} for task {s.task_id} ({s.agreement_key}), due {s.due_on}"
            if s.kind == "reminder"
            else f"escalation to {s.step} for task {s.task_id} ({s.agreement_key}), due {s.due_on}"
        )
        for s in report.sent
    ]
    return JobResult(summary, details)


def checkpoint_job(engine: Engine, now: datetime) -> JobResult:
    """Record every audit chain head, when one moved since the last checkpoint."""
    with Session(engine, expire_on_commit=False) as session:
        event = commands.checkpoint_audit(session, now=now)
    if event is None:
        return JobResult("no chain moved since the last checkpoint")
    return JobResult(f"checkpoint {event.seq} recorded")


def housekeeping_job(engine: Engine, _now: datetime) -> JobResult:
    """Forget Idempotency-Keys past their time-to-live, judged by the database's clock so a
    run with a simulated `now` never drops keys that clients may still retry with."""
    hours = get_settings().idempotency_ttl_hours
    with Session(engine, expire_on_commit=False) as session:
        swept = commands.expire_idempotency_keys(
            session, now=db_now(session), ttl=timedelta(hours=hours)
        )
    return JobResult(f"{swept} idempotency keys older than {hours} h forgotten")


# The dispatcher is `notifications.dispatch.dispatch_once(engine, *, sender, renderer, now,
# limit)`; `dispatch_hook` adapts it (with its sender and renderer) into a job.
DispatchHook = JobFunction


def dispatch_hook(
    dispatch_once: Callable[..., Any],
    *,
    sender: Any,
    renderer: Any,
    limit: int = 200,
    stop: threading.Event | None = None,
) -> DispatchHook:
    """The dispatch job: one `dispatch_once` call per tick, its result as the summary; with
    `stop`, a shutdown ends the running batch after the email being sent."""
    extra: dict[str, Any] = {} if stop is None else {"stop": stop}

    def dispatch_job(engine: Engine, now: datetime) -> JobResult:
        result = dispatch_once(
            engine, sender=sender, renderer=renderer, now=now, limit=limit, **extra
        )
        return JobResult(str(result))

    return dispatch_job


def configured_dispatch(stop: threading.Event | None = None) -> DispatchHook | None:
    """The dispatch job `accord serve`, `accord scheduler` and `accord jobs run-once` run:
    the backend `ACCORD_MAIL_BACKEND` names and the templates."""
    settings = get_settings()
    return dispatch_hook(
        dispatch_pending,
        sender=sender_from_settings(settings),
        renderer=template_renderer(sender=settings.mail_from, base_url=settings.base_url),
        limit=settings.dispatch_batch,
        stop=stop,
    )


def digest_job(engine: Engine, now: datetime) -> JobResult:
    """Yesterday's shares of digest readers become one digest email each."""
    summarise = template_summary(base_url=get_settings().base_url)
    counts = compile_digests(engine, now=now, summarise=summarise)
    return JobResult(f"{counts.digests} digests queued with {counts.items} items")


def jobs(*, dispatch: DispatchHook | None = None, time_zone: str = BUSINESS_TIME_ZONE) -> list[Job]:
    """Every job, in the order `run_once` runs them: the calendar first (expiry cancels tasks
    that then need no reminders), the reporting periods that ended, the sweep, then dispatch
    (which sends what they queued), and the checkpoint last (it records the heads the others
    moved)."""

    def calendar(engine: Engine, now: datetime) -> JobResult:
        return calendar_job(engine, now, time_zone=time_zone)

    def sweep(engine: Engine, now: datetime) -> JobResult:
        return sweep_job(engine, now, time_zone=time_zone)

    found = [
        Job("calendar", CALENDAR_EVERY, calendar, "expiry, renewals, governance tasks"),
        Job("periods", CALENDAR_EVERY, periods_job, "open ended reporting periods"),
        Job("sweep", SWEEP_EVERY, sweep, "reminders and escalations"),
    ]
    found.append(Job("digest", DIGEST_EVERY, digest_job, "daily digests"))
    if dispatch is not None:
        found.append(Job("dispatch", DISPATCH_EVERY, dispatch, "send the outbox"))
    found.append(Job("audit-checkpoint", CHECKPOINT_EVERY, checkpoint_job, "audit chain heads"))
    found.append(Job("housekeeping", HOUSEKEEPING_EVERY, housekeeping_job, "expired keys"))
    return found


def run_once(engine: Engine, now: datetime, job_list: Sequence[Job]) -> list[tuple[Job, JobResult]]:
    """Run every job once at `now`, in order (for operators and tests)."""
    return [(job, job.run(engine, now)) for job in job_list]


# ---- ticking --------------------------------------------------------------------------------


def tick(job: Job, engine: Engine, clock: Callable[[], datetime]) -> None:
    """One run of a job as the ticker does it: logged with its duration and recorded."""
    started, began = time.perf_counter(), clock()
    try:
        result = job.run(engine, began)
    except Exception as exc:
        log.exception("%s failed", job.id, extra={"job": job.id, "outcome": "failed"})
        _note_run(engine, JobOutcome(job.id, began, clock(), False, f"{type(exc).__name__}"))
        raise
    _note_run(engine, JobOutcome(job.id, began, clock(), True, result.summary))
    took = round((time.perf_counter() - started) * 1000, 2)
    log.info(
        "%s: %s",
        job.id,
        result.summary,
        extra={"job": job.id, "outcome": "ok", "duration_ms": took},
    )
    for line in result.details[:DETAIL_LINES]:
        log.info("%s: %s", job.id, line)
    if len(result.details) > DETAIL_LINES:
        log.info("%s: ... and %d more", job.id, len(result.details) - DETAIL_LINES)


def _note_run(engine: Engine, outcome: JobOutcome) -> None:
    """Record the run for monitoring; a failure to record never stops the ticker."""
    try:
        with Session(engine) as session:
            commands.record_job_run(session, outcome)
    except Exception:
        log.exception("could not record the run of %s", outcome.job)


def build_scheduler(
    engine: Engine,
    clock: Callable[[], datetime],
    *,
    dispatch: DispatchHook | None = None,
    job_list: Sequence[Job] | None = None,
    stop: threading.Event | None = None,
) -> BackgroundScheduler:
    """A memory-store scheduler with every job (`coalesce`, one instance each); the dispatch
    job is `dispatch`, else `configured_dispatch(stop)`. Set `stop` before `shutdown` so a
    running dispatch batch ends after its current email instead of finishing the batch."""
    scheduler = BackgroundScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        timezone="UTC",
    )
    start = datetime.now(UTC)  # APScheduler runs on the wall clock; the jobs use `clock`
    if job_list is None:
        job_list = jobs(dispatch=dispatch if dispatch is not None else configured_dispatch(stop))
    for job in job_list:
        scheduler.add_job(
            tick,
            "interval",
            seconds=job.every.total_seconds(),
            args=[job, engine, clock],
            id=job.id,
            name=job.description,
            coalesce=True,
            max_instances=1,
            next_run_time=start,
        )
    return scheduler


def run_scheduler(
    engine: Engine,
    clock: Callable[[], datetime],
    stop: threading.Event,
    *,
    dispatch: DispatchHook | None = None,
) -> None:
    """Tick until `stop` is set (`accord scheduler`), then let running jobs finish (a
    dispatch batch stops after the email being sent)."""
    scheduler = build_scheduler(engine, clock, dispatch=dispatch, stop=stop)
    scheduler.start()
    log.info("scheduler started: %s", ", ".join(j.id for j in scheduler.get_jobs()))
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        log.info("scheduler stopped")
