"""A request-body size limit, since neither FastAPI nor Starlette enforces one.

Every request gets `max_bytes` (ACCORD_MAX_BODY_BYTES), except streamed uploads, whose paths
end in one of `UPLOAD_SUFFIXES`: they get `upload_max_bytes` (ACCORD_MAX_UPLOAD_BYTES). Those
endpoints read their body incrementally, so the bigger limit costs no memory.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workflow.settings import get_settings

UPLOAD_SUFFIXES = ("/measurements:csv",)


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, upload_max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = (
            get_settings().max_upload_bytes if upload_max_bytes is None else upload_max_bytes
        )

    def limit_for(self, path: str) -> int:
        return self.upload_max_bytes if path.endswith(UPLOAD_SUFFIXES) else self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        body = json.dumps(
            {
                "type": "/problems/too-large",
                "title": "Request body too large",
                "status": 413,
                "detail": f"the request body exceeds {limit} bytes",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
