"""Shared test setup: the example SLA's parties and agreements, driven through commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from states import Role, Side
from workflow import commands
from workflow.example import LifecycleDriver, example_content, load_example, seed_parties
from workflow.models import Agreement

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


def make_world(session: Session) -> World:
    document = load_example()
    parties = seed_parties(session, document, now=T0)
    return World(session=session, parties=parties, document=document)
