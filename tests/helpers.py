"""Shared test setup: the example SLA's parties and agreements, driven through commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from states import Role, Side
from workflow import commands
from workflow.compliance import Status
from workflow.compliance.attribution import sides_of
from workflow.example import LifecycleDriver, example_content, load_example, seed_parties
from workflow.measurements.rules import RawRow
from workflow.models import Agreement
from workflow.queries.periods import period_report, period_row

C, P = Side.CUSTOMER, Side.PROVIDER
T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # a Monday


@dataclass
class World(LifecycleDriver):
    """The driver at the tests' fixed clock, creating the example SLA with any overrides."""

    now: datetime = T0

    def create(self, **overrides: Any) -> Agreement:
        document = self.document
        args: dict[str, Any] = {
            "actor": self.who(C, Role.PROGRAM_MANAGER),
            "title": document["title"],
            "customer_org_id": self.parties.customer_org_id,
            "provider_org_id": self.parties.provider_org_id,
            "content": example_content(document),
            "stakeholders": self.parties.stakeholders(),
            "now": self.tick(),
        }
        args.update(overrides)
        return commands.create_agreement(self.session, **args)

    def report_the_rest(self, agreement: Agreement, period: str) -> list[tuple[str, str]]:
        """Load an on-target reading for each window of `period` the provider owes data for and
        has none (a period with such a window cannot be submitted); returns what was loaded."""
        assert agreement.id is not None
        row = period_row(self.session, agreement.id, period)
        report = period_report(
            self.session, agreement.id, row.first_day, row.last_day, now=self.now
        )
        gaps = [
            (metric.key, cell)
            for metric in report.metrics
            for cell in metric.windows
            if cell.status is Status.MISSING_DATA and P in sides_of(cell.charged_to)
        ]
        if gaps:
            commands.import_measurements(
                self.session,
                actor=self.who(P, Role.PMO_TEAM),
                agreement_id=agreement.id,
                rows=[
                    RawRow(i, key, (cell.start + timedelta(hours=12)).isoformat(), cell.target)
                    for i, (key, cell) in enumerate(gaps)
                ],
                source="json",
                now=self.tick(),
            )
        return [(key, cell.window) for key, cell in gaps]


def make_world(session: Session) -> World:
    document = load_example()
    parties = seed_parties(session, document, now=T0)
    return World(session=session, parties=parties, document=document)
