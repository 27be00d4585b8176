"""Guard predicates of the lifecycle, read from data the command has loaded and locked."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cached_property

import sqlalchemy as sa
from sqlmodel import Session, col, select

from states import LIFECYCLE, Role, Side, TaskState, VersionState
from workflow.access import DELEGATORS
from workflow.calendar import local_date
from workflow.models import (
    Agreement,
    AgreementVersion,
    Delegation,
    Gap,
    Task,
)
from workflow.scope import ASSIGNMENTS, AgreementScope

APPROVING_OUTCOMES = ("approved", "approved_with_conditions")
_FINANCIAL_TERMS = ("annual_cost", "currency", "payment_terms", "billing_frequency", "lcce_total")


# The context's queries, built once with bound parameters (building one cost more than
# running it on SQLite); each execution only looks up the compiled form.
# populate_existing: rows read before the command took its lock must be re-read.
_TASKS = (
    select(Task)
    .where(Task.version_id == sa.bindparam("version_id"))
    .order_by(col(Task.id))
    .execution_options(populate_existing=True)
)
# The agreement's role holders and the user's delegators in one round trip (every command
# needs both before anything else); `kind` tells the two halves apart.
_ASSIGNMENTS_AND_DELEGATORS = sa.union_all(
    ASSIGNMENTS.add_columns(sa.literal_column("'assignment'").label("kind")),
    DELEGATORS.with_only_columns(
        sa.null().label("side"),
        sa.null().label("role"),
        col(Delegation.delegator_id).label("user_id"),
        sa.literal_column("'delegation'").label("kind"),
    ),
)


class VersionContext(AgreementScope):
    """The model `transitions` sees: `state` is the row's, guards are the spec's names."""

    def __init__(
        self,
        session: Session,
        agreement: Agreement,
        version: AgreementVersion,
        *,
        now: datetime,
        comment: str | None = None,
        calendars: dict[Side, str] | None = None,
    ) -> None:
        super().__init__(session, agreement)
        self.version = version
        self.now = now
        self.comment = comment
        if calendars is not None:
            # Already read with the locked rows (permissions.lock_version): seed the cache.
            self.__dict__["calendars"] = calendars

    @property
    def state(self) -> str:
        return self.version.state

    @state.setter
    def state(self, value: str) -> None:
        self.version.state = value

    # Loaded once per command; a command that changes these reloads by making a new context.
    @cached_property
    def tasks(self) -> list[Task]:
        # Commands run without autoflush: flush first, so that tasks added in this command are
        # listed and populate_existing cannot overwrite changes not yet written.
        # (A no-op when nothing is pending, which is the usual case: commands read first.)
        self.session.flush()
        return list(self.session.exec(_TASKS, params={"version_id": self.version.id}).all())

    def load_grants(self, user_id: int, day: date) -> None:
        """Read `assignments` and `delegators(user_id, day)` together, in one statement."""
        if "assignments" in self.__dict__ or (user_id, day) in self._delegators:
            return
        rows = (
            self.session.connection()
            .execute(
                _ASSIGNMENTS_AND_DELEGATORS,
                {"agreement_id": self.agreement.id, "delegate_id": user_id, "day": day},
            )
            .all()
        )
        self.__dict__["assignments"] = {
            (Side(side), Role(role)): holder
            for side, role, holder, kind in rows
            if kind == "assignment"
        }
        self._delegators[(user_id, day)] = [
            holder for _side, _role, holder, kind in rows if kind == "delegation"
        ]

    @cached_property
    def gaps(self) -> list[Gap]:
        return list(self.session.exec(select(Gap).where(Gap.version_id == self.version.id)))

    def add_tasks(self, tasks: list[Task]) -> None:
        """Tasks this command opened: listed with the others if the list is loaded already
        (if it is not, loading it flushes them first and reads them back)."""
        if "tasks" in self.__dict__:
            self.tasks.extend(tasks)

    @cached_property
    def active_version(self) -> AgreementVersion | None:
        return self.session.exec(
            select(AgreementVersion).where(
                AgreementVersion.agreement_id == self.agreement.id,
                AgreementVersion.state == VersionState.ACTIVE,
                AgreementVersion.id != self.version.id,
            )
        ).first()

    def open_tasks(self, kind: str | None = None) -> list[Task]:
        return [t for t in self.tasks if t.state == TaskState.OPEN and kind in (None, t.kind)]

    def current(self, kind: str) -> list[Task]:
        """Tasks of `kind` in the version's current cycle that were not cancelled."""
        return [
            t
            for t in self.tasks
            if t.kind == kind and t.cycle == self.version.cycle and t.state != TaskState.CANCELLED
        ]

    # Guards: one method per name in LIFECYCLE.guards; `_event` is what `transitions` passes.
    def has_metrics(self, _event: object = None) -> bool:
        return bool(self.version.metrics)

    def has_period_of_performance(self, _event: object = None) -> bool:
        terms = self.version.terms
        return bool(terms.get("period_start") and terms.get("period_end"))

    def has_required_stakeholders(self, _event: object = None) -> bool:
        needed = [(s, r) for s in Side for r in (Role.BUSINESS_OWNER, Role.PROGRAM_MANAGER)]
        return all(k in self.assignments for k in needed)

    def has_comment(self, _event: object = None) -> bool:
        return bool(self.comment and self.comment.strip())

    def all_reviews_accepted(self, _event: object = None) -> bool:
        reviews = self.current("review")
        return bool(reviews) and all(t.outcome == "accepted" for t in reviews)

    def all_gaps_resolved(self, _event: object = None) -> bool:
        return all(g.resolution is not None for g in self.gaps)

    def all_gap_analysis_tasks_done(self, _event: object = None) -> bool:
        kinds = ("confirm_requirements", "confirm_capabilities", "lcce_review")
        return not [t for t in self.open_tasks() if t.kind in kinds and t.required]

    def all_approvals_approved(self, _event: object = None) -> bool:
        approvals = self.current("approval")
        return bool(approvals) and all(
            t.outcome in APPROVING_OUTCOMES and t.approved_content_hash == self.version.content_hash
            for t in approvals
        )

    def period_ended(self, _event: object = None) -> bool:
        end = self.version.terms.get("period_end")
        return bool(end) and str(end) < local_date(self.now).isoformat()

    def has_active_version(self, _event: object = None) -> bool:
        return self.version.state == VersionState.ACTIVE

    def no_version_in_progress(self, _event: object = None) -> bool:
        return (
            self.session.exec(
                select(AgreementVersion.id).where(
                    AgreementVersion.agreement_id == self.agreement.id,
                    col(AgreementVersion.state).in_(LIFECYCLE.in_progress_states),
                )
            ).first()
            is None
        )

    # Conditions of task templates.
    def lcce_review_needed(self) -> bool:
        previous = self.active_version
        if self.version.number == 1 or previous is None:
            return True
        return any(previous.terms.get(k) != self.version.terms.get(k) for k in _FINANCIAL_TERMS)

    def executive_approval_needed(self) -> bool:
        previous = self.active_version
        if self.version.number == 1 or previous is None:
            return True
        before = Decimal(str(previous.terms.get("annual_cost") or 0))
        after = Decimal(str(self.version.terms.get("annual_cost") or 0))
        if before == 0:
            return after != 0
        change_pct = abs(after - before) / before * 100
        return change_pct > self.agreement.executive_approval_threshold_pct

    def failed_guards(self, guards: tuple[str, ...]) -> list[str]:
        return [g for g in guards if not getattr(self, g)()]
