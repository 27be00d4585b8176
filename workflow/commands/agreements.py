"""Creating agreements and setting their stakeholders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, delete, select

from states import (
    DEFAULT_DISPUTE_BUSINESS_DAYS,
    DEFAULT_DISPUTE_ROUNDS,
    DEFAULT_REPORTING_DAY,
    LIFECYCLE,
    Role,
    Side,
)
from workflow.access import Actor, require_role
from workflow.calendar import local_date
from workflow.canonical import content_hash
from workflow.command import command
from workflow.content import Content, dump_metrics, dump_terms
from workflow.db import is_postgres
from workflow.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
)
from workflow.models import (
    Agreement,
    AgreementKeySequence,
    AgreementVersion,
    Organization,
    StakeholderAssignment,
    Task,
    User,
)
from workflow.permissions import (
    actor_grants,
    lock_agreement,
)
from workflow.snapshots import version_summary


@dataclass(frozen=True)
class StakeholderInput:
    side: Side
    role: Role
    user_id: int


def create_agreement(
    session: Session,
    *,
    actor: Actor,
    title: str,
    customer_org_id: int,
    provider_org_id: int,
    content: Content,
    stakeholders: Sequence[StakeholderInput],
    now: datetime,
    remedy_policy: str = "corrective_action",
    allow_editor_approval: bool = False,
    executive_approval_threshold_pct: Decimal = Decimal("10"),
    reporting_period: str = "month",
    reporting_day: int = DEFAULT_REPORTING_DAY,
    annual_review_days_before_end: int = LIFECYCLE.governance.annual_review_days_before_end,
    dispute_escalation_rounds: int = DEFAULT_DISPUTE_ROUNDS,
    dispute_escalation_business_days: int = DEFAULT_DISPUTE_BUSINESS_DAYS,
) -> Agreement:
    """A new agreement with version 1 in draft; the actor's organisation must be a party."""
    with command(session) as tx:
        _check_parties(session, actor, customer_org_id, provider_org_id)
        agreement = Agreement(
            key=_next_key(session, now.year),
            title=title,
            customer_org_id=customer_org_id,
            provider_org_id=provider_org_id,
            remedy_policy=remedy_policy,
            allow_editor_approval=allow_editor_approval,
            executive_approval_threshold_pct=executive_approval_threshold_pct,
            reporting_period=reporting_period,
            reporting_day=reporting_day,
            annual_review_days_before_end=annual_review_days_before_end,
            dispute_escalation_rounds=dispute_escalation_rounds,
            dispute_escalation_business_days=dispute_escalation_business_days,
            created_by_id=actor.user_id,
            created_at=now,
        )
        session.add(agreement)
        session.flush()
        assert agreement.id is not None
        _replace_stakeholders(session, agreement, stakeholders)
        version = _first_draft(session, agreement, actor, content, now)
        tx.audit(
            action="agreement.created",
            now=now,
            agreement_id=agreement.id,
            version_id=version.id,
            actor_id=actor.user_id,
            data=_created_data(agreement, version, stakeholders),
        )
    return agreement


def _check_parties(
    session: Session, actor: Actor, customer_org_id: int, provider_org_id: int
) -> None:
    """Two distinct, known organisations, one of them the actor's."""
    if customer_org_id == provider_org_id:
        raise InvalidInput(
            "customer and provider must be different organisations",
            [{"field": "provider_org_id", "message": "must differ from customer_org_id"}],
        )
    for field, org_id in (
        ("customer_org_id", customer_org_id),
        ("provider_org_id", provider_org_id),
    ):
        if session.get(Organization, org_id) is None:
            raise InvalidInput(
                f"no organisation {org_id}", [{"field": field, "message": "unknown"}]
            )
    if actor.organization_id not in (customer_org_id, provider_org_id):
        raise Forbidden("you can only create agreements your own organisation is party to")


def _first_draft(
    session: Session, agreement: Agreement, actor: Actor, content: Content, now: datetime
) -> AgreementVersion:
    """Version 1 in the initial state, drafted by the actor's side."""
    assert agreement.id is not None
    side = agreement.side_of_org(actor.organization_id)
    assert side is not None
    terms, metrics = dump_terms(content.terms), dump_metrics(content.metrics)
    version = AgreementVersion(
        agreement_id=agreement.id,
        number=1,
        modification_number=0,
        state=LIFECYCLE.initial,
        terms=terms,
        metrics=metrics,
        content_hash=content_hash(terms, metrics),
        drafting_side=side.value,
        created_by_id=actor.user_id,
        last_edited_by_id=actor.user_id,
        created_at=now,
        state_changed_at=now,
    )
    session.add(version)
    session.flush()
    return version


