"""The FastAPI application: routers, error mapping, limits and health checks."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.engine import Engine

from api import logs, metrics, openapi, pages, problems, tracing
from api.deps import IdempotentReplay
from api.limits import BodySizeLimit
from api.observability import RequestContext
from api.pages.handlers import internal_error_page
from api.ratelimit import RateLimit
from api.routers import ROUTERS
from api.safe_input import SafeInput
from notifications.scheduler import build_scheduler
from workflow.db import make_engine
from workflow.schema import is_current
from workflow.settings import Settings, get_settings


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    engine: Engine | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    scheduler: bool = False,
) -> FastAPI:
    """The application; `scheduler` also runs the in-process ticker (as `accord serve` does)."""
    settings = get_settings()
    owned = engine is None
    engine = engine or make_engine(settings.database_url)

    app = FastAPI(
        title="Accord",
        version="0.1.0",
        summary="Govern Service Level Agreements between a customer and a provider.",
        lifespan=_lifespan(engine, clock, scheduler=scheduler, owned=owned),
    )
    app.state.engine = engine
    app.state.clock = clock
    problems.install(app)
    openapi.install(app)
    _install_replay(app)
    _install_health_checks(app, engine)
    for router in ROUTERS:
        app.include_router(router, prefix=metrics.API_PREFIX, dependencies=[SafeInput])
    pages.install(app)
    _install_middleware(app, settings, engine, clock)
    return app


def _lifespan(
    engine: Engine, clock: Callable[[], datetime], *, scheduler: bool, owned: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start the ticker (when asked) with the app; stop it, and dispose of an engine the app
    made itself, when the app stops."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stopping = threading.Event()
        ticker = build_scheduler(engine, clock, stop=stopping) if scheduler else None
        if ticker is not None:
            ticker.start()
        yield
        stopping.set()  # a running dispatch batch releases what it has not sent yet
        if ticker is not None:
            ticker.shutdown(wait=True)
        if owned:
            engine.dispose()

    return lifespan


def _install_replay(app: FastAPI) -> None:
    """A repeated request with a known Idempotency-Key gets the first answer again."""

    @app.exception_handler(IdempotentReplay)
    async def _replay(_request: Request, exc: IdempotentReplay) -> Response:
        return Response(
            exc.body,
            status_code=exc.status_code,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )


def _install_health_checks(app: FastAPI, engine: Engine) -> None:
    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: openapi.error("not ready")})
    def readyz() -> JSONResponse:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            current = is_current(engine)
        except Exception as exc:
            return problems.problem(503, f"database unreachable: {type(exc).__name__}")
        if not current:
            return problems.problem(503, "database schema is not at the newest migration")
        return JSONResponse({"status": "ready"})


def _install_middleware(
    app: FastAPI, settings: Settings, engine: Engine, clock: Callable[[], datetime]
) -> None:
    """The middlewares, innermost first (each added one wraps those before it)."""
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        RateLimit,
        per_token_per_minute=settings.rate_limit_per_minute,
        per_address_per_minute=settings.rate_limit_address_per_minute,
    )
    if settings.metrics_enabled:
        metrics.install(app, engine, clock)
    # Outside the middlewares above, so it also answers for a fault in one of them.
    app.add_middleware(problems.ProblemOnError, page_answer=internal_error_page)
    app.add_middleware(RequestContext)  # outermost: every answer carries its request id
    if settings.otel_enabled:
        tracing.install(app)


def worker_app() -> FastAPI:
    """One of `accord serve --workers N`'s processes: its own engine and logging, no ticker
    (the supervisor runs the scheduler once for all of them)."""
    logs.configure(get_settings().log_format)
    return create_app(scheduler=False)
