"""A world for the authorisation matrix: people in every position towards an agreement, and
agreements (and their tasks, gaps and periods) in every state a route needs.

Shared targets are built once and only ever refused; a request that is allowed to change
something gets a fresh target of its own, so no cell depends on the order cells run in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, col, func, select

from states import Role, Side
from tests.catalog_workbooks import hr_workbook
from tests.helpers import World
from tests.proposals import accept
from tests.workflow.commands.test_periods import NOVEMBER
from tests.workflow.test_compliance_sql import store
from workflow import commands
from workflow.access import Actor
from workflow.models import (
    Agreement,
    AuditEvent,
    CatalogMeasure,
    Excusal,
    Gap,
    OutboxMessage,
    ReportingPeriod,
    Task,
)

C, P = Side.CUSTOMER, Side.PROVIDER
DEC_1 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # November's period opens; the API's clock
PERIOD = "2026-11"

# Who a cell is asked as: a stakeholder (side, role), or one of these names.
ANONYMOUS, REVOKED, STRANGER, BYSTANDER, ADMIN = (
    "anonymous",
    "revoked",
    "stranger",
    "bystander",
    "admin",
)
Persona = tuple[Side, Role] | str
# A period event: its name, who fires it, and the disputes it names.
Step = tuple[str, tuple[Side, Role], list[dict[str, str]] | None]


@dataclass
class Target:
    """What a route's path parameters and body are filled from."""

    sla_id: int
    number: int = 1
    task_id: int | None = None
    gap_id: int | None = None
    lock_version: int = 1
    ids: dict[str, int] = field(default_factory=dict)  # tokens, users, outbox rows, measures


