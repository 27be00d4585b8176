"""A request-body size limit, since neither FastAPI nor Starlette enforces one.

Every request gets `max_bytes` (ACCORD_MAX_BODY_BYTES), except streamed uploads, whose paths
end in one of `UPLOAD_SUFFIXES`: they get `upload_max_bytes` (ACCORD_MAX_UPLOAD_BYTES). Those
endpoints spool their body to disk, so the bigger limit costs no memory. A body that declares
its length is refused before it is read; one sent in chunks, when the limit is passed. Either
way the answer is a problem+json 413.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem
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
            await _refuse(scope, receive, send, limit)
            return
        seen = 0
        started = refused = False

        async def counting_receive() -> Message:
            # The 413 is sent from here, the moment the limit is passed: the app turns the
            # exception below into answers of its own (FastAPI's body parsing makes it a
            # 400), which `guarded_send` then drops.
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    if not started and not refused:
                        refused = True
                        await _refuse(scope, receive, send, limit)
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            pass  # answered 413 above, or too late for that: the server drops the connection
        except Exception:
            # After a 413, whatever the app made of the cut-off body is moot.
            if not refused:
                raise


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    detail = f"the request body exceeds {limit} bytes"
    await problem(413, detail, slug="too-large")(scope, receive, send)
