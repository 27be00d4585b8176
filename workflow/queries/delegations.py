"""Delegations in force for an agreement: who stands in today for its role holders."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from states import Role, Side
from workflow.access import Actor
from workflow.models import Delegation, StakeholderAssignment
from workflow.queries.agreements import visible_agreement
from workflow.queries.common import Person, View, people


class DelegationInForce(View):
    side: Side
    roles: list[Role]  # what the delegator holds on this agreement
    delegator: Person
    delegate: Person
    starts_on: date
    ends_on: date


def delegations_in_force(
    session: Session, actor: Actor, agreement_id: int, *, today: date
) -> list[DelegationInForce]:
    """Delegations, not revoked and covering `today`, given by the agreement's role holders.
    The same people the agreement's blockers name as delegates, for every holder."""
    visible_agreement(session, actor, agreement_id)
    held: dict[int, tuple[Side, list[Role]]] = {}
    for row in session.exec(
        select(StakeholderAssignment)
        .where(StakeholderAssignment.agreement_id == agreement_id)
        .order_by(col(StakeholderAssignment.id))
    ):
        held.setdefault(row.user_id, (Side(row.side), []))[1].append(Role(row.role))
    if not held:
        return []
    rows = session.exec(
        select(Delegation)
        .where(
            col(Delegation.delegator_id).in_(held),
            col(Delegation.revoked_at).is_(None),
            Delegation.starts_on <= today,
            Delegation.ends_on >= today,
        )
        .order_by(col(Delegation.id))
    ).all()
    users = people(session, [d.delegator_id for d in rows] + [d.delegate_id for d in rows])
    return [
        DelegationInForce(
            side=held[d.delegator_id][0],
            roles=held[d.delegator_id][1],
            delegator=users[d.delegator_id],
            delegate=users[d.delegate_id],
            starts_on=d.starts_on,
            ends_on=d.ends_on,
        )
        for d in rows
    ]
