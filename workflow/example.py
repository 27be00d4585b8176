"""The example SLA shipped with Accord (a copy of shared/data/example-sla.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, col, select

from states import Role, Side, TaskState
from workflow import commands
from workflow.access import Actor
from workflow.commands import StakeholderInput, create_organization, create_user
from workflow.content import Content
from workflow.models import Agreement, AgreementVersion, Gap, Task

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


@dataclass
class LifecycleDriver:
    """Takes the example's agreements through the lifecycle with commands, as people would.

    The demo and the tests both use it, so what the demo shows is what the tests exercise.
    Every command gets its own moment: `tick` moves the clock one `step` on.
    """

    session: Session
    parties: Parties
    document: dict[str, Any]
    now: datetime
    step: timedelta = timedelta(minutes=1)

    def tick(self, steps: int = 1) -> datetime:
        self.now += self.step * steps
        return self.now

    def who(self, side: Side, role: Role) -> Actor:
        return self.parties.actor(side, role)

    def actor_by_id(self, user_id: int | None) -> Actor:
        return next(a for a in self.parties.actors.values() if a.user_id == user_id)

    def version(self, agreement: Agreement, number: int = 1) -> AgreementVersion:
        self.session.rollback()  # a fresh snapshot: other sessions may have committed since
        return self.session.exec(
            select(AgreementVersion).where(
                AgreementVersion.agreement_id == agreement.id, AgreementVersion.number == number
            )
        ).one()

    def fire(
        self, agreement: Agreement, event: str, by: Actor, number: int = 1, **kw: Any
    ) -> AgreementVersion:
        return commands.fire_event(
            self.session,
            actor=by,
            agreement_id=_id(agreement),
            number=number,
            event=event,
            now=self.tick(),
            **kw,
        )

    def open_tasks(self, agreement: Agreement, kind: str | None = None) -> list[Task]:
        self.session.rollback()
        stmt = select(Task).where(Task.agreement_id == agreement.id, Task.state == TaskState.OPEN)
        if kind is not None:
            stmt = stmt.where(Task.kind == kind)
        return list(self.session.exec(stmt.order_by(col(Task.id))).all())

    def complete(self, task: Task, outcome: str, by: Actor | None = None, **kw: Any) -> Task:
        assert task.id is not None
        return commands.complete_task(
            self.session,
            actor=by or self.actor_by_id(task.assignee_id),
            task_id=task.id,
            outcome=outcome,
            now=self.tick(),
            **kw,
        )

    def complete_all(self, agreement: Agreement, kind: str, outcome: str, **kw: Any) -> None:
        for task in self.open_tasks(agreement, kind):
            self.complete(task, outcome, **kw)

    def resolve_all_gaps(self, agreement: Agreement, number: int = 1) -> None:
        version = self.version(agreement, number)
        gaps = self.session.exec(select(Gap).where(Gap.version_id == version.id)).all()
        for gap in gaps:
            assert gap.id is not None
            # The provider raises its own capability: applied at once, no proposal.
            commands.resolve_gap(
                self.session,
                actor=self.who(Side.PROVIDER, Role.PROGRAM_MANAGER),
                gap_id=gap.id,
                resolution="provider_commits",
                note="provider will add capacity",
                now=self.tick(),
            )

    def to_joint_review(self, agreement: Agreement, number: int = 1) -> None:
        self.fire(
            agreement, "submit_for_review", self.who(Side.CUSTOMER, Role.PROGRAM_MANAGER), number
        )

    def to_gap_analysis(self, agreement: Agreement, number: int = 1) -> None:
        self.to_joint_review(agreement, number)
        self.complete_all(agreement, "review", "accepted")

    def to_approval(self, agreement: Agreement, number: int = 1) -> None:
        self.to_gap_analysis(agreement, number)
        self.resolve_all_gaps(agreement, number)
        for kind in ("confirm_requirements", "confirm_capabilities", "lcce_review"):
            self.complete_all(agreement, kind, "done")
        provider_pm = self.who(Side.PROVIDER, Role.PROGRAM_MANAGER)
        self.fire(agreement, "submit_for_approval", provider_pm, number)

    def to_active(self, agreement: Agreement, number: int = 1) -> None:
        self.to_approval(agreement, number)
        self.complete_all(agreement, "approval", "approved")


def _id(agreement: Agreement) -> int:
    assert agreement.id is not None
    return agreement.id
