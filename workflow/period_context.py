"""The reporting period as the model its `transitions.Machine` sees, and what it reads.

One module-level machine, as for versions: `model=None`, fired by event, guards named in
`states.REPORTING`. A command builds a `PeriodContext` from rows it loaded under the
agreement lock; nothing here commits.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select
from transitions import Machine

from states import REPORTING, Role, Side
from workflow.access import delegators_of
from workflow.models import Agreement, Organization, ReportingPeriod, StakeholderAssignment, Task

PERIOD_MACHINE = Machine(
    model=None,
    states=list(REPORTING.state_names),
    initial=REPORTING.initial,
    transitions=[
        {
            "trigger": t.event,
            "source": list(t.sources),
            "dest": t.dest,
            "conditions": list(t.guards),
        }
        for t in REPORTING.transitions
    ],
    auto_transitions=False,
    send_event=True,
)

_TASKS = (
    select(Task)
    .where(Task.period_id == sa.bindparam("period_id"))
    .order_by(col(Task.id))
    .execution_options(populate_existing=True)
)


class PeriodContext:
    """One period of one agreement, with the disputes an event brings (if any)."""

    def __init__(
        self,
        session: Session,
        agreement: Agreement,
        period: ReportingPeriod,
        *,
        now: datetime,
        disputes: list[dict[str, str]] | None = None,
    ) -> None:
        self.session = session
        self.agreement = agreement
        self.period = period
        self.now = now
        self.disputes = disputes or []
        self._delegators: dict[tuple[int, date], list[int]] = {}

    @property
    def state(self) -> str:
        return self.period.state

    @state.setter
    def state(self, value: str) -> None:
        self.period.state = value

    # ---- guards (names from states.REPORTING.guards) ----------------------------------------

    def disputes_named(self, _event: Any = None) -> bool:
        reported = self.reported_metrics
        return bool(self.disputes) and all(
            d.get("metric") in reported and (d.get("reason") or "").strip() for d in self.disputes
        )

    def failed_guards(self, guards: tuple[str, ...]) -> list[str]:
        return [g for g in guards if not getattr(self, g)()]

    # ---- what the command reads --------------------------------------------------------------

    @property
    def reported_metrics(self) -> set[str]:
        results = self.period.results or {}
        return {m["key"] for m in results.get("metrics", [])}

    @cached_property
    def tasks(self) -> list[Task]:
        self.session.flush()
        return list(self.session.exec(_TASKS, params={"period_id": self.period.id}).all())

    def open_tasks(self, kind: str) -> list[Task]:
        return [t for t in self.tasks if t.kind == kind and t.state == "open"]

    @cached_property
    def assignments(self) -> dict[tuple[Side, Role], int]:
        rows = self.session.exec(
            select(
                StakeholderAssignment.side,
                StakeholderAssignment.role,
                StakeholderAssignment.user_id,
            ).where(StakeholderAssignment.agreement_id == self.agreement.id)
        ).all()
        return {(Side(side), Role(role)): user for side, role, user in rows}

    def assignee_for(self, side: Side, role: Role) -> int | None:
        """The role's holder, or the side's Program Manager when the role is not filled."""
        return self.assignments.get((side, role)) or self.assignments.get(
            (side, Role.PROGRAM_MANAGER)
        )

    @cached_property
    def calendars(self) -> dict[Side, str]:
        rows = self.session.exec(
            select(Organization.id, Organization.holiday_calendar).where(
                col(Organization.id).in_(
                    (self.agreement.customer_org_id, self.agreement.provider_org_id)
                )
            )
        ).all()
        by_org = dict(rows)
        return {side: by_org.get(self.agreement.org_of(side), "US") for side in Side}

    def delegators(self, user_id: int, day: date) -> list[int]:
        key = (user_id, day)
        if key not in self._delegators:
            self._delegators[key] = delegators_of(self.session, user_id, day)
        return self._delegators[key]


def trigger(ctx: PeriodContext, event: str) -> bool:
    """Run `event` on the period; True when the machine moved it."""
    return bool(PERIOD_MACHINE.events[event].trigger(ctx))
