"""Who received which outbox row: `NotificationDelivery` rows, recorded as emails go out so
that a retry never mails the same person twice."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from notifications.recipients import Envelope
from workflow.db import begin_write
from workflow.models import NotificationDelivery

_DELIVERY = NotificationDelivery.__table__  # type: ignore[attr-defined]

_RECORD = {
    name: dialect.insert(_DELIVERY).on_conflict_do_nothing(index_elements=["outbox_id", "user_id"])
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def delivery_rows(
    outbox_id: int, envelopes: Iterable[Envelope], digest: Iterable[Any], now: datetime
) -> list[dict[str, Any]]:
    rows = []
    for envelope in envelopes:
        for recipient, channel in [(envelope.to, "to"), *((c, "cc") for c in envelope.cc)]:
            rows.append(
                {
                    "outbox_id": outbox_id,
                    "user_id": recipient.user_id,
                    "channel": channel,
                    "reason": recipient.reason,
                    "recorded_at": now,
                    "digest_key": None,
                }
            )
    for recipient in digest:
        rows.append(
            {
                "outbox_id": outbox_id,
                "user_id": recipient.user_id,
                "channel": "digest",
                "reason": recipient.reason,
                "recorded_at": now,
                "digest_key": None,
            }
        )
    return rows


def record_deliveries(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection = session.connection()
        connection.execute(_RECORD[connection.dialect.name], rows)


def write_deliveries(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Record who an email reached, before the next one is sent."""
    with Session(engine) as session:
        begin_write(session)
        record_deliveries(session, rows)
        session.commit()
