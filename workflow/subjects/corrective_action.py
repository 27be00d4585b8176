"""A corrective action as the engine's subject: the plan cycle of `states.CORRECTIVE_ACTIONS`.

The action's `side` owns it (the side its miss is charged to); the templates' `owner` and
`counterpart` sides are read against it. The owner's steps are held by its Program Manager
(or their delegate); the counterpart's by its Program Manager, whose Functional Lead may also
decide them (domain.md).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cached_property
from typing import Any, ClassVar

from sqlmodel import select

from states import (
    CORRECTIVE_ACTIONS,
    MachineSpec,
    Outcome,
    Side,
    SideRef,
    TaskTemplate,
)
from states import Transition as Step
from states.corrective_actions import COUNTERPART_ROLES
from workflow.access import Actor, Grant
from workflow.calendar import local_date
from workflow.command import Command
from workflow.corrective_plan import Plan
from workflow.errors import Forbidden, InvalidInput, NotAllowedNow, NotFound
from workflow.models import Agreement, CorrectiveAction, ReportingPeriod, Task
from workflow.permissions import lock_agreement
from workflow.queries.versions import metric_names
from workflow.subjects.row import RowSubject


class CorrectiveActionSubject(RowSubject):
    """One corrective action, with the plan an event brings (if any)."""

    spec: ClassVar[MachineSpec] = CORRECTIVE_ACTIONS
    task_link: ClassVar[str] = "corrective_action_id"
    check_event_first: ClassVar[bool] = False

    def __init__(
        self,
        tx: Command,
        agreement: Agreement,
        action: CorrectiveAction,
        *,
        now: datetime,
        plan: Plan | None = None,
    ) -> None:
        super().__init__(tx, agreement, action)
        self.action = action
        self.now = now
        self.plan = plan

    @property
    def title(self) -> str:
        a = self.action
        return f"the corrective action for {a.metric_key} in {a.window} ({a.side})"

    @property
    def owner(self) -> Side:
        return Side(self.action.side)

    def side_of(self, ref: SideRef) -> Side:
        if ref is SideRef.OWNER:
            return self.owner
        if ref is SideRef.COUNTERPART:
            return self.owner.other
        return Side(ref.value)

    # ---- what the engine asks of a subject ----------------------------------------------------

    def failed_guards(self, guards: tuple[str, ...]) -> list[str]:
        return []  # the plan is validated as input (422 per field), not guarded

    def refusal_details(self) -> list[str]:
        return []

    def entered(self, transition: Step, now: datetime) -> None:
        self.action.state_changed_at = now
        self.session.add(self.action)

    def snapshot(self) -> dict[str, Any] | None:
        a = self.action
        return {
            "root_cause": a.root_cause,
            "actions": list(a.actions),
            "target_date": a.target_date.isoformat() if a.target_date else None,
        }

    def event_data(self) -> dict[str, Any]:
        a = self.action
        return {
            "corrective_action_id": a.id,
            "metric": a.metric_key,
            "window": a.window,
            "side": a.side,
        }

    def audit_target(self) -> dict[str, Any]:
        return {}

    def new_tasks(self, transition: Step, grant: Grant | None, now: datetime) -> list[Task]:
        return self.add_tasks(transition.opens, now)

    def add_tasks(self, templates: tuple[TaskTemplate, ...], now: datetime) -> list[Task]:
        """The action's next steps, added to the session but not flushed; carrying the plan
        out is due on the plan's target date."""
        a = self.action
        opened = []
        for template in templates:
            due = a.target_date if template.kind == "corrective_action_completion" else None
            opened.append(
                self.new_task(
                    template,
                    self.side_of(template.side),
                    title=f"{template.title}: {self.metric_name} missed in {a.window}",
                    detail=self.detail(),
                    now=now,
                    due_on=due if due and due > local_date(now) else None,
                    period_id=a.period_id,
                    corrective_action_id=a.id,
                )
            )
        return self.track(opened)

    def announcement(self, transition: Step, source: str) -> tuple[str, dict[str, Any]]:
        key = f"{transition.topic}:{self.action.id}:{self.action.lock_version}"
        return key, self.payload()

    def task_for(self, actor: Actor, kind: str, day: date) -> tuple[Task, int | None]:
        held = self.held_task(actor, kind, day)
        if held is not None:
            return held
        tasks = self.open_tasks(kind)
        for task in tasks:
            if Side(task.side) is self.owner.other and self._decides_for(actor, task, day):
                return task, None
        side = tasks[0].side if tasks else self.owner.value
        who = (
            f"the {side} Program Manager or Functional Lead"
            if tasks and Side(side) is self.owner.other
            else f"the {side} Program Manager"
        )
        raise Forbidden(f"only {who} (or their delegate) may do this: it is their {kind} task")

    def _decides_for(self, actor: Actor, task: Task, day: date) -> bool:
        """The counterpart's Functional Lead may decide the counterpart's steps too."""
        return any(
            g.side is Side(task.side) and g.role in COUNTERPART_ROLES
            for g in self.grants(actor, day)
        )

    def refuse(self, actor: Actor, event: str, day: date) -> NotAllowedNow:
        allowed = self.allowed_events(actor, day)
        return NotAllowedNow(
            f"{event} is not allowed while {self.title} is {self.state}"
            + (f"; you may: {', '.join(allowed)}" if allowed else ""),
            current_state=self.state,
            allowed_events=allowed,
        )

    def allowed_events(self, actor: Actor, day: date) -> list[str]:
        allowed = []
        for t in CORRECTIVE_ACTIONS.events_from(self.state):
            if t.task_kind is None:
                continue
            try:
                self.task_for(actor, t.task_kind, day)
            except Forbidden:
                continue
            allowed.append(t.event)
        return allowed

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
        if outcome.fires == "submit_plan":
            if self.plan is None:
                self.plan = Plan()
            problems = self.plan.problems(self.stakeholders, today=local_date(self.now))
            if problems:
                named = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
                raise InvalidInput(f"the plan cannot be submitted: {named}", problems)
        return {}

    def completion_data(self, task: Task, before: dict[str, Any]) -> dict[str, Any]:
        return {}

    def completed(self, task: Task, actor: Actor, now: datetime) -> None:
        return None

    # ---- what the effects read ----------------------------------------------------------------

    @property
    def stakeholders(self) -> set[int]:
        return set(self.assignments.values())

    @cached_property
    def period(self) -> ReportingPeriod:
        period = self.session.get(ReportingPeriod, self.action.period_id)
        assert period is not None
        return period

    @cached_property
    def metric_name(self) -> str:
        """How people know the metric (its key when no version names it)."""
        return metric_names(self.session, self.agreement.id or 0).get(
            self.action.metric_key, self.action.metric_key
        )

    def detail(self) -> str:
        a = self.action
        measured = (
            f"{self.metric_name} was {a.actual:g} in {a.window} against a target of {a.target:g}"
            if a.actual is not None and a.target is not None
            else f"{self.metric_name} missed in {a.window}"
        )
        return (
            f"{measured}, charged to the {a.side}. The {a.side} finds the root cause and plans "
            "the correction (actions with owners and due dates, a target date); the "
            f"{self.owner.other} accepts the plan and confirms closure."
        )

    def payload(self) -> dict[str, Any]:
        """What every message about the action carries."""
        period = self.period
        return {
            "agreement": {
                "id": self.agreement.id,
                "key": self.agreement.key,
                "title": self.agreement.title,
            },
            "version": {"id": None, "number": None, "modification_number": None, "state": None},
            "period": {
                "label": period.period,
                "first_day": period.first_day.isoformat(),
                "last_day": period.last_day.isoformat(),
                "state": period.state,
                "round": period.round,
            },
        }


def lock_corrective_action(
    tx: Command,
    action_id: int,
    actor: Actor | None,
    now: datetime,
    *,
    plan: Plan | None = None,
) -> CorrectiveActionSubject:
    """Lock the action's agreement, then read the action under that lock."""
    session = tx.session
    # An action never moves to another agreement: read its agreement before the lock.
    agreement_id = session.exec(
        select(CorrectiveAction.agreement_id).where(CorrectiveAction.id == action_id)
    ).first()
    if agreement_id is None:
        raise NotFound("no such corrective action")
    agreement = lock_agreement(session, agreement_id, actor)
    action = session.exec(
        select(CorrectiveAction)
        .where(CorrectiveAction.id == action_id)
        .execution_options(populate_existing=True)
    ).one()
    return CorrectiveActionSubject(tx, agreement, action, now=now, plan=plan)
