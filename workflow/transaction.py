"""The end of every command: one commit, with errors turned into domain refusals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from workflow.db import PENDING_RESPONSE_KEY
from workflow.errors import Conflict, StaleVersion
from workflow.models import IdempotencyRecord

IDEMPOTENCY_INFO_KEY = "accord.idempotency"
DUPLICATE_MESSAGE = "a request with this Idempotency-Key was processed meanwhile"


class DuplicateRequest(Conflict):
    """Another request with the same key committed first: its response is the answer."""


@dataclass(frozen=True)
class IdempotencyClaim:
    """Set on a session by the caller; the command's commit records it atomically."""

    user_id: int
    key: str
    request_hash: str
    replaces_id: int | None = None  # an expired (or never answered) record with the same key
    status_code: int = 200  # what the route answers when its command succeeds
    created_at: datetime | None = None  # the request's clock (the TTL is judged by it)


def claim_idempotency(session: Session, claim: IdempotencyClaim) -> None:
    session.info[IDEMPOTENCY_INFO_KEY] = claim


def current_claim(session: Session) -> IdempotencyClaim | None:
    claim: IdempotencyClaim | None = session.info.get(IDEMPOTENCY_INFO_KEY)
    return claim


def abandon(session: Session) -> None:
    """Roll the request's transaction back, claim and pending response with it."""
    session.info.pop(IDEMPOTENCY_INFO_KEY, None)
    session.info.pop(PENDING_RESPONSE_KEY, None)
    session.rollback()


def awaiting_response(session: Session) -> bool:
    """A command ran under an idempotency claim and its transaction waits for the response."""
    return PENDING_RESPONSE_KEY in session.info


def record_response(session: Session, status_code: int, body: str) -> None:
    """Commit the command's transaction with the response its key will replay.

    The command's effects, the key and the response become durable together: a crash before
    this leaves nothing (a retry runs the command), a crash after it leaves the response (a
    retry gets it), so a key is never stuck between the two.
    """
    record: IdempotencyRecord = session.info.pop(PENDING_RESPONSE_KEY)
    record.status_code = status_code
    record.response_body = body
    _commit_or_refuse(session, claimed=True)


STALE_MESSAGE = "someone changed this while you were working; reload it"


def flush(session: Session) -> None:
    """Flush inside a command; a lost optimistic-lock race is a 409 here as at commit."""
    try:
        session.flush()
    except StaleDataError as exc:
        session.rollback()
        raise StaleVersion(STALE_MESSAGE) from exc


def commit(session: Session) -> None:
    """Commit the command's one transaction, recording its idempotency key with it.

    Under an idempotency claim the key is written and flushed here, but the commit waits for
    `record_response`, so the response is stored in the same transaction as the effects.
    """
    if awaiting_response(session):
        flush(session)  # a second commit in one request stays inside the one transaction
        return
    claim: IdempotencyClaim | None = session.info.pop(IDEMPOTENCY_INFO_KEY, None)
    if claim is None:
        _commit_or_refuse(session, claimed=False)
        return
    if claim.replaces_id is not None:
        stale = session.get(IdempotencyRecord, claim.replaces_id)
        if stale is not None:
            session.delete(stale)
            flush(session)
    record = IdempotencyRecord(
        user_id=claim.user_id, key=claim.key, request_hash=claim.request_hash
    )
    if claim.created_at is not None:
        record.created_at = claim.created_at
    session.add(record)
    try:
        # On PostgreSQL a concurrent request with the same key waits here for the first.
        flush(session)
    except IntegrityError as exc:
        session.rollback()
        if "idempotency" in str(exc.orig).lower():
            raise DuplicateRequest(DUPLICATE_MESSAGE) from exc
        raise Conflict(f"conflicts with existing data: {_first_line(exc)}") from exc
    session.info[PENDING_RESPONSE_KEY] = record


def _commit_or_refuse(session: Session, *, claimed: bool) -> None:
    try:
        session.commit()
    except StaleDataError as exc:
        session.rollback()
        raise StaleVersion(STALE_MESSAGE) from exc
    except IntegrityError as exc:
        session.rollback()
        if claimed and "idempotency" in str(exc.orig).lower():
            raise DuplicateRequest(DUPLICATE_MESSAGE) from exc
        raise Conflict(f"conflicts with existing data: {_first_line(exc)}") from exc


def _first_line(exc: IntegrityError) -> str:
    return str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
