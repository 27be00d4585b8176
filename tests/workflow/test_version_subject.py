"""Opening a task keeps the command's view of the version's tasks exact."""

from __future__ import annotations

from sqlmodel import Session, select

from states import LIFECYCLE
from tests.helpers import make_world
from workflow.command import command
from workflow.models import Agreement, Task
from workflow.subjects.version import VersionSubject, open_task


def test_a_task_opened_before_the_list_was_read_is_listed_once(session: Session) -> None:
    world = make_world(session)
    agreement = world.create()
    version = world.version(agreement)
    with command(session) as tx:
        locked = session.get(Agreement, agreement.id)
        assert locked is not None
        subject = VersionSubject(tx, locked, version, now=world.tick())
        template = LIFECYCLE.transition("submit_for_review").opens[0]
        open_task(subject, template, grant=None, now=world.now)
        stored = session.exec(select(Task.id).where(Task.version_id == version.id)).all()
        assert [t.id for t in subject.tasks] == list(stored)
        tx.rollback()
