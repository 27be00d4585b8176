"""Two scheduler processes on one database at the same moment: every email exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import Session, col, func, select

from states import Role
from tests.helpers import C, make_world
from workflow.models import NotificationDelivery, OutboxMessage

RUN_ONCE = "from api.cli import main; main()"


def test_two_processes_running_every_job_send_each_email_once(
    session: Session, database_url: str, tmp_path: Path
) -> None:
    world = make_world(session)
    for _ in range(6):
        agreement = world.create()
        world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    # Eleven days on, every review task is overdue: reminders and escalations are due too.
    command = [sys.executable, "-c", RUN_ONCE, "--database-url", database_url, "jobs"]
    command += ["run-once", "--now", "2026-11-13T09:00"]
    processes = []
    for n in (1, 2):
        env = {
            **os.environ,
            "ACCORD_MAIL_BACKEND": "file",
            "ACCORD_MAIL_DIR": str(tmp_path / f"mail{n}"),
        }
        processes.append(
            subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, (out, err)

    first = {p.name for p in (tmp_path / "mail1").glob("*.eml")}
    second = {p.name for p in (tmp_path / "mail2").glob("*.eml")}
    assert not first & second, "an email was sent by both processes"
    session.rollback()
    statuses = session.exec(select(OutboxMessage.status).distinct()).all()
    assert statuses == ["sent"]
    emailed = session.exec(
        select(func.count()).where(col(NotificationDelivery.channel).in_(("to",)))
    ).one()
    reminders = session.exec(
        select(func.count()).where(col(OutboxMessage.dedupe_key).startswith("reminder:"))
    ).one()
    assert reminders == 12  # one newest reminder per review task, from one process only
    assert len(first | second) == emailed
