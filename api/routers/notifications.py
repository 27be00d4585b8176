"""The outbox for administrators (list, inspect, requeue) and each user's delivery mode."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from api.deps import ActorDep, AdminDep, IdempotencyDep, NowDep, SessionDep
from api.idempotency import idempotent
from api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, page
from api.types import Id
from workflow.commands.notifications import retry_notification, set_notification_mode
from workflow.models import User
from workflow.queries.notifications import (
    NotificationDetail,
    NotificationView,
    list_notifications,
    notification_detail,
    notification_view,
)

router = APIRouter(tags=["notifications"])

Mode = Literal["immediate", "digest"]


class NotificationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Mode


@router.get("/notifications")
def get_notifications(
    session: SessionDep,
    _admin: AdminDep,
    status: Annotated[str | None, Query(max_length=10, description="pending, sent or dead")] = None,
    topic: Annotated[str | None, Query(max_length=60, description="e.g. task.assigned")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[NotificationView]:
    """The outbox, newest first: status, attempts, next attempt and last error of each message."""
    return page(
        list_notifications(
            session, status=status, topic=topic, limit=limit, after=decode_cursor(cursor)
        )
    )


@router.get("/notifications/{notification_id}")
def get_notification(
    notification_id: Id, session: SessionDep, _admin: AdminDep
) -> NotificationDetail:
    """One message with its payload and everyone it has reached so far."""
    return notification_detail(session, notification_id)


@router.post("/notifications/{notification_id}/retry", dependencies=[IdempotencyDep])
@idempotent
def retry(
    notification_id: Id, session: SessionDep, admin: AdminDep, now: NowDep
) -> NotificationView:
    """Requeue a dead message (409 unless it is dead); people it reached are not mailed again."""
    message = retry_notification(session, actor=admin, outbox_id=notification_id, now=now)
    return notification_view(message)


@router.get("/me/notification-settings")
def get_my_settings(session: SessionDep, actor: ActorDep) -> NotificationSettings:
    user = session.get(User, actor.user_id)
    assert user is not None
    return NotificationSettings.model_validate({"mode": user.notification_mode})


@router.put("/me/notification-settings", dependencies=[IdempotencyDep])
@idempotent
def put_my_settings(
    body: NotificationSettings, session: SessionDep, actor: ActorDep, now: NowDep
) -> NotificationSettings:
    """`immediate`: each notification as it happens; `digest`: one email a day."""
    user = set_notification_mode(
        session, actor=actor, user_id=actor.user_id, mode=body.mode, now=now
    )
    return NotificationSettings.model_validate({"mode": user.notification_mode})
