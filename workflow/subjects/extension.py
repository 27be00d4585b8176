"""An extension of the period of performance as the engine's subject (`states.EXTENSION`).

Its tasks (one approval per Business Owner) belong to the extension, not to a version. A
command builds an `ExtensionSubject` from rows it read under the agreement lock; nothing here
commits.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cached_property
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import col, select

from states import (
    EXTENSION,
    LIFECYCLE,
    MachineSpec,
    Outcome,
    Role,
    Side,
    Transition,
    VersionState,
)
from workflow.access import Actor, Grant
from workflow.command import Command
from workflow.errors import Forbidden, InvalidInput, NotAllowedNow, NotFound
from workflow.models import Agreement, AgreementVersion, Extension, Task
from workflow.permissions import lock_agreement
from workflow.scope import AgreementScope
from workflow.subjects.row import RowSubject

# The version whose period an extension moves: the newest that came into force and has not been
# replaced. Active or expired, it is extended; terminated, the agreement ended for good.
_NEWEST_IN_FORCE = (
    select(AgreementVersion)
    .where(
        AgreementVersion.agreement_id == sa.bindparam("agreement_id"),
        col(AgreementVersion.state).in_(
            (VersionState.ACTIVE, VersionState.EXPIRED, VersionState.TERMINATED)
        ),
    )
    .order_by(col(AgreementVersion.number).desc())
    .limit(1)
    .execution_options(populate_existing=True)
)


def current_version(scope: AgreementScope) -> AgreementVersion | None:
    """The version in force, or the newest expired one when none is (None once terminated)."""
    newest = scope.session.exec(
        _NEWEST_IN_FORCE, params={"agreement_id": scope.agreement.id}
    ).first()
    if newest is None or newest.state == VersionState.TERMINATED:
        return None
    return newest


class ExtensionSubject(RowSubject):
    """One extension request of one agreement."""

    spec: ClassVar[MachineSpec] = EXTENSION
    task_link: ClassVar[str] = "extension_id"
    check_event_first: ClassVar[bool] = False

    def __init__(
        self,
        tx: Command,
        agreement: Agreement,
        extension: Extension,
        *,
        now: datetime,
        comment: str | None = None,
    ) -> None:
        super().__init__(tx, agreement, extension)
        self.extension = extension
        self.now = now
        self.comment = comment

    @property
    def title(self) -> str:
        return f"the extension to {self.extension.new_end_date}"

    @cached_property
    def source_version(self) -> AgreementVersion | None:
        return current_version(self)

    # ---- guards (names from states.EXTENSION.guards) -------------------------------------------

    def extends_the_end(self, _event: Any = None) -> bool:
        source = self.source_version
        end = source.terms.get("period_end") if source is not None else None
        return end is not None and self.extension.new_end_date.isoformat() > str(end)

    def no_version_in_progress(self, _event: Any = None) -> bool:
        return (
            self.session.exec(
                select(AgreementVersion.id).where(
                    AgreementVersion.agreement_id == self.agreement.id,
                    col(AgreementVersion.state).in_(LIFECYCLE.in_progress_states),
                )
            ).first()
            is None
        )

    def both_approved(self, _event: Any = None) -> bool:
        approvals = [t for t in self.tasks if t.kind == "extension_approval"]
        return bool(approvals) and all(t.outcome == "approved" for t in approvals)

    def has_comment(self, _event: Any = None) -> bool:
        return bool(self.comment and self.comment.strip())

    def failed_guards(self, guards: tuple[str, ...]) -> list[str]:
        return [g for g in guards if not getattr(self, g)()]

    def refusal_details(self) -> list[str]:
        return []

    # ---- what the engine asks of a subject ----------------------------------------------------

    def entered(self, transition: Transition, now: datetime) -> None:
        self.extension.state_changed_at = now
        self.session.add(self.extension)

    def snapshot(self) -> dict[str, Any] | None:
        return None  # event_data carries the whole request

    def event_data(self) -> dict[str, Any]:
        e = self.extension
        return {
            "extension_id": e.id,
            "current_end": e.current_end.isoformat(),
            "new_end_date": e.new_end_date.isoformat(),
            "reason": e.reason,
        }

    def audit_target(self) -> dict[str, Any]:
        return {"version_id": self.extension.from_version_id}

    def new_tasks(self, transition: Transition, grant: Grant | None, now: datetime) -> list[Task]:
        e = self.extension
        detail = (
            f"Extend the period of performance from {e.current_end} to {e.new_end_date}, "
            f"the content otherwise unchanged. Reason: {e.reason}"
        )
        opened = [
            self.new_task(
                template,
                Side(template.side.value),
                title=f"{template.title} to {e.new_end_date}",
                detail=detail[:4000],
                now=now,
                extension_id=e.id,
            )
            for template in transition.opens
        ]
        return self.track(opened)

    def announcement(self, transition: Transition, source: str) -> tuple[str, dict[str, Any]]:
        return f"{transition.topic}:extension:{self.extension.id}", self.payload()

    def task_for(self, actor: Actor, kind: str, day: date) -> tuple[Task, int | None]:
        held = self.held_task(actor, kind, day)
        if held is not None:
            return held
        raise Forbidden("only a Business Owner holding this extension's approval may decide it")

    def refuse(self, actor: Actor, event: str, day: date) -> NotAllowedNow:
        return NotAllowedNow(
            f"{event} is not allowed while {self.title} is {self.state}",
            current_state=self.state,
            allowed_events=[],
        )

    def allowed_events(self, actor: Actor, day: date) -> list[str]:
        return []

    def prepare_completion(
        self,
        task: Task,
        outcome: Outcome,
        actor: Actor,
        on_behalf_of: int | None,
        comment: str | None,
    ) -> dict[str, Any]:
        if outcome.comment_required and not (comment and comment.strip()):
            raise InvalidInput(
                f"{outcome.name} needs a comment", [{"field": "comment", "message": "required"}]
            )
        return {}

    def completion_data(self, task: Task, before: dict[str, Any]) -> dict[str, Any]:
        return {"extension_id": self.extension.id, "role": Role(task.role).value}

    def completed(self, task: Task, actor: Actor, now: datetime) -> None:
        return None

    def payload(self) -> dict[str, Any]:
        """What every message about the extension carries: the agreement, the version it
        extends and the extension asked."""
        source = self.source_version
        return {
            "agreement": {
                "id": self.agreement.id,
                "key": self.agreement.key,
                "title": self.agreement.title,
            },
            "version": {
                "id": source.id if source else None,
                "number": source.number if source else None,
                "modification_number": source.modification_number if source else None,
                "state": source.state if source else None,
            },
            "extension": {
                "id": self.extension.id,
                "current_end": self.extension.current_end.isoformat(),
                "new_end_date": self.extension.new_end_date.isoformat(),
                "reason": self.extension.reason,
                "requested_side": self.extension.requested_side,
            },
        }


def lock_extension(
    tx: Command,
    agreement_id: int,
    actor: Actor | None,
    now: datetime,
    *,
    extension_id: int,
    comment: str | None = None,
) -> ExtensionSubject:
    """Lock the agreement, then read its extension under that lock."""
    agreement = lock_agreement(tx.session, agreement_id, actor)
    extension = tx.session.exec(
        select(Extension)
        .where(Extension.agreement_id == agreement_id, Extension.id == extension_id)
        .execution_options(populate_existing=True)
    ).first()
    if extension is None:
        raise NotFound(f"{agreement.key} has no extension {extension_id}")
    return ExtensionSubject(tx, agreement, extension, now=now, comment=comment)
