"""What each person chose to receive, per topic group, and the key that signs email links."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from workflow.models.base import one_of, utcnow

# The topic groups a person chooses for (notifications.preferences maps topics to them).
TOPIC_GROUPS = ("tasks", "decisions", "reports", "governance")
# immediate: one email per event; digest: in the next daily digest; off: not at all.
PREFERENCE_MODES = ("immediate", "digest", "off")
# A task is work someone waits for: its emails can be delayed to the digest, never silenced.
UNSILENCEABLE_GROUPS = ("tasks",)


class NotificationPreference(SQLModel, table=True):
    """One person's choice for one topic group; no row means their role's default."""

    __tablename__ = "notification_preference"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "topic_group", name="uq_preference_user_group"),
        one_of("topic_group", TOPIC_GROUPS),
        one_of("mode", PREFERENCE_MODES),
        sa.CheckConstraint(
            "NOT (topic_group = 'tasks' AND mode = 'off')", name="ck_tasks_never_off"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    topic_group: str = Field(max_length=20)
    mode: str = Field(max_length=10)
    updated_at: datetime = Field(default_factory=utcnow)


class NotificationLinkKey(SQLModel, table=True):
    """The one key that signs the manage and unsubscribe links in emails.

    Kept in the database rather than derived from ACCORD_SECRET_KEY: the dispatcher and the
    web server are often different processes, and without a configured secret each process
    draws its own, so a link signed by one would fail in the other.
    """

    __tablename__ = "notification_link_key"

    id: int = Field(primary_key=True)  # always 1
    secret: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
