"""A version of an agreement as the engine's subject: the lifecycle of `states.LIFECYCLE`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from states import (
    LIFECYCLE,
    MachineSpec,
    Outcome,
    Role,
    Side,
    SideRef,
    TaskState,
    TaskTemplate,
    Transition,
)
from workflow.access import Actor, Grant
from workflow.announcements import ALL_STAKEHOLDERS, announce_task, task_ref
from workflow.command import Command
from workflow.errors import Forbidden, InvalidInput, NotAllowedNow
from workflow.guards import APPROVING_OUTCOMES, VersionContext
from workflow.models import Agreement, AgreementVersion, Task, User
from workflow.permissions import allowed_events, context_grants, not_allowed_now, task_for
from workflow.snapshots import task_summary, version_summary
from workflow.transaction import flush


class VersionSubject(VersionContext):
    """The version a command locked, with what only a version knows about its transitions."""

    spec: ClassVar[MachineSpec] = LIFECYCLE
    check_event_first: ClassVar[bool] = False

    def __init__(
        self,
        tx: Command,
        agreement: Agreement,
        version: AgreementVersion,
        *,
        now: datetime,
        comment: str | None = None,
        calendars: dict[Side, str] | None = None,
    ) -> None:
        super().__init__(
            tx.session, agreement, version, now=now, comment=comment, calendars=calendars
        )
        self.tx = tx

    @property
    def title(self) -> str:
        return f"version {self.version.number}"

    def refusal_details(self) -> list[str]:
        return []

    def entered(self, transition: Transition, now: datetime) -> None:
        self.version.state_changed_at = now
        if transition.dest == LIFECYCLE.initial:
            self.version.cycle += 1  # back to the draft: a new round of reviews and approvals
        self.session.add(self.version)

    def snapshot(self) -> dict[str, Any] | None:
        return version_summary(self.version)

    def event_data(self) -> dict[str, Any]:
        return {}

    def audit_target(self) -> dict[str, Any]:
        return {"version_id": self.version.id}

    def cancel_open_tasks(self, now: datetime) -> list[int]:
        return cancel_open_tasks(self, now)

    def new_tasks(self, transition: Transition, grant: Grant | None, now: datetime) -> list[Task]:
        wanted = [
            (tpl, "")
            for tpl in transition.opens
            if tpl.condition is None or getattr(self, tpl.condition)()
        ]
        return add_tasks(self, wanted, grant=grant, now=now)

    def announce_tasks(self, tasks: list[Task], now: datetime) -> None:
        announce_tasks(self, tasks, now)

    def announcement(self, transition: Transition, source: str) -> tuple[str, dict[str, Any]]:
        key = f"{transition.topic}:{self.version.id}:{self.version.lock_version}"
        return key, agreement_payload(self)

    def grants(self, actor: Actor, day: date) -> list[Grant]:
        return context_grants(self, actor, day)

    def task_for(self, actor: Actor, kind: str, day: date) -> tuple[Task, int | None]:
        self.load_grants(actor.user_id, day)  # role holders and delegators in one statement
        return task_for(self, actor, kind, day)

    def refuse(self, actor: Actor, event: str, day: date) -> NotAllowedNow:
        return not_allowed_now(self, actor, event, self.grants(actor, day), day)

    def allowed_events(self, actor: Actor, day: date) -> list[str]:
        return allowed_events(self, actor, self.grants(actor, day), day)

    def prepare_completion(
        self,
        task: Task,
        outcome: Outcome,
        actor: Actor,
        on_behalf_of: int | None,
        comment: str | None,
    ) -> dict[str, Any]:
        if outcome.comment_required and not (comment and comment.strip()):
            what = "conditions" if outcome.name == "approved_with_conditions" else "a comment"
            raise InvalidInput(
                f"{outcome.name} needs {what}", [{"field": "comment", "message": "required"}]
            )
        if task.kind == "approval" and outcome.name in APPROVING_OUTCOMES:
            self._check_segregation(task, actor, on_behalf_of)
            task.approved_content_hash = self.version.content_hash
        return task_summary(task)

    def completion_data(self, task: Task, before: dict[str, Any]) -> dict[str, Any]:
        return {
            "content_hash": task.approved_content_hash,
            "before": before,
            "after": task_summary(task),
        }

    def completed(self, task: Task, actor: Actor, now: datetime) -> None:
        if task.kind == "approval" and task.outcome in APPROVING_OUTCOMES:
            announce_approval(self, task, actor, now)

    def _check_segregation(self, task: Task, actor: Actor, on_behalf_of: int | None) -> None:
        """Two sides, two different people; nobody approves twice; editors do not approve."""
        people = {actor.user_id} | ({on_behalf_of} if on_behalf_of else set())
        for other in self.current("approval"):
            if (
                other.id != task.id
                and other.outcome in APPROVING_OUTCOMES
                and people & {other.completed_by_id, other.on_behalf_of_id}
            ):
                raise Forbidden(
                    f"you already approved version {self.version.number} as the {other.side} "
                    f"{Role(other.role).label}; nobody approves twice, and each side's approval "
                    "must come from a different person"
                )
        editor_id = self.version.last_edited_by_id
        if self.agreement.allow_editor_approval or editor_id not in people:
            return
        editor = self.session.get(User, editor_id)
        if editor is not None and self.agreement.side_of_org(editor.organization_id) == Side(
            task.side
        ):
            raise Forbidden(
                f"{editor.name} last edited version {self.version.number}, so another "
                f"{task.side} approver must approve it (the agreement setting "
                "allow_editor_approval relaxes this)"
            )


def resolve_side(template: TaskTemplate, ctx: VersionSubject, grant: Grant | None) -> Side:
    if template.side is SideRef.DRAFTING:
        return Side(ctx.version.drafting_side)
    if template.side is SideRef.ACTOR:
        return grant.side if grant is not None else Side(ctx.version.drafting_side)
    return Side(template.side.value)


def open_tasks(
    ctx: VersionSubject,
    templates: list[tuple[TaskTemplate, str]],
    *,
    grant: Grant | None,
    now: datetime,
) -> list[Task]:
    """Open one task per (template, detail), flushed together, and announce each."""
    opened = add_tasks(ctx, templates, grant=grant, now=now)
    if opened:
        flush(ctx.session)
        announce_tasks(ctx, opened, now)
    return opened


def add_tasks(
    ctx: VersionSubject,
    templates: list[tuple[TaskTemplate, str]],
    *,
    grant: Grant | None,
    now: datetime,
) -> list[Task]:
    """New tasks, added to the session but not flushed: they have no id yet."""
    opened = [
        ctx.new_task(
            template,
            resolve_side(template, ctx, grant),
            title=template.title or template.kind.replace("_", " ").capitalize(),
            detail=detail,
            now=now,
            version_id=ctx.version.id,
            cycle=ctx.version.cycle,
        )
        for template, detail in templates
    ]
    ctx.session.add_all(opened)
    ctx.add_tasks(opened)
    return opened


def open_task(
    ctx: VersionSubject,
    template: TaskTemplate,
    *,
    grant: Grant | None,
    now: datetime,
    detail: str = "",
) -> Task:
    return open_tasks(ctx, [(template, detail)], grant=grant, now=now)[0]


def announce_tasks(ctx: VersionSubject, tasks: list[Task], now: datetime) -> None:
    for task in tasks:
        _announce_one(ctx, task, now)


def _announce_one(ctx: VersionSubject, task: Task, now: datetime) -> None:
    announce_task(ctx.tx, task, about=agreement_payload(ctx), now=now)


def announce_approval(ctx: VersionSubject, task: Task, actor: Actor, now: datetime) -> None:
    """Tell every stakeholder that one approver approved (with or without conditions)."""
    topic = f"version.{task.outcome}"
    ctx.tx.enqueue(
        topic=topic,
        dedupe_key=f"{topic}:{task.id}",
        now=now,
        agreement_id=ctx.agreement.id,
        recipients=ALL_STAKEHOLDERS,
        payload={
            **agreement_payload(ctx),
            "task": task_ref(task),
            "outcome": task.outcome,
            "actor": actor.name,
            "comment": task.comment,
        },
    )


def cancel_open_tasks(ctx: VersionSubject, now: datetime) -> list[int]:
    cancelled = []
    for task in ctx.open_tasks():
        task.state = TaskState.CANCELLED
        task.completed_at = now
        ctx.session.add(task)
        cancelled.append(task.id)
    return [t for t in cancelled if t is not None]


def agreement_payload(ctx: VersionSubject) -> dict[str, Any]:
    """What every message about a version carries: the agreement and the version."""
    return {
        "agreement": {
            "id": ctx.agreement.id,
            "key": ctx.agreement.key,
            "title": ctx.agreement.title,
        },
        "version": {
            "id": ctx.version.id,
            "number": ctx.version.number,
            "modification_number": ctx.version.modification_number,
            "state": ctx.version.state,
        },
    }
