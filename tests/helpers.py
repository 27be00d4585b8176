"""Shared test setup: the example SLA's parties and agreements, driven through commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from states import Role, Side
from workflow import commands
from workflow.access import Actor
from workflow.example import Parties, example_content, load_example, seed_parties
from workflow.models import Agreement, AgreementVersion, Task

C, P = Side.CUSTOMER, Side.PROVIDER
T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # a Monday


@dataclass
class World:
    session: Session
    parties: Parties
    document: dict[str, Any]
    now: datetime = T0

    def who(self, side: Side, role: Role) -> Actor:
        return self.parties.actor(side, role)

    def tick(self, minutes: int = 1) -> datetime:
        self.now += timedelta(minutes=minutes)
        return self.now

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
            agreement_id=agreement.id,  # type: ignore[arg-type]
            number=number,
            event=event,
            now=self.tick(),
            **kw,
        )

    def open_tasks(self, agreement: Agreement, kind: str | None = None) -> list[Task]:
        self.session.rollback()
        stmt = select(Task).where(Task.agreement_id == agreement.id, Task.state == "open")
        if kind is not None:
            stmt = stmt.where(Task.kind == kind)
        return list(self.session.exec(stmt.order_by(col(Task.id))).all())

    def complete(self, task: Task, outcome: str, by: Actor | None = None, **kw: Any) -> Task:
        actor = by or self.actor_by_id(task.assignee_id)
        return commands.complete_task(
            self.session,
            actor=actor,
            task_id=task.id,  # type: ignore[arg-type]
            outcome=outcome,
            now=self.tick(),
            **kw,
        )

    def actor_by_id(self, user_id: int | None) -> Actor:
        return next(a for a in self.parties.actors.values() if a.user_id == user_id)

    def complete_all(self, agreement: Agreement, kind: str, outcome: str, **kw: Any) -> None:
        for task in self.open_tasks(agreement, kind):
            self.complete(task, outcome, **kw)

    def resolve_all_gaps(self, agreement: Agreement, number: int = 1) -> None:
        from workflow.models import Gap

        version = self.version(agreement, number)
        gaps = self.session.exec(select(Gap).where(Gap.version_id == version.id)).all()
        for gap in gaps:
            commands.resolve_gap(
                self.session,
                actor=self.who(C, Role.PROGRAM_MANAGER),
                gap_id=gap.id,  # type: ignore[arg-type]
                resolution="provider_commits",
                note="provider will add capacity",
                now=self.tick(),
            )

    def to_gap_analysis(self, agreement: Agreement, number: int = 1) -> None:
        self.fire(agreement, "submit_for_review", self.who(C, Role.PROGRAM_MANAGER), number)
        self.complete_all(agreement, "review", "accepted")

    def to_approval(self, agreement: Agreement, number: int = 1) -> None:
        self.to_gap_analysis(agreement, number)
        self.resolve_all_gaps(agreement, number)
        for kind in ("confirm_requirements", "confirm_capabilities", "lcce_review"):
            self.complete_all(agreement, kind, "done")
        self.fire(agreement, "submit_for_approval", self.who(P, Role.PROGRAM_MANAGER), number)

    def to_active(self, agreement: Agreement, number: int = 1) -> None:
        self.to_approval(agreement, number)
        self.complete_all(agreement, "approval", "approved")


def make_world(session: Session) -> World:
    document = load_example()
    parties = seed_parties(session, document, now=T0)
    return World(session=session, parties=parties, document=document)
