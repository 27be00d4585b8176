"""Idempotency-Key: the response is stored in the command's own transaction, in its thread.

The `idempotency` dependency (api/deps.py) replays a stored response, or puts a claim on the
request's session. The command's commit then writes the key and leaves its transaction open
(workflow.transaction). `@idempotent` on the route serialises the route's answer, stores it
with `record_response` (which commits) and only then returns it: all in the thread that ran
the command, so its locks never wait for another thread. A crash before that commit leaves
nothing behind (the retry runs the command); after it, the retry gets the stored response.

A request that loses a race to a concurrent duplicate (the key's unique index, or a refusal
because the first already changed the state) answers with the first's response.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Response
from fastapi.encoders import jsonable_encoder
from sqlmodel import Session, select

from workflow.errors import DomainError
from workflow.models import IdempotencyRecord
from workflow.transaction import (
    IdempotencyClaim,
    abandon,
    awaiting_response,
    current_claim,
    record_response,
)

MARK = "__accord_idempotent__"
REPLAYED = {"Idempotent-Replayed": "true"}
# Headers an endpoint set on its injected Response that the stored answer keeps (ETag, ...).
_OWN_HEADERS = frozenset({"content-length", "content-type"})

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def idempotent(endpoint: Endpoint) -> Endpoint:
    """Mark a route that takes `Idempotency-Key`: its answer is committed with its command.

    The endpoint must take `session: SessionDep`; the dependency refuses a keyed request to a
    route without this mark, so no command can be left waiting for a response.
    """
    if inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"{endpoint.__name__}: @idempotent commits in the endpoint's thread")

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        session: Session = kwargs["session"]
        claim = current_claim(session)
        if claim is None:
            return endpoint(*args, **kwargs)
        try:
            result = endpoint(*args, **kwargs)
            if not awaiting_response(session):
                return result  # the route ran no command (or refused): nothing to store
            if isinstance(result, Response):
                status, body = result.status_code, bytes(result.body).decode()
            else:
                status, body = claim.status_code, json.dumps(jsonable_encoder(result))
            record_response(session, status, body)
        except DomainError:
            abandon(session)
            stored = stored_response(session, claim)
            if stored is None:
                raise
            return replay(*stored)
        except BaseException:
            abandon(session)
            raise
        headers = {k: v for k, v in _set_headers(kwargs).items() if k not in _OWN_HEADERS}
        return Response(body, status, headers, media_type="application/json")

    setattr(run, MARK, True)
    return run  # type: ignore[return-value]


def _set_headers(kwargs: dict[str, Any]) -> dict[str, str]:
    response = kwargs.get("response")
    return dict(response.headers) if isinstance(response, Response) else {}


def is_idempotent(endpoint: object) -> bool:
    return bool(getattr(endpoint, MARK, False))


def stored_response(session: Session, claim: IdempotencyClaim) -> tuple[int, str] | None:
    """The answer a concurrent duplicate committed for this key and request (not the expired
    record this request replaces)."""
    record = session.exec(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == claim.user_id,
            IdempotencyRecord.key == claim.key,
            IdempotencyRecord.request_hash == claim.request_hash,
        )
    ).first()
    session.rollback()
    if (
        record is None
        or record.id == claim.replaces_id
        or record.status_code is None
        or record.response_body is None
    ):
        return None
    return record.status_code, record.response_body


def replay(status_code: int, body: str) -> Response:
    return Response(body, status_code, REPLAYED, media_type="application/json")
