"""RFC 9457 problem details for every error, mapped from domain errors in one place."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workflow.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotAllowedNow,
    NotFound,
    StaleVersion,
)

PROBLEM_JSON = "application/problem+json"

log = logging.getLogger("accord.api")

_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid request",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal error",
}


class FieldError(BaseModel):
    model_config = ConfigDict(extra="allow")

    field: str = Field(description="the field, e.g. `metrics.0.target`, `q` or `If-Match`")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of the API is answered."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="`about:blank` or `/problems/<slug>`")
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(default=None, description="422: every offending field")
    current_state: str | None = Field(default=None, description="409: the state now")
    allowed_events: list[str] | None = Field(
        default=None, description="409: what the caller may do now"
    )


def problem(status: int, detail: str, *, slug: str | None = None, **extra: Any) -> JSONResponse:
    body = {
        "type": f"/problems/{slug}" if slug else "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def domain_problem(exc: DomainError) -> JSONResponse:
    if isinstance(exc, NotFound):
        return problem(404, exc.message, slug="not-found")
    if isinstance(exc, Forbidden):
        return problem(403, exc.message, slug="forbidden")
    if isinstance(exc, InvalidInput):
        return problem(422, exc.message, slug="invalid-input", errors=exc.errors)
    if isinstance(exc, NotAllowedNow):
        return problem(
            409,
            exc.message,
            slug="not-allowed-now",
            current_state=exc.current_state,
            allowed_events=exc.allowed_events,
            reasons=exc.reasons,
        )
    if isinstance(exc, StaleVersion):
        return problem(
            409, exc.message, slug="stale", current_lock_version=exc.current_lock_version
        )
    if isinstance(exc, Conflict):
        return problem(409, exc.message, slug="conflict")
    return problem(400, exc.message)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    return ".".join(parts)


INTERNAL_DETAIL = "something went wrong on our side; it has been logged, please try again later"


def internal_error() -> JSONResponse:
    return problem(500, INTERNAL_DETAIL, slug="internal")


class ProblemOnError:
    """Outermost middleware: an exception nothing else handled becomes a problem+json 500.

    It answers here, inside the application, because Starlette's ServerErrorMiddleware always
    re-raises after answering, and uvicorn then closes the keep-alive connection, so the
    client's next request on it is reset. `page_answer` answers people (HTML) instead.
    """

    def __init__(
        self, app: ASGIApp, page_answer: Callable[[Scope], Response] | None = None
    ) -> None:
        self.app = app
        self.page_answer = page_answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            if started:
                raise  # half an answer is out: only closing the connection can tell the client
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            await self._answer(scope)(scope, receive, send)

    def _answer(self, scope: Scope) -> Response:
        if self.page_answer is not None and not str(scope.get("path", "")).startswith("/api/"):
            return self.page_answer(scope)
        return internal_error()


def install(app: FastAPI) -> None:
    @app.exception_handler(Exception)
    async def _unhandled(_request: Request, _exc: Exception) -> JSONResponse:
        # Only reached when ProblemOnError itself fails: Starlette logs and re-raises after.
        return internal_error()

    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        return domain_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        names = ", ".join(dict.fromkeys(e["field"] for e in errors))
        return problem(422, f"invalid fields: {names}", slug="invalid-input", errors=errors)

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail))

    @app.exception_handler(StaleDataError)
    async def _stale(_request: Request, _exc: StaleDataError) -> JSONResponse:
        return problem(409, "someone changed this while you were working; reload it", slug="stale")

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, _exc: IntegrityError) -> JSONResponse:
        return problem(
            409, "the change conflicts with data saved meanwhile; retry", slug="conflict"
        )
