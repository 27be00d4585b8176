"""SIGTERM during a dispatch batch: the process ends within 10 s, the email being sent is
marked, and what it had not sent yet is released for the next process, never lost or doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from states import Role
from tests.helpers import C, make_world
from tests.notifications.smtp import HOST, Mailbox, free_port, smtp_server
from workflow.models import NotificationDelivery, OutboxMessage

MAIN = "from api.cli import main; main()"
GRACE_SECONDS = 10.0


def _queue_real_emails(session: Session, agreements: int) -> int:
    """Review requests and task emails, as submitting drafts for review queues them."""
    world = make_world(session)
    for _ in range(agreements):
        world.fire(world.create(), "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    session.rollback()
    return len(session.exec(select(OutboxMessage.id)).all())


@pytest.mark.parametrize(
    "command", ["scheduler", "serve"], ids=["accord scheduler", "accord serve"]
)
def test_sigterm_mid_batch_stops_within_ten_seconds_and_releases_the_rest(
    session: Session, database_url: str, tmp_path: Path, command: str
) -> None:
    queued = _queue_real_emails(session, 6)
    mailbox = Mailbox(delay=0.5)  # a slow server: the batch would take far over 10 s
    port = free_port()
    env = {
        **os.environ,
        "ACCORD_MAIL_BACKEND": "smtp",
        "ACCORD_SMTP_HOST": HOST,
        "ACCORD_SMTP_PORT": str(port),
        "ACCORD_SMTP_TIMEOUT_SECONDS": "5",
        "ACCORD_SMTP_LOCAL_HOSTNAME": "client.accord.test",
        "ACCORD_DATABASE_URL": database_url,
    }
    with smtp_server(mailbox, port=port):
        process = subprocess.Popen(
            [sys.executable, "-c", MAIN, "--database-url", database_url, command]
            + (["--port", str(free_port())] if command == "serve" else []),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        try:
            assert mailbox.in_data.wait(60.0), "the dispatcher never reached DATA"
            time.sleep(1.0)  # a few emails in
            asked = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)
            took = time.monotonic() - asked
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)
    assert took < GRACE_SECONDS, f"shutdown took {took:.1f} s"
    session.rollback()
    found = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
    sent = [m for m in found if m.status == "sent"]
    waiting = [m for m in found if m.status == "pending"]
    # (The process's own sweep may have queued reminders too: it runs on today's clock.)
    assert len(sent) + len(waiting) == len(found) >= queued
    assert sent
    assert waiting
    # Every email that went out is recorded once, whether its message was finished or not.
    delivered = session.exec(
        select(NotificationDelivery.outbox_id, NotificationDelivery.user_id).where(
            NotificationDelivery.channel != "digest"
        )
    ).all()
    assert len(delivered) == len(set(delivered))
    assert len(mailbox.received) == len(delivered)
    assert {(m.attempts, m.leased_until) for m in waiting} == {(0, None)}  # all released
