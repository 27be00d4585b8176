"""The frame every command runs in: one write transaction, committed in one visible place.

    with command(session) as tx:
        ...read under the locks, decide, change rows...
        tx.audit(action=..., ...)      # appended to the agreement's hash chain
        tx.enqueue(topic=..., ...)     # an outbox message, deduplicated by its key

On a clean exit the frame writes the command's audit events (one INSERT, then the chain heads
it moved) and its outbox messages (one INSERT that skips keys already stored), then commits.
On any exception it rolls everything back, so a refusal leaves nothing behind and no caller
needs to clean up. Nothing is written by listeners or kept on the session between commands.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from workflow.audit_trail import AuditTrail
from workflow.db import begin_write
from workflow.errors import StaleVersion
from workflow.outbox import Outbox
from workflow.transaction import STALE_MESSAGE, commit


class Command:
    """One command's transaction: its session, and what its commit writes besides rows."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.trail = AuditTrail()
        self.outbox = Outbox()
        self.finished = False

    def audit(
        self,
        *,
        action: str,
        now: datetime,
        agreement_id: int | None = None,
        version_id: int | None = None,
        actor_id: int | None = None,
        on_behalf_of_id: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Append one event to the agreement's chain (or the system chain)."""
        self.trail.append(
            self.session.connection(),
            action=action,
            now=now,
            agreement_id=agreement_id,
            version_id=version_id,
            actor_id=actor_id,
            on_behalf_of_id=on_behalf_of_id,
            data=data,
        )

    def enqueue(
        self,
        *,
        topic: str,
        dedupe_key: str,
        now: datetime,
        recipients: dict[str, Any],
        payload: dict[str, Any],
        agreement_id: int | None = None,
    ) -> None:
        """Queue one message; one already stored with the same dedupe key wins silently."""
        self.outbox.add(
            topic=topic,
            dedupe_key=dedupe_key,
            now=now,
            recipients=recipients,
            payload=payload,
            agreement_id=agreement_id,
        )

    def commit(self) -> None:
        """Write the audit events and outbox messages, then commit.

        Under an idempotency claim the transaction stays open for the response (see
        `workflow.transaction.commit`), with everything above already written into it.
        """
        connection = self.session.connection()
        self.trail.write(connection)
        self.outbox.write(connection)
        self.finished = True
        commit(self.session)

    def rollback(self) -> None:
        """Give the command up without error: nothing it did is kept."""
        self.finished = True
        self.session.rollback()


@contextmanager
def command(session: Session) -> Iterator[Command]:
    """Run one command: begin the write transaction, commit on success, roll back on error.

    Commands read first and write at the end, so autoflush is off (it would only add a flush
    before every query); a flush that loses an optimistic-lock race becomes a 409.
    """
    begin_write(session)
    tx = Command(session)
    try:
        with session.no_autoflush:
            yield tx
            if not tx.finished:
                tx.commit()
    except StaleDataError as exc:
        session.rollback()
        raise StaleVersion(STALE_MESSAGE) from exc
    except BaseException:
        session.rollback()
        raise
