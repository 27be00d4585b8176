"""`accord demo`: the example SLA's people and agreements in several states, made by commands.

Every row comes from a `workflow.commands` call, through the same `LifecycleDriver` the tests use,
so the demo's audit trail verifies and its tasks, gaps and outbox
messages are the ones real use would produce.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from api.demo_corrective import add_corrective_action_story
from api.demo_governance import add_service_review
from api.demo_history import HISTORY, add_history
from api.demo_proposals import propose_excusal
from states import Role, Side
from workflow import commands
from workflow.access import Actor
from workflow.commands.sign_in import set_passwords
from workflow.example import LifecycleDriver, example_content, load_example, seed_parties
from workflow.models import Agreement, AgreementVersion, Organization

C, P = Side.CUSTOMER, Side.PROVIDER
ADMIN_ORG = "Accord Administration"
ADMIN_EMAIL = "admin@accord.example"
ADMIN_NAME = "Ada Admin"
# Reads every audit trail and verifies the chains; changes nothing.
AUDITOR_EMAIL = "auditor@accord.example"
AUDITOR_NAME = "Avery Auditor"
DEFAULT_TOKENS_FILE = Path("var/demo-tokens.txt")
# Next to the tokens file: the demo users' one password, for `accord demo --show-password`.
SIGN_IN_FILE_NAME = "demo-password.txt"

# Steps are spaced out and end before `now`, so the story reads in order and lies in the past.
_STEP = timedelta(seconds=10)
_LEAD_TIME = timedelta(hours=1)


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: str  # "customer business_owner", or "administrator"
    token: str

    def line(self) -> str:
        return f"{self.email} {self.token} {self.name} ({self.role})"


@dataclass(frozen=True)
class DemoAgreement:
    id: int
    key: str
    title: str
    versions: list[tuple[int, str]]  # (number, state), oldest first


@dataclass
class DemoResult:
    users: list[DemoUser] = field(default_factory=list)
    agreements: list[DemoAgreement] = field(default_factory=list)
    password: str = ""  # every demo user's, for the pages
    period: str | None = None  # the reporting period waiting for the customer's review
    proposal_id: int | None = None  # the provider's excusal waiting for the customer
    service_review: str | None = None  # the quarter whose service review was held, with minutes


def has_organisations(session: Session) -> bool:
    found = session.exec(select(Organization.id).limit(1)).first() is not None
    session.rollback()  # end the read; the commands open their own write transactions
    return found


class _Driver(LifecycleDriver):
    """The shared lifecycle driver, plus the demo's own agreements and revision."""

    def create(self, title: str, by: Actor) -> Agreement:
        return commands.create_agreement(
            self.session,
            actor=by,
            title=title,
            customer_org_id=self.parties.customer_org_id,
            provider_org_id=self.parties.provider_org_id,
            content=example_content(self.document),
            stakeholders=self.parties.stakeholders(),
            remedy_policy=self.document.get("remedy_policy", "corrective_action"),
            now=self.tick(),
        )

    def start_revision(self, agreement: Agreement) -> None:
        """Version 2 in draft: a provider-driven target change and a higher annual cost."""
        revision = commands.start_revision(
            self.session,
            actor=self.who(P, Role.BUSINESS_OWNER),
            agreement_id=_id(agreement),
            now=self.tick(),
        )
        metrics = [dict(m) for m in revision.metrics]
        for metric in metrics:
            if metric["key"] == "customer-satisfaction":
                metric["target"] = 85.0
                metric["target_change"] = {
                    "driven_by": "customer",
                    "reason": "the FY2028 service strategy asks for higher satisfaction",
                }
        commands.edit_draft(
            self.session,
            actor=self.who(C, Role.FUNCTIONAL_LEAD),
            agreement_id=_id(agreement),
            number=revision.number,
            expected_lock_version=revision.lock_version,
            terms={"annual_cost": "5092500.00"},
            metrics=metrics,
            now=self.tick(),
        )


def _id(agreement: Agreement) -> int:
    assert agreement.id is not None
    return agreement.id


# (title, how far its version 1 goes); the first keeps the example's own title.
_STORIES: tuple[tuple[str | None, str], ...] = (
    (None, "active_with_revision"),
    ("Financial Reporting Services O&M SLA FY2027", "approval"),
    ("Travel and Expense Services O&M SLA FY2027", "gap_analysis"),
    ("Grants Payment Services O&M SLA FY2027", "joint_review"),
    ("Procurement Services O&M SLA FY2028", "draft"),
)


