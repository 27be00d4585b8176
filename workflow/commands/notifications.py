"""Notification commands on the system chain: requeue a dead message, choose a delivery mode,
choose per topic group what to receive."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlmodel import Session, col, select

from workflow.access import Actor
from workflow.command import command
from workflow.errors import Conflict, Forbidden, InvalidInput, NotFound
from workflow.models import NotificationPreference, OutboxMessage, OutboxStatus, User
from workflow.models.notifications import PREFERENCE_MODES, TOPIC_GROUPS, UNSILENCEABLE_GROUPS
from workflow.models.parties import NOTIFICATION_MODES

# A group's choice: a mode, or "default" (what the person's role gets; no row stored).
DEFAULT_CHOICE = "default"
TASKS_NEVER_OFF = (
    "task emails cannot be switched off while the task is yours; choose digest to get them "
    "once a day"
)


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


def _preference_errors(choices: Mapping[str, str]) -> list[dict[str, str]]:
    errors = []
    for group, choice in choices.items():
        if group not in TOPIC_GROUPS:
            errors.append({"field": group, "message": f"one of {', '.join(TOPIC_GROUPS)}"})
        elif choice not in (*PREFERENCE_MODES, DEFAULT_CHOICE):
            allowed = ", ".join((*PREFERENCE_MODES, DEFAULT_CHOICE))
            errors.append({"field": group, "message": f"one of {allowed}"})
        elif group in UNSILENCEABLE_GROUPS and choice == "off":
            errors.append({"field": group, "message": TASKS_NEVER_OFF})
    return errors


def notification_choices(session: Session, user_id: int) -> dict[str, str]:
    """The user's choice per topic group: a mode, or "default"."""
    chosen = {
        p.topic_group: p.mode
        for p in session.exec(
            select(NotificationPreference).where(NotificationPreference.user_id == user_id)
        )
    }
    return {group: chosen.get(group, DEFAULT_CHOICE) for group in TOPIC_GROUPS}


def set_notification_preferences(
    session: Session,
    *,
    actor: Actor | None,
    user_id: int,
    choices: Mapping[str, str],
    now: datetime,
    via: str = "settings",
) -> dict[str, str]:
    """Choose, per topic group, immediate, digest, off or back to the role's default.

    Groups not named keep their choice. Task emails are never off (422). `actor` None is a
    signed email link, which already names the user; `via` says which ("settings", "link",
    "one-click") in the audit event. Choosing what is already chosen changes nothing and is
    not audited, so a repeated one-click unsubscribe is harmless.
    """
    with command(session) as tx:
        errors = _preference_errors(choices)
        if errors:
            raise InvalidInput("invalid notification preferences", errors)
        if actor is not None and not actor.is_admin and actor.user_id != user_id:
            raise Forbidden("you may only choose your own notifications")
        # The user's row is the lock: two first choices for one group cannot both insert.
        if (
            session.exec(select(User.id).where(User.id == user_id).with_for_update()).first()
            is None
        ):
            raise NotFound("no such user")
        rows = {
            p.topic_group: p
            for p in session.exec(
                select(NotificationPreference)
                .where(
                    NotificationPreference.user_id == user_id,
                    col(NotificationPreference.topic_group).in_(list(choices)),
                )
                .with_for_update()
            )
        }
        changed: dict[str, dict[str, str]] = {}
        for group, choice in choices.items():
            row = rows.get(group)
            before = row.mode if row is not None else DEFAULT_CHOICE
            if before == choice:
                continue
            changed[group] = {"from": before, "to": choice}
            if choice == DEFAULT_CHOICE:
                assert row is not None
                session.delete(row)
            elif row is None:
                session.add(
                    NotificationPreference(
                        user_id=user_id, topic_group=group, mode=choice, updated_at=now
                    )
                )
            else:
                row.mode, row.updated_at = choice, now
                session.add(row)
        if changed:
            session.flush()
            tx.audit(
                action="user.notification_preferences_changed",
                now=now,
                actor_id=actor.user_id if actor else None,
                data={"user_id": user_id, "via": via, "changes": changed},
            )
        return notification_choices(session, user_id)
