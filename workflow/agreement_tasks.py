"""Open tasks about the agreement rather than one version's content follow it to the version
in force (`states.GovernanceCalendar.agreement_task_kinds`): a revision or an extension that
supersedes a version leaves its annual review, service reviews, renewal decision and action
items open on the new one instead of cancelling them with the old."""

from __future__ import annotations

from sqlmodel import Session, col, select

from states import LIFECYCLE, TaskState
from workflow.models import AgreementVersion, Task


def follow_the_agreement(
    session: Session, from_version_id: int | None, to_version: AgreementVersion
) -> list[int]:
    """Move the open agreement tasks of `from_version_id` to `to_version`; their ids."""
    if from_version_id is None:
        return []
    tasks = session.exec(
        select(Task).where(
            Task.version_id == from_version_id,
            Task.state == TaskState.OPEN,
            col(Task.kind).in_(LIFECYCLE.governance.agreement_task_kinds),
        )
    ).all()
    for task in tasks:
        task.version_id = to_version.id
        task.cycle = to_version.cycle
        session.add(task)
    return [t.id for t in tasks if t.id is not None]
