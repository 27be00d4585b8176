"""The demo's mail, before and after notification preferences (issue 11, defect 10).

The same events are mailed twice: once with everyone asking for everything immediately (the
first release's behaviour: every decision to all 18 stakeholders), once with the defaults.
Each run is dispatched day by day as the story happened, with the daily digests compiled at
each midnight, so a digest counts as the one email it is. With the defaults the demo sends
at most a third of the emails, and every task email still goes out at once.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.demo import load_demo
from notifications.digest import compile_digests
from notifications.dispatch import dispatch_pending
from notifications.emails import template_renderer, template_summary
from notifications.preferences import group_of
from notifications.senders import MemorySender
from workflow.commands.notifications import set_notification_preferences
from workflow.models import OutboxMessage, User
from workflow.models.notifications import TOPIC_GROUPS

BASE_URL = "https://accord.test"
Sent = list[tuple[str, int, str]]  # (topic, outbox id, addressee)


def mail_the_story(engine: Engine) -> Sent:
    """Dispatch every outbox row on the day it was written, digests at each midnight."""
    sender = MemorySender()
    renderer = template_renderer(sender="Accord <accord@accord.test>", base_url=BASE_URL)
    with Session(engine) as session:
        created = session.exec(select(OutboxMessage.created_at)).all()
    day, last = min(created).astimezone(UTC).date(), max(created).astimezone(UTC).date()
    while day <= last + timedelta(days=1):
        compile_digests(
            engine,
            now=datetime.combine(day, time(0, 5), tzinfo=UTC),
            summarise=template_summary(base_url=BASE_URL),
        )
        counts = dispatch_pending(
            engine,
            sender=sender,
            renderer=renderer,
            now=datetime.combine(day, time(23, 55), tzinfo=UTC),
            max_batches=1000,
        )
        assert (counts.dead, counts.retrying) == (0, 0)
        day += timedelta(days=1)
    with Session(engine) as session:
        topics = dict(session.exec(select(OutboxMessage.id, OutboxMessage.topic)).all())
    sent: Sent = []
    for email in sender.sent:
        outbox_id = int(str(email["Message-ID"]).split("-")[1].split(".")[0])
        sent.append((topics[outbox_id], outbox_id, str(email["To"].addresses[0].addr_spec)))
    return sent


def everyone_chooses(engine: Engine, choice: str) -> None:
    with Session(engine, expire_on_commit=False) as session:
        user_ids = session.exec(select(User.id)).all()
        session.rollback()
        for user_id in user_ids:
            assert user_id is not None
            set_notification_preferences(
                session,
                actor=None,
                user_id=user_id,
                choices=dict.fromkeys(TOPIC_GROUPS, choice),
                now=datetime.now(UTC),
            )


def unsend(engine: Engine) -> None:
    """The outbox as the demo left it: nothing delivered, no digest made."""
    outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM notification_delivery"))
        connection.execute(sa.delete(outbox).where(outbox.c.topic == "digest.daily"))
        connection.execute(
            sa.update(outbox).values(
                status="pending",
                attempts=0,
                next_attempt_at=outbox.c.created_at,
                leased_until=None,
                last_error=None,
                sent_at=None,
            )
        )


def by_kind(sent: Sent) -> Counter[str]:
    return Counter(group_of(topic) or topic for topic, _, _ in sent)


def test_the_demo_sends_a_third_of_the_emails_and_every_task_email(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        load_demo(session, now=datetime.now(UTC), password="demo password 1")
    everyone_chooses(engine, "immediate")
    before = mail_the_story(engine)
    unsend(engine)
    everyone_chooses(engine, "default")
    after = mail_the_story(engine)

    assert len(before) >= 300, by_kind(before)  # the noise issue 11 measured
    assert len(after) * 3 <= len(before), (by_kind(before), by_kind(after))
    tasks_before = sorted(s for s in before if group_of(s[0]) == "tasks")
    tasks_after = sorted(s for s in after if group_of(s[0]) == "tasks")
    assert tasks_before, "the demo opens tasks"
    assert tasks_after == tasks_before  # each one, to the same person, immediately
    assert by_kind(before)["digest.daily"] == 0
    assert by_kind(after)["digest.daily"] > 0  # the rest is read once a day
    with Session(engine) as session:
        assert (
            session.exec(
                select(sa.func.count())
                .select_from(OutboxMessage)
                .where(col(OutboxMessage.status) != "sent")
            ).one()
            == 0
        )
    print(f"demo emails: before {len(before)} {dict(by_kind(before))}")
    print(f"demo emails: after {len(after)} {dict(by_kind(after))}")
