"""The outbox as administrators see it: what was sent, what waits, what is dead and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from workflow.errors import NotFound
from workflow.models import NotificationDelivery, OutboxMessage
from workflow.models.records import OUTBOX_STATES
from workflow.queries.common import Slice, View, after_int, one_of, page_of


class NotificationView(View):
    id: int
    topic: str
    dedupe_key: str
    agreement_id: int | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    recipients: dict[str, Any]


class DeliveryView(View):
    user_id: int
    channel: str  # "to", "cc" or "digest"
    reason: str
    recorded_at: datetime
    digest_key: str | None


class NotificationDetail(NotificationView):
    payload: dict[str, Any]
    deliveries: list[DeliveryView]


# An invitation's or reset's one-use link token: only its addressee may read it.
SECRET_FIELDS = ("token",)
HIDDEN = "(hidden)"


def without_secrets(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: HIDDEN if k in SECRET_FIELDS else v for k, v in payload.items()}


def notification_view(message: OutboxMessage) -> NotificationView:
    return NotificationView.model_validate(message, from_attributes=True)


def list_notifications(
    session: Session,
    *,
    status: str | None = None,
    topic: str | None = None,
    limit: int = 50,
    after: list[Any] | None = None,
) -> Slice[NotificationView]:
    """Newest first; the cursor is the last id shown."""
    one_of("status", status, OUTBOX_STATES)
    stmt = select(OutboxMessage)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    if topic is not None:
        stmt = stmt.where(OutboxMessage.topic == topic)
    before = after_int(after)
    if before is not None:
        stmt = stmt.where(col(OutboxMessage.id) < before)
    stmt = stmt.order_by(col(OutboxMessage.id).desc()).limit(limit + 1)
    rows, next_after = page_of(list(session.exec(stmt).all()), limit, lambda m: [m.id])
    return Slice([notification_view(m) for m in rows], next_after)


def notification_detail(session: Session, outbox_id: int) -> NotificationDetail:
    message = session.get(OutboxMessage, outbox_id)
    if message is None:
        raise NotFound("no such notification")
    deliveries = session.exec(
        select(NotificationDelivery)
        .where(NotificationDelivery.outbox_id == outbox_id)
        .order_by(col(NotificationDelivery.id))
    ).all()
    return NotificationDetail(
        **notification_view(message).model_dump(),
        payload=without_secrets(message.payload),
        deliveries=[DeliveryView.model_validate(d, from_attributes=True) for d in deliveries],
    )
