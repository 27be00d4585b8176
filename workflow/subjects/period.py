"""A reporting period as the engine's subject: the cycle of `states.REPORTING`.

A command builds a `PeriodSubject` from rows it loaded under the agreement lock; nothing here
commits. Its tasks belong to the period (not to a version), are titled with the period's label
and say what the period's results were.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from functools import cached_property
from typing import Any, ClassVar

from sqlmodel import col, select

from states import REPORTING, MachineSpec, Outcome, Role, Side, TaskState, TaskTemplate, Transition
from workflow.access import Actor, Grant
from workflow.calendar import business_days_between, local_date
from workflow.command import Command
from workflow.compliance import ComplianceReport, Status
from workflow.compliance.attribution import sides_of
from workflow.engine import run
from workflow.errors import Forbidden, InvalidInput, NotAllowedNow, NotFound
from workflow.models import Agreement, PeriodDispute, ReportingPeriod, Task
from workflow.permissions import lock_agreement
from workflow.queries.periods import period_report
from workflow.subjects.row import RowSubject
from workflow.transaction import flush


class PeriodSubject(RowSubject):
    """One period of one agreement, with the disputes an event brings (if any)."""

    spec: ClassVar[MachineSpec] = REPORTING
    task_link: ClassVar[str] = "period_id"
    # A dispute's refusal names each bad dispute, which matters more than a missing comment.
    check_event_first: ClassVar[bool] = True

    def __init__(
        self,
        tx: Command,
        agreement: Agreement,
        period: ReportingPeriod,
        *,
        now: datetime,
        disputes: list[dict[str, str]] | None = None,
        exceptions: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(tx, agreement, period)
        self.period = period
        self.now = now
        self.disputes = disputes or []
        self.exceptions = exceptions or []

    @property
    def title(self) -> str:
        return f"period {self.period.period}"

    # ---- guards (names from states.REPORTING.guards) ----------------------------------------

    def disputes_named(self, _event: Any = None) -> bool:
        reported = self.reported_metrics
        return bool(self.disputes) and all(
            d.get("metric") in reported and (d.get("reason") or "").strip() for d in self.disputes
        )

    def provider_data_complete(self, _event: Any = None) -> bool:
        return not self.windows_without_provider_data

    def exceptions_named(self, _event: Any = None) -> bool:
        reported = self.reported_metrics
        return bool(self.exceptions) and all(
            e.get("metric") in reported and (e.get("reason") or "").strip() for e in self.exceptions
        )

    def escalation_due(self, _event: Any = None) -> bool:
        """The dispute has gone the agreement's rounds, or its business days (customer
        calendar) since its first round."""
        period, agreement = self.period, self.agreement
        if period.dispute_rounds >= agreement.dispute_escalation_rounds:
            return True
        if period.disputed_since is None:
            return False
        days = business_days_between(
            local_date(period.disputed_since), local_date(self.now), self.calendars[Side.CUSTOMER]
        )
        return days >= agreement.dispute_escalation_business_days

    def escalation_not_due(self, _event: Any = None) -> bool:
        return not self.escalation_due()

    def sponsors_uphold(self, _event: Any = None) -> bool:
        return self.sponsor_decisions == ["upheld", "upheld"]

    def sponsors_sustain(self, _event: Any = None) -> bool:
        return self.sponsor_decisions == ["sustained", "sustained"]

    def sponsors_split(self, _event: Any = None) -> bool:
        return sorted(self.sponsor_decisions) == ["sustained", "upheld"]

    def failed_guards(self, guards: tuple[str, ...]) -> list[str]:
        return [g for g in guards if not getattr(self, g)()]

    def refusal_details(self) -> list[str]:
        reported = self.reported_metrics
        problems = [
            f"{name} has no data for {window}: load it, or propose an excusal"
            for name, window in (
                self.windows_without_provider_data if "current_report" in self.__dict__ else []
            )
        ]
        for d in self.disputes:
            if d.get("metric") not in reported:
                problems.append(f"{d.get('metric')!r} is not a metric of this period's results")
            if not (d.get("reason") or "").strip():
                problems.append(f"the dispute of {d.get('metric')!r} gives no reason")
        for e in self.exceptions:
            if e.get("metric") not in reported:
                problems.append(f"{e.get('metric')!r} is not a metric of this period's results")
            if not (e.get("reason") or "").strip():
                problems.append(f"the exception of {e.get('metric')!r} gives no reason")
        return problems

    # ---- what the engine asks of a subject ----------------------------------------------------

    def entered(self, transition: Transition, now: datetime) -> None:
        self.period.state_changed_at = now
        self.session.add(self.period)

    def snapshot(self) -> dict[str, Any] | None:
        return None  # the period's results are hashed in the events that change them

    def event_data(self) -> dict[str, Any]:
        return {"period": self.period.period}

    def audit_target(self) -> dict[str, Any]:
        return {}

    def cancels(self, task: Task) -> bool:
        """The cycle's own open tasks (not a corrective action's, which outlive the cycle)."""
        return task.kind in _CYCLE_TASKS

    def new_tasks(self, transition: Transition, grant: Grant | None, now: datetime) -> list[Task]:
        wanted = [
            (t, self._detail(t))
            for t in transition.opens
            if t.condition is None or getattr(self, t.condition)()
        ]
        return self.add_tasks(wanted, now=now)

    def announcement(self, transition: Transition, source: str) -> tuple[str, dict[str, Any]]:
        return f"{transition.topic}:{self.period.id}:{self.period.round}", self.payload()

    def task_for(self, actor: Actor, kind: str, day: date) -> tuple[Task, int | None]:
        held = self.held_task(actor, kind, day)
        if held is not None:
            return held
        holders = self.open_tasks(kind)
        who = (
            f"the {holders[0].side} {Role(holders[0].role).label}"
            if holders
            else "the holder of the task"
        )
        raise Forbidden(f"only {who} (or their delegate) may do this: it is their {kind} task")

    def refuse(self, actor: Actor, event: str, day: date) -> NotAllowedNow:
        allowed = self.allowed_events(actor, day)
        return NotAllowedNow(
            f"{event} is not allowed while period {self.period.period} is {self.period.state}"
            + (f"; you may: {', '.join(allowed)}" if allowed else ""),
            current_state=self.period.state,
            allowed_events=allowed,
        )

    def allowed_events(self, actor: Actor, day: date) -> list[str]:
        allowed = []
        for t in REPORTING.events_from(self.period.state):
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
        # Disputes, each with its reason, are the comment a dispute needs.
        if outcome.comment_required and not (comment and comment.strip()) and not self.disputes:
            raise InvalidInput(
                f"{outcome.name} needs a comment", [{"field": "comment", "message": "required"}]
            )
        return {}

    def completion_data(self, task: Task, before: dict[str, Any]) -> dict[str, Any]:
        return {}

    def completed(self, task: Task, actor: Actor, now: datetime) -> None:
        """When the second Sponsor decides otherwise than the first, neither decision's event
        can fire: the split is its own step, and both decide again."""
        reconsider = REPORTING.transition("reconsider")
        if (
            task.kind == "dispute_decision"
            and self.state in reconsider.sources
            and not self.failed_guards(reconsider.guards)
        ):
            run(self, reconsider, actor=None, grant=None, now=now)

    # ---- what the period's effects read -------------------------------------------------------

    @cached_property
    def current_report(self) -> ComplianceReport:
        """The period's results as measured now (read once per command: guards and effects)."""
        period = self.period
        return period_report(
            self.session, self.agreement.id or 0, period.first_day, period.last_day, now=self.now
        )

    @property
    def windows_without_provider_data(self) -> list[tuple[str, str]]:
        """(metric name, window) of each closed window the provider owed data for and has none
        (charged to the provider, or shared), not excused."""
        return [
            (metric.name, row.window)
            for metric in self.current_report.metrics
            for row in metric.windows
            if row.status is Status.MISSING_DATA and Side.PROVIDER in sides_of(row.charged_to)
        ]

    @property
    def reported_metrics(self) -> set[str]:
        results = self.period.results or {}
        return {m["key"] for m in results.get("metrics", [])}

    @property
    def decision_tasks(self) -> list[Task]:
        """The Sponsors' decision tasks of the current escalation (the newest one per side)."""
        newest: dict[str, Task] = {}
        for task in self.tasks:
            if task.kind == "dispute_decision" and task.state != TaskState.CANCELLED:
                newest[task.side] = task
        return [newest[side] for side in sorted(newest)]

    @property
    def sponsor_decisions(self) -> list[str]:
        """Both Sponsors' outcomes once both decided; fewer while one has not."""
        tasks = self.decision_tasks
        if len(tasks) < len(Side) or any(t.state != TaskState.COMPLETED for t in tasks):
            return []
        return [t.outcome or "" for t in tasks]

    def payload(self) -> dict[str, Any]:
        """What every message about the period carries."""
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

    def add_tasks(
        self,
        templates: list[tuple[TaskTemplate, str]],
        *,
        now: datetime,
        due_on: date | None = None,
        titles: Sequence[str] | None = None,
    ) -> list[Task]:
        """New tasks of the period, added to the session but not flushed."""
        opened = [
            self.new_task(
                template,
                Side(template.side.value),
                title=titles[i] if titles else f"{template.title} ({self.period.period})",
                detail=detail,
                now=now,
                due_on=due_on,
                version_id=None,
                period_id=self.period.id,
            )
            for i, (template, detail) in enumerate(templates)
        ]
        return self.track(opened)

    def open_new_tasks(
        self,
        templates: list[tuple[TaskTemplate, str]],
        *,
        now: datetime,
        due_on: date | None = None,
        titles: Sequence[str] | None = None,
    ) -> list[Task]:
        """Open tasks outside a transition's own templates: flushed and announced now."""
        opened = self.add_tasks(templates, now=now, due_on=due_on, titles=titles)
        if opened:
            flush(self.session)
            self.announce_tasks(opened, now)
        return opened

    def _detail(self, template: TaskTemplate) -> str:
        period = self.period
        if template.kind == "dispute_decision":
            return self._decision_detail()
        if template.kind == "address_dispute" and not self.disputes:
            said = "; ".join(
                f"{t.side} Executive Sponsor: {(t.comment or '').strip()}"
                for t in self.decision_tasks
            )
            return (
                f"Both Executive Sponsors sustained the customer's dispute of {period.period}. "
                f"{said}. Correct the data as they ask, then resubmit."
            )[:4000]
        if template.kind == "address_dispute":
            named = "; ".join(f"{d['metric']}: {d['reason'].strip()}" for d in self.disputes)
            return f"The customer disputed round {period.round} of {period.period}: {named}"
        totals = (period.results or {}).get("totals", {})
        return (
            f"Round {period.round} of {period.period}'s results: {totals.get('met', 0)} met, "
            f"{totals.get('warning', 0)} warning, {totals.get('missed', 0)} missed, "
            f"{totals.get('excused', 0)} excused, {totals.get('missing_data', 0)} without data. "
            "Accept them, or dispute the metrics you disagree with, each with a reason."
        )

    def _decision_detail(self) -> str:
        period = self.period
        named = self.disputes or [
            {"metric": d.metric_key, "reason": d.reason}
            for d in self.session.exec(
                select(PeriodDispute)
                .where(PeriodDispute.period_id == period.id)
                .order_by(col(PeriodDispute.round).desc(), col(PeriodDispute.id))
            )
            if d.round == period.round
        ]
        disputes = "; ".join(f"{d['metric']}: {d['reason'].strip()}" for d in named)
        earlier = [t for t in self.decision_tasks if t.state == TaskState.COMPLETED]
        split = (
            " You decided differently last time: "
            + "; ".join(
                f"{t.side} Sponsor {t.outcome} ({(t.comment or 'no comment').strip()})"
                for t in earlier
            )
            + "."
            if earlier
            else ""
        )
        return (
            f"The dispute of {period.period} went {period.dispute_rounds} round(s) without "
            f"agreement ({disputes}). Both Executive Sponsors decide together: uphold the "
            "provider's results (the report becomes final) or sustain the customer's dispute "
            f"(back to the provider, with your comment).{split}"
        )[:4000]


_CYCLE_TASKS = frozenset(k.name for k in REPORTING.task_kinds)


def lock_period(
    tx: Command,
    agreement_id: int,
    actor: Actor | None,
    now: datetime,
    *,
    label: str | None = None,
    period_id: int | None = None,
    disputes: list[dict[str, str]] | None = None,
    exceptions: list[dict[str, str]] | None = None,
) -> PeriodSubject:
    """Lock the agreement, then read its period (by label or id) under that lock."""
    session = tx.session
    agreement = lock_agreement(session, agreement_id, actor)
    match = (
        ReportingPeriod.period == label if period_id is None else ReportingPeriod.id == period_id
    )
    period = session.exec(
        select(ReportingPeriod)
        .where(ReportingPeriod.agreement_id == agreement_id, match)
        .execution_options(populate_existing=True)
    ).first()
    if period is None:
        raise NotFound(f"{agreement.key} has no reporting period {label!r}")
    return PeriodSubject(tx, agreement, period, now=now, disputes=disputes, exceptions=exceptions)