def load_demo(
    session: Session,
    *,
    now: datetime,
    document: dict[str, Any] | None = None,
    password: str | None = None,
) -> DemoResult:
    """Create the example's parties, an administrator, tokens, one password for all of them
    (drawn at random unless given) and five agreements."""
    document = document if document is not None else load_example()
    # The active agreement's story starts eight weeks back, so it has measurements and a
    # reporting period; the others are made in the last hour.
    start = now - HISTORY
    parties = seed_parties(session, document, now=start)
    driver = _Driver(session, parties, document, start, step=_STEP)
    result = DemoResult()
    for (side, role), actor in driver.parties.actors.items():
        role_name = f"{side.value} {role.value}"
        result.users.append(_with_token(session, actor, role_name, driver.tick()))
    admin_org = commands.create_organization(session, actor=None, name=ADMIN_ORG, now=driver.tick())
    admin = commands.create_user(
        session,
        actor=None,
        email=ADMIN_EMAIL,
        name=ADMIN_NAME,
        organization_id=admin_org.id,  # type: ignore[arg-type]
        is_admin=True,
        now=driver.tick(),
    )
    auditor = commands.create_user(
        session,
        actor=None,
        email=AUDITOR_EMAIL,
        name=AUDITOR_NAME,
        organization_id=admin_org.id,  # type: ignore[arg-type]
        role="global_auditor",
        now=driver.tick(),
    )
    result.users.append(_with_token(session, Actor.of(auditor), "global auditor", driver.tick()))
    result.users.append(_with_token(session, Actor.of(admin), "administrator", driver.tick()))
    result.password = password or secrets.token_urlsafe(12)
    set_passwords(
        session,
        actor=None,
        emails=[user.email for user in result.users],
        password=result.password,
        now=driver.tick(),
    )

    # Its story runs in the past from `start` and gives the clock back (api/demo_corrective.py).
    corrective = add_corrective_action_story(driver, driver.create, until=now - _LEAD_TIME)
    for title, story in _STORIES:
        # The draft is the provider's, so both sides appear as drafters.
        drafter = driver.who(P if story == "draft" else C, Role.PROGRAM_MANAGER)
        agreement = driver.create(title or document["title"], drafter)
        if story == "active_with_revision":
            driver.to_active(agreement)
            result.period = add_history(driver, agreement, until=now - _LEAD_TIME)
            if result.period is not None:
                result.proposal_id = propose_excusal(driver, agreement, result.period)
            result.service_review = add_service_review(driver, agreement)
            driver.start_revision(agreement)
        elif story == "approval":
            driver.to_approval(agreement)
        elif story == "gap_analysis":
            driver.to_gap_analysis(agreement)
        elif story == "joint_review":
            driver.to_joint_review(agreement)
        result.agreements.append(_summary(session, agreement))
    if corrective is not None:
        result.agreements.append(_summary(session, corrective))
    return result


def _with_token(session: Session, actor: Actor, role: str, now: datetime) -> DemoUser:
    _, token = commands.create_token(
        session, actor=None, user_id=actor.user_id, name="demo", now=now
    )
    return DemoUser(actor.email, actor.name, role, token)


def _summary(session: Session, agreement: Agreement) -> DemoAgreement:
    versions = session.exec(
        select(AgreementVersion.number, AgreementVersion.state)
        .where(AgreementVersion.agreement_id == agreement.id)
        .order_by(col(AgreementVersion.number))
    ).all()
    return DemoAgreement(_id(agreement), agreement.key, agreement.title, list(versions))


def write_tokens(path: Path, users: list[DemoUser]) -> None:
    """One `email token name (role)` line per user, readable only by the owner (tokens are
    secrets)."""
    _write_secret(path, "".join(user.line() + "\n" for user in users))


def write_password(tokens_file: Path, password: str) -> Path:
    """The demo password, beside the tokens file and as private: it is shown once at the
    end of a long demo output, and people look for it again."""
    path = tokens_file.parent / SIGN_IN_FILE_NAME
    _write_secret(path, password + "\n")
    return path


def read_password(tokens_file: Path) -> str | None:
    path = tokens_file.parent / SIGN_IN_FILE_NAME
    return path.read_text().strip() or None if path.is_file() else None


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)
