"""Prometheus metrics at /metrics: requests and commands by route template, and the business
an operator watches (open and overdue tasks, approvals waiting, the outbox backlog and its
oldest email, emails delivered, when each scheduler job last succeeded), read from the
database at each scrape so every replica reports the same figures."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workflow.calendar import local_date
from workflow.models import OutboxStatus
from workflow.queries.operations import OperationsSnapshot, operations_snapshot

log = logging.getLogger(__name__)
COMMAND_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

API_PREFIX = "/api/v1"


def route_template(scope: Scope) -> str:
    """The path template the request matched (`unmatched` when none), so labels and log
    fields stay few whatever the ids."""
    template: str = getattr(scope.get("route"), "path", None) or "unmatched"
    # Routes of included routers carry their path without the router's prefix.
    if scope["path"].startswith(API_PREFIX) and not template.startswith(API_PREFIX):
        template = API_PREFIX + template
    return template


class RequestMetrics:
    """Counts by route template, not raw path, so label cardinality stays bounded."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "accord_http_requests_total",
            "HTTP requests by method, route and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.commands = Counter(
            "accord_commands_total",
            "API commands by route and outcome (ok, refused, conflict, error)",
            ["command", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "accord_http_request_duration_seconds",
            "HTTP request latency by method and route",
            ["method", "route"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            template = route_template(scope)
            self.requests.labels(scope["method"], template, str(status)).inc()
            if scope["method"] in COMMAND_METHODS and template.startswith(API_PREFIX):
                command = f"{scope['method']} {template}"
                self.commands.labels(command, _outcome(status)).inc()
            self.latency.labels(scope["method"], template).observe(time.perf_counter() - started)


def _outcome(status: int) -> str:
    if status >= 500:
        return "error"
    if status == 409:
        return "conflict"
    return "refused" if status >= 400 else "ok"


class BusinessCollector(Collector):
    """Figures from the database, gathered when Prometheus scrapes."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        up = GaugeMetricFamily("accord_database_up", "1 when the database answered the scrape")
        try:
            with Session(self.engine) as session:
                snapshot = operations_snapshot(session, now=now, today=local_date(now))
        except Exception:
            log.exception("metrics: the database did not answer")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _business_metrics(snapshot)


def _business_metrics(snapshot: OperationsSnapshot) -> Iterator[Metric]:
    labels = ["kind", "side"]
    opened = GaugeMetricFamily("accord_tasks_open", "Open tasks by kind and side", labels=labels)
    overdue = GaugeMetricFamily(
        "accord_tasks_overdue", "Open tasks past their due date", labels=labels
    )
    for (kind, side), count in sorted(snapshot.open_tasks.items()):
        opened.add_metric([kind, side], count)
        overdue.add_metric([kind, side], snapshot.overdue_tasks.get((kind, side), 0))
    waiting = sum(n for (kind, _), n in snapshot.open_tasks.items() if kind == "approval")
    yield opened
    yield overdue
    yield GaugeMetricFamily("accord_approvals_waiting", "Open approval tasks", value=waiting)
    outbox = GaugeMetricFamily("accord_outbox_messages", "Outbox rows by status", labels=["status"])
    for status in OutboxStatus:
        outbox.add_metric([status], snapshot.outbox.get(status, 0))
    yield outbox
    yield GaugeMetricFamily(
        "accord_outbox_oldest_pending_seconds",
        "Age of the oldest email waiting to be sent (0 when none)",
        value=snapshot.oldest_pending_seconds,
    )
    yield CounterMetricFamily(
        "accord_emails_delivered",
        "Emails handed to the mail server",
        value=snapshot.emails_delivered,
    )
    success = GaugeMetricFamily(
        "accord_job_last_success_timestamp_seconds",
        "When each scheduler job last succeeded (any process)",
        labels=["job"],
    )
    duration = GaugeMetricFamily(
        "accord_job_last_duration_seconds", "How long each job's last run took", labels=["job"]
    )
    for job, at in sorted(snapshot.job_last_success.items()):
        success.add_metric([job], at.timestamp())
    for job, ms in sorted(snapshot.job_last_duration_ms.items()):
        duration.add_metric([job], ms / 1000)
    yield success
    yield duration


def install(app: FastAPI, engine: Engine, clock: Callable[[], datetime]) -> None:
    registry = CollectorRegistry()
    registry.register(BusinessCollector(engine, clock))

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(RequestMetrics, registry=registry)
