"""Who may fire which event now: the spec's `fired_by`, applied to an actor's grants."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from states import LIFECYCLE, FiredBy, Side, Transition
from workflow.access import Actor, Grant, grants, grants_from, require_party
from workflow.db import is_postgres
from workflow.errors import Forbidden, NotAllowedNow, NotFound
from workflow.guards import VersionContext
from workflow.models import Agreement, AgreementVersion, Organization, Task


def lock_agreement(session: Session, agreement_id: int, actor: Actor | None) -> Agreement:
    """Load the agreement for a command, row-locked on PostgreSQL; 404 to non-parties."""
    stmt = select(Agreement).where(Agreement.id == agreement_id)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    agreement = session.exec(stmt).first()
    if actor is None:
        if agreement is None:
            raise NotFound("no such agreement")
        return agreement
    return require_party(agreement, actor)


def _locked_version_statement(version_match: sa.ColumnElement[bool]) -> Any:
    """Agreement, one of its versions and both sides' holiday calendars, in one statement."""
    customer, provider = aliased(Organization), aliased(Organization)
    return (
        select(Agreement, AgreementVersion, customer.holiday_calendar, provider.holiday_calendar)
        .join(
            AgreementVersion,
            sa.and_(col(AgreementVersion.agreement_id) == Agreement.id, version_match),
        )
        .join(customer, col(customer.id) == Agreement.customer_org_id)
        .join(provider, col(provider.id) == Agreement.provider_org_id)
        .where(Agreement.id == sa.bindparam("agreement_id"))
    )


# Built once (bound parameters, not literals), so each command only looks up the compiled form.
_BY_NUMBER = _locked_version_statement(col(AgreementVersion.number) == sa.bindparam("number"))
_BY_ID = _locked_version_statement(col(AgreementVersion.id) == sa.bindparam("version_id"))
# PostgreSQL: the version row is locked too, not only the agreement. Under READ COMMITTED a
# statement that waited for a lock returns the *locked* rows as committed by the lock's
# previous holder, but rows it merely joined as they were when the statement started, i.e.
# possibly before that holder's commit. Locking the version makes it fresh as well.
_LOCKED = {
    False: {"number": _BY_NUMBER, "id": _BY_ID},
    True: {
        "number": _BY_NUMBER.with_for_update(of=[Agreement, AgreementVersion]),
        "id": _BY_ID.with_for_update(of=[Agreement, AgreementVersion]),
    },
}


def lock_version(
    session: Session,
    agreement_id: int,
    actor: Actor,
    *,
    number: int | None = None,
    version_id: int | None = None,
) -> tuple[Agreement, AgreementVersion, dict[Side, str]]:
    """`lock_agreement` and `version_by_number` (or by id) in one round trip.

    Also returns each side's holiday calendar, which opening tasks needs for due dates.
    """
    statements = _LOCKED[is_postgres(session)]
    if number is not None:
        row = session.exec(
            statements["number"], params={"agreement_id": agreement_id, "number": number}
        ).first()
    else:
        row = session.exec(
            statements["id"], params={"agreement_id": agreement_id, "version_id": version_id}
        ).first()
    if row is None:
        # No such agreement, not a party to it, or no such version: refuse as the separate
        # steps do (a non-party learns nothing about versions).
        agreement = lock_agreement(session, agreement_id, actor)
        if number is not None:
            raise NotFound(f"{agreement.key} has no version {number}")
        raise NotFound("the task's version no longer exists")
    agreement, version, customer_calendar, provider_calendar = row
    require_party(agreement, actor)
    return agreement, version, {Side.CUSTOMER: customer_calendar, Side.PROVIDER: provider_calendar}


def version_by_number(session: Session, agreement: Agreement, number: int) -> AgreementVersion:
    version = session.exec(
        select(AgreementVersion).where(
            AgreementVersion.agreement_id == agreement.id, AgreementVersion.number == number
        )
    ).first()
    if version is None:
        raise NotFound(f"{agreement.key} has no version {number}")
    return version


def task_for(ctx: VersionContext, actor: Actor, kind: str, day: date) -> tuple[Task, int | None]:
    """The actor's open task of `kind` (their own first), and on whose behalf they hold it."""
    principals = [actor.user_id, *ctx.delegators(actor.user_id, day)]
    for principal in principals:
        for task in ctx.open_tasks(kind):
            if task.assignee_id == principal:
                return task, None if principal == actor.user_id else principal
    raise Forbidden(f"only the holder of an open {kind} task (or their delegate) may do this")


def holds_task(ctx: VersionContext, actor: Actor, kind: str, day: date) -> bool:
    try:
        task_for(ctx, actor, kind, day)
    except Forbidden:
        return False
    return True


def may_fire(
    ctx: VersionContext, transition: Transition, actor: Actor, grants_: list[Grant], day: date
) -> bool:
    if transition.fired_by is FiredBy.SYSTEM:
        return False
    if transition.fired_by is FiredBy.ROLES:
        return any(g.role in transition.roles for g in grants_)
    assert transition.task_kind is not None
    return holds_task(ctx, actor, transition.task_kind, day)


def allowed_events(ctx: VersionContext, actor: Actor, grants_: list[Grant], day: date) -> list[str]:
    """Events the actor may fire from the version's current state (guards not evaluated)."""
    return [
        t.event
        for t in LIFECYCLE.events_from(ctx.version.state)
        if may_fire(ctx, t, actor, grants_, day)
    ]


def not_allowed_now(
    ctx: VersionContext, actor: Actor, event: str, grants_: list[Grant], day: date
) -> NotAllowedNow:
    allowed = allowed_events(ctx, actor, grants_, day)
    return NotAllowedNow(
        f"{event} is not allowed while version {ctx.version.number} is {ctx.version.state}"
        + (f"; you may: {', '.join(allowed)}" if allowed else ""),
        current_state=ctx.version.state,
        allowed_events=allowed,
    )


def context_grants(ctx: VersionContext, actor: Actor, day: date) -> list[Grant]:
    """The actor's grants from the agreement's role holders and the actor's delegators."""
    ctx.load_grants(actor.user_id, day)
    return grants_from(ctx.assignments, actor.user_id, ctx.delegators(actor.user_id, day))


def actor_grants(session: Session, agreement: Agreement, actor: Actor, day: date) -> list[Grant]:
    assert agreement.id is not None
    return grants(session, agreement.id, actor, day)