@dataclass
class RouteWorld:
    client: TestClient
    driver: World
    headers: dict[Persona, dict[str, str]]
    people: dict[str, Actor]
    keys: list[str] = field(default_factory=list)  # every agreement key, for leak checks
    _shared: dict[str, Target] = field(default_factory=dict)

    @property
    def session(self) -> Session:
        return self.driver.session

    def auth(self, persona: Persona) -> dict[str, str]:
        return self.headers[persona]

    def shared(self, name: str, build: Callable[[], Target]) -> Target:
        if name not in self._shared:
            self._shared[name] = build()
        return self._shared[name]

    def writes(self) -> tuple[int, int, int]:
        """How many audit events, outbox rows and tasks exist (a refusal adds none)."""
        self.session.rollback()
        counts = tuple(
            self.session.exec(select(func.count()).select_from(table)).one()
            for table in (AuditEvent, OutboxMessage, Task)
        )
        self.session.rollback()
        return counts  # type: ignore[return-value]

    # Agreements in each state --------------------------------------------------------------
    def new_agreement(self) -> Agreement:
        agreement = self.driver.create()
        self.keys.append(agreement.key)
        return agreement

    def _target(self, agreement: Agreement, number: int = 1) -> Target:
        assert agreement.id is not None
        version = self.driver.version(agreement, number)
        return Target(agreement.id, number, lock_version=version.lock_version)

    def draft(self) -> Target:
        return self._target(self.new_agreement())

    def joint_review(self) -> Target:
        agreement = self.new_agreement()
        self.driver.to_joint_review(agreement)
        target = self._target(agreement)
        review = next(t for t in self.driver.open_tasks(agreement, "review") if t.side == C.value)
        target.task_id = review.id
        return target

    def gap_analysis(self) -> Target:
        agreement = self.new_agreement()
        self.driver.to_gap_analysis(agreement)
        target = self._target(agreement)
        gap = self.session.exec(
            select(Gap).where(Gap.agreement_id == agreement.id).order_by(col(Gap.id))
        ).first()
        assert gap is not None
        target.gap_id = gap.id
        self.session.rollback()
        return target

    def ready_for_approval(self) -> Target:
        """Gap analysis with every gap resolved and every task done."""
        agreement = self.new_agreement()
        self.driver.to_gap_analysis(agreement)
        self.driver.resolve_all_gaps(agreement)
        for kind in ("confirm_requirements", "confirm_capabilities", "lcce_review"):
            self.driver.complete_all(agreement, kind, "done")
        return self._target(agreement)

    def approval(self) -> Target:
        agreement = self.new_agreement()
        self.driver.to_approval(agreement)
        return self._target(agreement)

    def active(self) -> Target:
        agreement = self.new_agreement()
        self.driver.to_active(agreement)
        return self._target(agreement)

    def period(self, state: str = "open") -> Target:
        """An active agreement with November's data and its 2026-11 period in `state`."""
        agreement = self.new_agreement()
        self.driver.to_active(agreement)
        assert agreement.id is not None
        store(self.session, agreement.id, NOVEMBER)
        commands.open_due_periods(self.session, now=DEC_1)
        submit: Step = ("submit", (P, Role.PROGRAM_MANAGER), None)
        review = (C, Role.FUNCTIONAL_LEAD)
        steps: dict[str, list[Step]] = {
            "open": [],
            "submitted": [submit],
            "disputed": [
                submit,
                ("dispute", review, [{"metric": "proper-payments", "reason": "late"}]),
            ],
            "final": [submit, ("accept", review, None)],
        }
        for event, (side, role), disputes in steps[state]:
            commands.fire_period_event(
                self.session,
                actor=self.driver.who(side, role),
                agreement_id=agreement.id,
                period=PERIOD,
                event=event,
                now=DEC_1 + timedelta(minutes=len(self.keys)),
                comment=None,
                disputes=disputes,
            )
        self.session.rollback()
        found = self.session.exec(
            select(ReportingPeriod.state).where(ReportingPeriod.agreement_id == agreement.id)
        ).one()
        assert found == state
        return self._target(agreement)

    def proposal(self, *, accepted: bool = False) -> Target:
        """An open period with the provider's excusal of a miss proposed to the customer
        (`proposal_id`), or accepted by now (`excusal_id` of the excusal in force)."""
        target = self.period("open")
        proposal = commands.excuse_miss(
            self.session,
            actor=self.driver.who(P, Role.PROGRAM_MANAGER),
            agreement_id=target.sla_id,
            metric="proper-payments",
            window=PERIOD,
            party="customer",
            reason="the customer's data arrived late",
            now=DEC_1 + timedelta(minutes=len(self.keys)),
        )
        assert proposal.id is not None
        target.ids["proposal_id"] = proposal.id
        if accepted:
            accept(self.driver, proposal, DEC_1 + timedelta(minutes=len(self.keys), seconds=1))
            excusal = self.session.exec(
                select(Excusal.id).where(Excusal.agreement_id == target.sla_id)
            ).one()
            assert excusal is not None
            target.ids["excusal_id"] = excusal
        self.session.rollback()
        return target

    # Things that are not agreements ---------------------------------------------------------
    def throwaway_token(self) -> Target:
        """A token of the customer's Technical Lead that a cell may revoke."""
        owner = self.driver.who(C, Role.TECHNICAL_LEAD)
        token, _ = commands.create_token(
            self.session, actor=None, user_id=owner.user_id, now=self.driver.tick()
        )
        assert token.id is not None
        return Target(0, ids={"token_id": token.id})

    def dead_notification(self) -> Target:
        """An outbox row given up on (as the dispatcher leaves one after its last attempt)."""
        self.active()  # its lifecycle queues mail, whatever cells ran before this one
        row = self.session.exec(
            select(OutboxMessage.id)
            .where(OutboxMessage.status == "pending")
            .order_by(col(OutboxMessage.id))
        ).first()
        assert row is not None
        self.session.execute(
            text(
                "UPDATE outbox_message SET status = 'dead', attempts = 5, "
                "last_error = '554 refused' WHERE id = :id"
            ),
            {"id": row},
        )
        self.session.commit()
        return Target(0, ids={"notification_id": row})

    def catalog_measure(self) -> int:
        def imported() -> Target:
            commands.import_catalog(
                self.session,
                actor=None,
                filename="hr.xlsx",
                content=hr_workbook(),
                now=self.driver.tick(),
            )
            measure = self.session.exec(
                select(CatalogMeasure.id).order_by(col(CatalogMeasure.id))
            ).first()
            assert measure is not None
            self.session.rollback()
            return Target(0, ids={"measure_id": measure})

        return self.shared("catalog", imported).ids["measure_id"]

    def user_id(self, name: str) -> int:
        return self.people[name].user_id


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def populate(client: TestClient, driver: World) -> RouteWorld:
    """Tokens for every stakeholder, a stranger, a bystander, an administrator and a revoked
    token; the catalogue and shared agreements are built on first use."""
    session, now = driver.session, driver.now
    headers: dict[Persona, dict[str, str]] = {ANONYMOUS: {}}
    for key, actor in driver.parties.actors.items():
        headers[key] = bearer(
            commands.create_token(session, actor=None, user_id=actor.user_id, now=now)[1]
        )
    third = commands.create_organization(session, actor=None, name="Third Agency", now=now)
    admins = commands.create_organization(session, actor=None, name="Accord Operations", now=now)
    assert third.id is not None
    assert admins.id is not None
    people = {
        STRANGER: _user(session, "olga@third.example", "Olga Outsider", third.id, now),
        BYSTANDER: _user(
            session, "bob@customer.example", "Bob Bystander", driver.parties.customer_org_id, now
        ),
        "deputy": _user(
            session, "dee@customer.example", "Dee Deputy", driver.parties.customer_org_id, now
        ),
        ADMIN: _user(session, "root@accord.example", "Ada Admin", admins.id, now, admin=True),
    }
    for name in (STRANGER, BYSTANDER, ADMIN):
        _, plain = commands.create_token(session, actor=None, user_id=people[name].user_id, now=now)
        headers[name] = bearer(plain)
    pm = driver.who(C, Role.PROGRAM_MANAGER)
    revoked, plain = commands.create_token(session, actor=None, user_id=pm.user_id, now=now)
    assert revoked.id is not None
    commands.revoke_token(session, actor=None, token_id=revoked.id, now=now)
    headers[REVOKED] = bearer(plain)
    return RouteWorld(client, driver, headers, people)


def _user(
    session: Session, email: str, name: str, org_id: int, now: datetime, *, admin: bool = False
) -> Actor:
    user = commands.create_user(
        session,
        actor=None,
        email=email,
        name=name,
        organization_id=org_id,
        is_admin=admin,
        now=now,
    )
    return Actor.of(user)
