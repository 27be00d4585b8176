"""Idempotency-Key on POST: the response is stored in the command's own transaction.

The `idempotency` dependency (api/deps.py) replays a stored response or puts a claim on the
request's session. The command's commit then writes the key and leaves its transaction open
(workflow.transaction); this middleware holds the response back, stores it with
`record_response` in that same transaction, and only then lets it go to the client. So an
acknowledged command always has its stored response, and a crash before the commit leaves
nothing behind: the retry simply runs the command.

A request that lost a race to a concurrent duplicate (a 409 from the key's unique index, or a
refusal because the first already changed the state) answers with the first's response.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem
from workflow.errors import DomainError
from workflow.models import IdempotencyRecord
from workflow.transaction import awaiting_response, record_response

STATE_KEY = "idempotency"
REPLAYED_HEADER = (b"idempotent-replayed", b"true")
# Refusals a concurrent duplicate can meet once the first request has changed the state.
RACE_STATUSES = frozenset({404, 409})


@dataclass(frozen=True)
class Claimed:
    """What the dependency leaves on the request for this middleware."""

    session: Session
    user_id: int
    key: str
    request_hash: str


class IdempotencyRecorder:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal start
            claimed: Claimed | None = scope.get("state", {}).get(STATE_KEY)
            if claimed is None:
                await send(message)
                return
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            status, headers, body = await _settle(
                scope["app"].state.engine, claimed, start, b"".join(chunks)
            )
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, hold)


async def _settle(
    engine: Engine, claimed: Claimed, start: Message, body: bytes
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Commit a successful command with its response, or answer a lost race with the
    winner's response; anything else goes out as it is."""
    status: int = start["status"]
    headers: list[tuple[bytes, bytes]] = list(start.get("headers", []))
    if 200 <= status < 300 and awaiting_response(claimed.session):
        try:
            await run_in_threadpool(record_response, claimed.session, status, body.decode())
        except DomainError as exc:
            refusal = problem(409, exc.message, slug="conflict")
            status, body, headers = 409, bytes(refusal.body), list(refusal.raw_headers)
        else:
            return status, headers, body
    elif awaiting_response(claimed.session):
        # The route failed after its command: nothing of it may stay.
        await run_in_threadpool(claimed.session.rollback)
    if status in RACE_STATUSES:
        stored = await run_in_threadpool(_stored_response, engine, claimed)
        if stored is not None:
            status, text = stored
            body = text.encode()
            headers = [*_json_headers(body, media=b"application/json"), REPLAYED_HEADER]
    return status, headers, body


def _stored_response(engine: Engine, claimed: Claimed) -> tuple[int, str] | None:
    with Session(engine) as session:
        record = session.exec(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == claimed.user_id,
                IdempotencyRecord.key == claimed.key,
                IdempotencyRecord.request_hash == claimed.request_hash,
            )
        ).first()
    if record is None or record.status_code is None or record.response_body is None:
        return None
    return record.status_code, record.response_body


def _json_headers(
    body: bytes, *, media: bytes = b"application/problem+json"
) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", media), (b"content-length", str(len(body)).encode())]