def _created_data(
    agreement: Agreement, version: AgreementVersion, stakeholders: Sequence[StakeholderInput]
) -> dict[str, Any]:
    return {
        "key": agreement.key,
        "title": agreement.title,
        "customer_org_id": agreement.customer_org_id,
        "provider_org_id": agreement.provider_org_id,
        "remedy_policy": agreement.remedy_policy,
        "reporting_period": agreement.reporting_period,
        "reporting_day": agreement.reporting_day,
        "annual_review_days_before_end": agreement.annual_review_days_before_end,
        "dispute_escalation_rounds": agreement.dispute_escalation_rounds,
        "dispute_escalation_business_days": agreement.dispute_escalation_business_days,
        "stakeholders": [
            {"side": s.side.value, "role": s.role.value, "user_id": s.user_id} for s in stakeholders
        ],
        "after": version_summary(version),
    }


def _next_key(session: Session, year: int) -> str:
    dialect_insert = postgresql.insert if is_postgres(session) else sqlite.insert
    session.execute(
        dialect_insert(AgreementKeySequence)
        .values(year=year, last=0)
        .on_conflict_do_nothing(index_elements=["year"])
    )
    seq = session.exec(
        select(AgreementKeySequence).where(AgreementKeySequence.year == year).with_for_update()
    ).one()
    seq.last += 1
    session.add(seq)
    return f"SLA-{year}-{seq.last:04d}"


def _replace_stakeholders(
    session: Session, agreement: Agreement, stakeholders: Sequence[StakeholderInput]
) -> None:
    seen: set[tuple[Side, Role]] = set()
    errors = []
    wanted = {s.user_id for s in stakeholders}
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(wanted)))}
    for i, s in enumerate(stakeholders):
        if (s.side, s.role) in seen:
            errors.append({"field": f"stakeholders.{i}", "message": "role assigned twice"})
            continue
        seen.add((s.side, s.role))
        user = users.get(s.user_id)
        if user is None or not user.is_active:
            errors.append({"field": f"stakeholders.{i}.user_id", "message": "unknown user"})
        elif user.organization_id != agreement.org_of(s.side):
            errors.append(
                {
                    "field": f"stakeholders.{i}.user_id",
                    "message": f"{user.email} does not belong to the {s.side.value}",
                }
            )
    if errors:
        raise InvalidInput("invalid stakeholders", errors)
    session.execute(
        delete(StakeholderAssignment).where(
            StakeholderAssignment.agreement_id == agreement.id  # type: ignore[arg-type]
        )
    )
    session.flush()
    session.add_all(
        StakeholderAssignment(
            agreement_id=agreement.id,  # type: ignore[arg-type]
            side=s.side.value,
            role=s.role.value,
            user_id=s.user_id,
        )
        for s in stakeholders
    )
    session.flush()


def set_stakeholders(
    session: Session,
    *,
    actor: Actor,
    agreement_id: int,
    stakeholders: Sequence[StakeholderInput],
    now: datetime,
) -> Agreement:
    """Replace the role assignments; open tasks follow their role to its new holder."""
    with command(session) as tx:
        agreement = lock_agreement(session, agreement_id, actor)
        grant = require_role(
            actor_grants(session, agreement, actor, local_date(now)),
            LIFECYCLE.action("set_stakeholders").roles,
            "changing stakeholders",
        )
        before = _assignment_list(session, agreement)
        _replace_stakeholders(session, agreement, stakeholders)
        holders = {(s.side.value, s.role.value): s.user_id for s in stakeholders}
        moved = []
        open_tasks = session.exec(
            select(Task).where(Task.agreement_id == agreement.id, Task.state == "open")
        ).all()
        for task in open_tasks:
            new = holders.get((task.side, task.role)) or holders.get(
                (task.side, Role.PROGRAM_MANAGER.value)
            )
            if new != task.assignee_id:
                moved.append({"task_id": task.id, "from": task.assignee_id, "to": new})
                task.assignee_id = new
                task.next_step_at = None  # the sweep plans a moved task afresh
                session.add(task)
        tx.audit(
            action="agreement.stakeholders_set",
            now=now,
            agreement_id=agreement.id,
            actor_id=actor.user_id,
            on_behalf_of_id=grant.on_behalf_of_id,
            data={"before": before, "after": _assignment_list(session, agreement), "moved": moved},
        )
    return agreement


def _assignment_list(session: Session, agreement: Agreement) -> list[dict[str, Any]]:
    rows = session.exec(
        select(StakeholderAssignment)
        .where(StakeholderAssignment.agreement_id == agreement.id)
        .order_by(col(StakeholderAssignment.side), col(StakeholderAssignment.role))
    ).all()
    return [{"side": r.side, "role": r.role, "user_id": r.user_id} for r in rows]


def agreement_or_404(session: Session, agreement_id: int) -> Agreement:
    agreement = session.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFound("no such agreement")
    return agreement
