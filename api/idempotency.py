"""Stores the response of a POST that carried an Idempotency-Key, for replays."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import IdempotentReplay
from workflow.db import begin_write
from workflow.models import IdempotencyRecord


class IdempotencyRecorder:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        status = 0
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        claim = scope.get("state", {}).get("idempotency")
        if claim is None or not 200 <= status < 300:
            return
        engine: Engine = scope["app"].state.engine
        user_id, key = claim
        await run_in_threadpool(_store, engine, user_id, key, status, b"".join(chunks).decode())


def _store(engine: Engine, user_id: int, key: str, status: int, body: str) -> None:
    with Session(engine) as session:
        begin_write(session)
        session.execute(
            update(IdempotencyRecord)
            .where(
                col(IdempotencyRecord.user_id) == user_id,
                col(IdempotencyRecord.key) == key,
                col(IdempotencyRecord.status_code).is_(None),
            )
            .values(status_code=status, response_body=body)
        )
        session.commit()


__all__ = ["IdempotencyRecorder", "IdempotentReplay"]
