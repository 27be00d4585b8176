"""Effects keep the command's view of the version's tasks exact."""

from __future__ import annotations

from sqlmodel import Session, select

from states import LIFECYCLE
from tests.helpers import make_world
from workflow.db import begin_write
from workflow.effects import open_task
from workflow.guards import VersionContext
from workflow.models import Agreement, Task


def test_a_task_opened_before_the_list_was_read_is_listed_once(session: Session) -> None:
    world = make_world(session)
    agreement = world.create()
    version = world.version(agreement)
    begin_write(session)
    locked = session.get(Agreement, agreement.id)
    assert locked is not None
    ctx = VersionContext(session, locked, version, now=world.tick())
    template = LIFECYCLE.transition("submit_for_review").opens[0]
    open_task(ctx, template, grant=None, now=world.now)
    stored = session.exec(select(Task.id).where(Task.version_id == version.id)).all()
    assert [t.id for t in ctx.tasks] == list(stored)
    session.rollback()
