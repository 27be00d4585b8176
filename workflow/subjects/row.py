"""The frame shared by the subjects whose state is the `state` column of one row of their own (a
proposal, an extension, a corrective action, a reporting period), as opposed to a version's:
the row's tasks (the tasks pointing at it by `task_link`), cancelling and announcing them, the
grants, and which open task an actor holds, in person or as a delegate."""

from __future__ import annotations

from datetime import date, datetime
from functools import cached_property
from typing import Any, ClassVar, Protocol

import sqlalchemy as sa
from sqlmodel import col, select

from states import TaskState
from workflow.access import Actor, Grant
from workflow.announcements import announce_task
from workflow.command import Command
from workflow.models import Agreement, Task
from workflow.permissions import actor_grants
from workflow.scope import AgreementScope


class StatefulRow(Protocol):
    id: int | None
    state: str


class RowSubject(AgreementScope):
    """One row's machine on one agreement, read under the agreement's lock."""

    # The Task column that points at the row: the row's tasks are those, in id order.
    task_link: ClassVar[str]

    def __init__(self, tx: Command, agreement: Agreement, row: StatefulRow) -> None:
        super().__init__(tx.session, agreement)
        self.tx = tx
        self.row = row

    @property
    def state(self) -> str:
        return self.row.state

    @state.setter
    def state(self, value: str) -> None:
        self.row.state = value

    @cached_property
    def tasks(self) -> list[Task]:
        # Flushed first so tasks added in this command are read back with their ids.
        self.session.flush()
        query = (
            select(Task)
            .where(getattr(Task, self.task_link) == sa.bindparam("row_id"))
            .order_by(col(Task.id))
            .execution_options(populate_existing=True)
        )
        return list(self.session.exec(query, params={"row_id": self.row.id}).all())

    def open_tasks(self, kind: str | None = None) -> list[Task]:
        return [t for t in self.tasks if t.state == TaskState.OPEN and kind in (None, t.kind)]

    def cancels(self, task: Task) -> bool:
        """Whether leaving the state cancels this open task (all of them, unless overridden)."""
        return True

    def cancel_open_tasks(self, now: datetime) -> list[int]:
        cancelled = []
        for task in self.open_tasks():
            if self.cancels(task):
                task.state, task.completed_at, task.next_step_at = TaskState.CANCELLED, now, None
                self.session.add(task)
                cancelled.append(task.id)
        return [t for t in cancelled if t is not None]

    def track(self, opened: list[Task]) -> list[Task]:
        """New tasks of the row, added to the session (not flushed) and to `tasks` if read."""
        self.session.add_all(opened)
        if "tasks" in self.__dict__:
            self.tasks.extend(opened)
        return opened

    def payload(self) -> dict[str, Any]:
        """What every message about the row carries."""
        raise NotImplementedError

    def announce_tasks(self, tasks: list[Task], now: datetime) -> None:
        for task in tasks:
            announce_task(self.tx, task, about=self.payload(), now=now)

    def grants(self, actor: Actor, day: date) -> list[Grant]:
        return actor_grants(self.session, self.agreement, actor, day)

    def held_task(self, actor: Actor, kind: str, day: date) -> tuple[Task, int | None] | None:
        """The open task of `kind` the actor holds, and whom they act for (None: themselves);
        their own first, then their delegators' in order."""
        tasks = self.open_tasks(kind)
        for principal in (actor.user_id, *self.delegators(actor.user_id, day)):
            for task in tasks:
                if task.assignee_id == principal:
                    return task, None if principal == actor.user_id else principal
        return None
