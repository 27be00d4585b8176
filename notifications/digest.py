"""The daily digest: the shares kept for people who chose one email a day, sent as one row.

The dispatcher records a `NotificationDelivery` with channel "digest" for each such person
instead of mailing them. `compile_digests` (a scheduler job; run it as often as you like)
gathers every share recorded before today's midnight (UTC) into one `digest.daily` outbox row
per person, and stamps the shares with that row's dedupe key in the same transaction, so each
share is in exactly one digest however many schedulers run it. The digest row goes to the
person themselves and now (`immediate`), whatever their mode and delegations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from workflow.command import command
from workflow.models import NotificationDelivery, OutboxMessage, User

DIGEST_TOPIC = "digest.daily"

# One digest item from the message it summarises, the share (why the person got it) and
# the person.
Summarise = Callable[[OutboxMessage, NotificationDelivery, User], dict[str, Any]]


def basic_summary(
    message: OutboxMessage, share: NotificationDelivery, _user: User
) -> dict[str, Any]:
    """Topic and agreement only; the templates' renderer gives subject, summary and link."""
    agreement = message.payload.get("agreement")
    key = agreement.get("key") if isinstance(agreement, dict) else None
    return {
        "topic": message.topic,
        "subject": f"{message.topic} ({key})" if key else message.topic,
        "summary": "",
        "link": "",
        "outbox_id": message.id,
        "reason": share.reason,
    }


@dataclass(frozen=True)
class DigestCounts:
    digests: int = 0
    items: int = 0


def compile_digests(
    engine: Engine,
    *,
    now: datetime,
    summarise: Summarise = basic_summary,
    max_items: int = 5000,
) -> DigestCounts:
    """Queue one digest per person with shares from before today (UTC); one transaction."""
    cutoff = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
    with Session(engine, expire_on_commit=False) as session, command(session) as tx:
        rows = session.exec(
            select(NotificationDelivery, OutboxMessage)
            .join(OutboxMessage, col(OutboxMessage.id) == col(NotificationDelivery.outbox_id))
            .where(
                NotificationDelivery.channel == "digest",
                col(NotificationDelivery.digest_key).is_(None),
                NotificationDelivery.recorded_at < cutoff,
            )
            .order_by(col(NotificationDelivery.user_id), col(NotificationDelivery.id))
            .limit(max_items)
            .with_for_update(skip_locked=True, of=NotificationDelivery)
        ).all()
        if not rows:
            tx.rollback()
            return DigestCounts()
        by_user: dict[int, list[tuple[NotificationDelivery, OutboxMessage]]] = {}
        for share, message in rows:
            by_user.setdefault(share.user_id, []).append((share, message))
        users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(list(by_user))))}
        table = NotificationDelivery.__table__  # type: ignore[attr-defined]
        day = (cutoff - timedelta(days=1)).date().isoformat()
        for user_id, shares in by_user.items():
            # The first share's id makes the key unique even if a late share makes a second
            # digest for the same day.
            key = f"{DIGEST_TOPIC}:{user_id}:{day}:{shares[0][0].id}"
            session.connection().execute(
                sa.update(table)
                .where(table.c.id.in_([s.id for s, _ in shares]), table.c.digest_key.is_(None))
                .values(digest_key=key)
            )
            tx.enqueue(
                topic=DIGEST_TOPIC,
                dedupe_key=key,
                now=now,
                recipients={
                    "user_ids": [user_id],
                    "reason": "digest",
                    "immediate": True,
                    "delegate": False,
                },
                payload={
                    "date": day,
                    "items": [
                        summarise(message, share, users[user_id]) for share, message in shares
                    ],
                },
            )
    return DigestCounts(digests=len(by_user), items=len(rows))
