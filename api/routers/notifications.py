"""The outbox for administrators (list, inspect, requeue) and each user's delivery mode."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from api.deps import ActorDep, AdminDep, IdempotencyDep, NowDep, SessionDep
from api.idempotency import idempotent
from api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, page
from api.types import Id
from notifications.preferences import GroupView, group_views, roles_held
from workflow.commands.notifications import (
    notification_choices,
    retry_notification,
    set_notification_mode,
    set_notification_preferences,
)
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
Choice = Literal["immediate", "digest", "off", "default"]


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


class PreferenceChoices(BaseModel):
    """Per topic group: `immediate`, `digest`, `off` or `default` (your role's); a group left
    out keeps its choice. `tasks` cannot be `off` (422): task emails reach you while the task
    is yours."""

    model_config = ConfigDict(extra="forbid")

    tasks: Choice | None = None
    decisions: Choice | None = None
    reports: Choice | None = None
    governance: Choice | None = None


class PreferenceGroup(BaseModel):
    group: str
    label: str
    description: str
    choice: Choice
    default: Literal["immediate", "digest", "off"]
    effective: Literal["immediate", "digest", "off"]
    can_switch_off: bool


class NotificationPreferences(BaseModel):
    """What you receive per topic group. `default` and `effective` are for messages sent to
    every stakeholder of an agreement; what is addressed to you or your role comes
    immediately unless you chose otherwise. `mode` `digest` (notification-settings) holds
    back every immediate email for the daily digest."""

    mode: Mode
    groups: list[PreferenceGroup]


def _preferences(session: SessionDep, user_id: int) -> NotificationPreferences:
    user = session.get(User, user_id)
    assert user is not None
    views: list[GroupView] = group_views(
        notification_choices(session, user_id),
        roles_held(session, user_id),
        overall=user.notification_mode,
    )
    return NotificationPreferences.model_validate(
        {"mode": user.notification_mode, "groups": [v.__dict__ for v in views]}
    )


@router.get("/me/notification-preferences")
def get_my_preferences(session: SessionDep, actor: ActorDep) -> NotificationPreferences:
    """Your choice per topic group: my tasks, decisions on my agreements, reports, governance
    calendar."""
    return _preferences(session, actor.user_id)


@router.put("/me/notification-preferences", dependencies=[IdempotencyDep])
@idempotent
def put_my_preferences(
    body: PreferenceChoices, session: SessionDep, actor: ActorDep, now: NowDep
) -> NotificationPreferences:
    """Choose per topic group; 422 naming `tasks` for `off`."""
    set_notification_preferences(
        session,
        actor=actor,
        user_id=actor.user_id,
        choices=body.model_dump(exclude_none=True),
        now=now,
    )
    return _preferences(session, actor.user_id)
