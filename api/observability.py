"""Request ids and one log line per request.

Every response carries `X-Request-ID` (the caller's, when it sent a sane one, else a new one);
a problem+json body carries it as `request_id`, so a user's error report leads straight to the
log line, which names the request id, method, route template, status, duration, the user and
the agreement (`sla_id` of the path).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import route_template

log = logging.getLogger("accord.request")

HEADER = b"x-request-id"
SANE_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")
PROBLEM = b"application/problem+json"


def request_id_of(scope: Scope) -> str | None:
    value: str | None = scope.get("state", {}).get("request_id")
    return value


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER, b"")
        request_id = given.decode() if SANE_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        held: Message | None = None

        async def tag(message: Message) -> None:
            nonlocal status, held
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != HEADER]
                message = {**message, "headers": [*headers, (HEADER, request_id.encode())]}
                if dict(message["headers"]).get(b"content-type", b"").startswith(PROBLEM):
                    held = message  # the body gains the request id, so its length changes
                    return
            elif held is not None and message["type"] == "http.response.body":
                start, held = held, None
                body = _with_request_id(message.get("body", b""), request_id)
                headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
                await send({**start, "headers": [*headers, (b"content-length", b"%d" % len(body))]})
                message = {"type": "http.response.body", "body": body}
            await send(message)

        try:
            await self.app(scope, receive, tag)
        finally:
            _log_request(scope, request_id, status, time.perf_counter() - started)


def _with_request_id(body: bytes, request_id: str) -> bytes:
    try:
        problem = json.loads(body)
    except ValueError:
        return body
    if not isinstance(problem, dict):
        return body
    problem["request_id"] = request_id
    # As Starlette's JSONResponse renders it, so the body keeps its shape.
    return json.dumps(problem, ensure_ascii=False, separators=(",", ":")).encode()


def _log_request(scope: Scope, request_id: str, status: int, seconds: float) -> None:
    template = route_template(scope)
    state = scope.get("state", {})
    agreement = scope.get("path_params", {}).get("sla_id")
    fields = {
        "request_id": request_id,
        "method": scope["method"],
        "route": template,
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "user_id": state.get("user_id"),
        "agreement_id": agreement,
    }
    log.info("%s %s %s %.1f ms", scope["method"], template, status, seconds * 1000, extra=fields)
