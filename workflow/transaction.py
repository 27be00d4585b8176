"""The end of every command: one commit, with errors turned into domain refusals."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from workflow.errors import Conflict, StaleVersion
from workflow.models import IdempotencyRecord

IDEMPOTENCY_INFO_KEY = "accord.idempotency"


@dataclass(frozen=True)
class IdempotencyClaim:
    """Set on a session by the caller; the command's commit records it atomically."""

    user_id: int
    key: str
    request_hash: str
    replaces_id: int | None = None  # an expired record with the same key


def claim_idempotency(session: Session, claim: IdempotencyClaim) -> None:
    session.info[IDEMPOTENCY_INFO_KEY] = claim


STALE_MESSAGE = "someone changed this while you were working; reload it"


def flush(session: Session) -> None:
    """Flush inside a command; a lost optimistic-lock race is a 409 here as at commit."""
    try:
        session.flush()
    except StaleDataError as exc:
        session.rollback()
        raise StaleVersion(STALE_MESSAGE) from exc


@contextmanager
def command_body(session: Session) -> Iterator[None]:
    """Run a command's reads and effects: without autoflush, stale rows refused with a 409.

    Commands read first and write at the end, so autoflush would only add a flush before
    every query; the effects flush explicitly where they need ids or the new lock_version.
    A flush anywhere in the body that loses an optimistic-lock race becomes StaleVersion.
    """
    try:
        with session.no_autoflush:
            yield
    except StaleDataError as exc:
        session.rollback()
        raise StaleVersion(STALE_MESSAGE) from exc


def commit(session: Session) -> None:
    """Commit the command's one transaction, recording its idempotency key with it."""
    claim: IdempotencyClaim | None = session.info.pop(IDEMPOTENCY_INFO_KEY, None)
    if claim is not None:
        if claim.replaces_id is not None:
            expired = session.get(IdempotencyRecord, claim.replaces_id)
            if expired is not None:
                session.delete(expired)
                session.flush()
        session.add(
            IdempotencyRecord(user_id=claim.user_id, key=claim.key, request_hash=claim.request_hash)
        )
    try:
        session.commit()
    except StaleDataError as exc:
        session.rollback()
        raise StaleVersion(STALE_MESSAGE) from exc
    except IntegrityError as exc:
        session.rollback()
        if claim is not None and "idempotency" in str(exc.orig).lower():
            raise Conflict(
                "a request with this Idempotency-Key is already being processed"
            ) from exc
        raise Conflict(f"conflicts with existing data: {_first_line(exc)}") from exc


def _first_line(exc: IntegrityError) -> str:
    return str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
