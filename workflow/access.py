"""Who is acting, and which roles they hold in an agreement (directly or as a delegate)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, select

from states import Role, Side
from workflow.errors import Forbidden, NotFound
from workflow.models import Agreement, Delegation, StakeholderAssignment, User


@dataclass(frozen=True)
class Actor:
    """The authenticated caller, detached from any session."""

    user_id: int
    organization_id: int
    is_admin: bool
    name: str
    email: str
    auditor_scope: str | None = None  # "organization" or "global": reads audit trails

    @classmethod
    def of(cls, user: User) -> Actor:
        assert user.id is not None
        return cls(
            user.id, user.organization_id, user.is_admin, user.name, user.email, user.auditor_scope
        )

    @property
    def audits_everything(self) -> bool:
        """Reads every agreement's trail and the system chain: admins and global auditors."""
        return self.is_admin or self.auditor_scope == "global"

    @property
    def may_audit(self) -> bool:
        """Reads audit trails beyond being a party: across their organisation, or all."""
        return self.is_admin or self.auditor_scope is not None


@dataclass(frozen=True)
class Grant:
    """A role the actor may use: their own (`on_behalf_of_id` None) or a delegator's."""

    side: Side
    role: Role
    on_behalf_of_id: int | None = None


def require_party(agreement: Agreement | None, actor: Actor) -> Agreement:
    """The agreement if the actor's organisation is a party to it; otherwise NotFound."""
    if agreement is None or agreement.side_of_org(actor.organization_id) is None:
        raise NotFound("no such agreement")
    return agreement


# Built once: every command asks this, and building the statement cost more than running it.
DELEGATORS = select(Delegation.delegator_id).where(
    Delegation.delegate_id == sa.bindparam("delegate_id"),
    col(Delegation.revoked_at).is_(None),
    Delegation.starts_on <= sa.bindparam("day"),
    Delegation.ends_on >= sa.bindparam("day"),
)


def delegators_of(session: Session, delegate_id: int, day: date) -> list[int]:
    """Users who delegated their tasks to `delegate_id` for `day`."""
    rows = session.exec(DELEGATORS, params={"delegate_id": delegate_id, "day": day}).all()
    return list(rows)


def grants(session: Session, agreement_id: int, actor: Actor, day: date) -> list[Grant]:
    """Every (side, role) the actor may act in on this agreement today."""
    delegators = delegators_of(session, actor.user_id, day)
    holders = [actor.user_id, *delegators]
    rows = session.exec(
        select(StakeholderAssignment).where(
            StakeholderAssignment.agreement_id == agreement_id,
            col(StakeholderAssignment.user_id).in_(holders),
        )
    ).all()
    return [
        Grant(Side(r.side), Role(r.role), None if r.user_id == actor.user_id else r.user_id)
        for r in rows
    ]


def grants_from(
    assignments: dict[tuple[Side, Role], int], actor_id: int, delegators: list[int]
) -> list[Grant]:
    """The same as `grants`, from assignments and delegations already loaded."""
    return [
        Grant(side, role, None if holder == actor_id else holder)
        for (side, role), holder in assignments.items()
        if holder == actor_id or holder in delegators
    ]


def require_role(grants_: Iterable[Grant], roles: Iterable[Role], what: str) -> Grant:
    """The first grant that holds one of `roles`, preferring the actor's own roles."""
    wanted = set(roles)
    usable = sorted(
        (g for g in grants_ if g.role in wanted), key=lambda g: g.on_behalf_of_id is not None
    )
    if not usable:
        names = " or ".join(r.label for r in wanted_in_order(roles))
        raise Forbidden(f"{what} needs the {names} of either side")
    return usable[0]


def wanted_in_order(roles: Iterable[Role]) -> list[Role]:
    return list(dict.fromkeys(roles))


def holder_of(session: Session, agreement_id: int, side: Side, role: Role) -> int | None:
    return session.exec(
        select(StakeholderAssignment.user_id).where(
            StakeholderAssignment.agreement_id == agreement_id,
            StakeholderAssignment.side == side.value,
            StakeholderAssignment.role == role.value,
        )
    ).first()
