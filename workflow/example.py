"""The example SLA shipped with Accord (a copy of shared/data/example-sla.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session

from states import Role, Side
from workflow.access import Actor
from workflow.commands import StakeholderInput, create_organization, create_user
from workflow.content import Content

EXAMPLE_PATH = Path(__file__).parent / "data" / "example-sla.yaml"


def load_example(path: Path = EXAMPLE_PATH) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


@dataclass
class Parties:
    """The two organisations and eighteen stakeholders of an example document."""

    customer_org_id: int
    provider_org_id: int
    actors: dict[tuple[Side, Role], Actor] = field(default_factory=dict)

    def actor(self, side: Side, role: Role) -> Actor:
        return self.actors[(side, role)]

    def stakeholders(self) -> list[StakeholderInput]:
        return [StakeholderInput(s, r, a.user_id) for (s, r), a in self.actors.items()]


def seed_parties(session: Session, document: dict[str, Any], *, now: datetime) -> Parties:
    """Create both organisations and every stakeholder of `document` as users."""
    orgs = {
        side: create_organization(session, actor=None, name=document[side.value], now=now)
        for side in Side
    }
    parties = Parties(
        customer_org_id=orgs[Side.CUSTOMER].id,  # type: ignore[arg-type]
        provider_org_id=orgs[Side.PROVIDER].id,  # type: ignore[arg-type]
    )
    for side in Side:
        for role_name, person in document["stakeholders"][side.value].items():
            user = create_user(
                session,
                actor=None,
                email=person["email"],
                name=person["name"],
                organization_id=orgs[side].id,  # type: ignore[arg-type]
                now=now,
            )
            parties.actors[(side, Role(role_name))] = Actor.of(user)
    return parties


def example_content(document: dict[str, Any]) -> Content:
    return Content.model_validate({"terms": document["terms"], "metrics": document["metrics"]})
