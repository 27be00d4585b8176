"""What every command on an agreement reads once: its role holders, who delegated to whom,
and each side's holiday calendar. Versions and reporting periods both see their agreement so."""

from __future__ import annotations

from datetime import date, datetime
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from states import Role, Side, TaskTemplate
from workflow.access import delegators_of
from workflow.calendar import add_business_days, local_date
from workflow.models import Agreement, Organization, StakeholderAssignment, Task

# Columns, not entities: nothing here is changed, so identity-mapping would be waste.
ASSIGNMENTS = select(
    StakeholderAssignment.side, StakeholderAssignment.role, StakeholderAssignment.user_id
).where(StakeholderAssignment.agreement_id == sa.bindparam("agreement_id"))


class AgreementScope:
    """The agreement a command locked, and the people and calendars its decisions need."""

    def __init__(self, session: Session, agreement: Agreement) -> None:
        self.session = session
        self.agreement = agreement
        self._delegators: dict[tuple[int, date], list[int]] = {}

    @cached_property
    def assignments(self) -> dict[tuple[Side, Role], int]:
        rows = self.session.exec(ASSIGNMENTS, params={"agreement_id": self.agreement.id}).all()
        return {(Side(side), Role(role)): user_id for side, role, user_id in rows}

    def assignee_for(self, side: Side, role: Role) -> int | None:
        """The role's holder, or the side's Program Manager when the role is not filled."""
        return self.assignments.get((side, role)) or self.assignments.get(
            (side, Role.PROGRAM_MANAGER)
        )

    @cached_property
    def calendars(self) -> dict[Side, str]:
        """Each side's holiday calendar, for due dates."""
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
        """Who delegated to `user_id` on `day`, asked once per command."""
        key = (user_id, day)
        if key not in self._delegators:
            self._delegators[key] = delegators_of(self.session, user_id, day)
        return self._delegators[key]

    def new_task(
        self,
        template: TaskTemplate,
        side: Side,
        *,
        title: str,
        detail: str,
        now: datetime,
        due_on: date | None = None,
        **owner: Any,
    ) -> Task:
        """A task of `template` on `side` for the role's holder (`owner`: its version or
        period); due `due_on`, or the template's business days on that side's calendar."""
        return Task(
            agreement_id=self.agreement.id or 0,
            kind=template.kind,
            side=side.value,
            role=template.role.value,
            assignee_id=self.assignee_for(side, template.role),
            title=title,
            detail=detail,
            required=template.required,
            due_on=due_on
            or add_business_days(local_date(now), template.due_business_days, self.calendars[side]),
            escalation_roles=[r.value for r in template.escalation_roles],
            created_at=now,
            **owner,
        )
