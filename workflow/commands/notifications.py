"""Notification commands on the system chain: requeue a dead message, choose a delivery mode."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from workflow.access import Actor
from workflow.command import command
from workflow.errors import Conflict, Forbidden, InvalidInput, NotFound
from workflow.models import OutboxMessage, OutboxStatus, User
from workflow.models.parties import NOTIFICATION_MODES


def retry_notification(
    session: Session, *, actor: Actor | None, outbox_id: int, now: datetime
) -> OutboxMessage:
    """Requeue a dead message: pending, due now, with a fresh retry horizon.

    People an earlier attempt reached are not mailed again (the dispatcher skips them).
    """
    with command(session) as tx:
        if actor is not None and not actor.is_admin:
            raise Forbidden("only an administrator may do this")
        message = session.exec(
            select(OutboxMessage).where(OutboxMessage.id == outbox_id).with_for_update()
        ).first()
        if message is None:
            raise NotFound("no such notification")
        if message.status != OutboxStatus.DEAD:
            raise Conflict(f"only a dead notification can be retried; this one is {message.status}")
        previous_attempts, previous_error = message.attempts, message.last_error
        message.status = OutboxStatus.PENDING.value
        message.attempts = 0
        message.next_attempt_at = now
        session.add(message)
        tx.audit(
            action="notification.retried",
            now=now,
            actor_id=actor.user_id if actor else None,
            data={
                "outbox_id": message.id,
                "topic": message.topic,
                "dedupe_key": message.dedupe_key,
                "attempts": previous_attempts,
                "last_error": previous_error,
            },
        )
    return message


def set_notification_mode(
    session: Session, *, actor: Actor | None, user_id: int, mode: str, now: datetime
) -> User:
    """Immediate mail or one daily digest; users choose their own, administrators anyone's."""
    with command(session) as tx:
        if mode not in NOTIFICATION_MODES:
            raise InvalidInput(
                f"unknown notification mode {mode!r}",
                [{"field": "mode", "message": f"one of {', '.join(NOTIFICATION_MODES)}"}],
            )
        if actor is not None and not actor.is_admin and actor.user_id != user_id:
            raise Forbidden("you may only choose your own notification mode")
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("no such user")
        if user.notification_mode != mode:
            before = user.notification_mode
            user.notification_mode = mode
            session.add(user)
            tx.audit(
                action="user.notification_mode_changed",
                now=now,
                actor_id=actor.user_id if actor else None,
                data={"user_id": user_id, "from": before, "to": mode},
            )
    return user
