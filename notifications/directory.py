"""What resolving a batch of outbox rows needs to know about people, loaded once per batch:
users, stakeholder assignments, today's delegations, notification preferences and earlier
deliveries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, col, select

from notifications.links import make_token
from notifications.preferences import effective_mode, group_of
from notifications.recipient_spec import Request, Spec
from states import Role, Side
from workflow.models import (
    Delegation,
    NotificationDelivery,
    NotificationPreference,
    StakeholderAssignment,
    User,
)


@dataclass(frozen=True)
class Person:
    user_id: int
    name: str
    email: str


@dataclass
class Directory:
    """Users, assignments, delegations, preferences and earlier deliveries for a batch, in
    six queries."""

    users: dict[int, User] = field(default_factory=dict)
    assignments: dict[int, dict[tuple[Side, Role], int]] = field(default_factory=dict)
    delegate_of: dict[int, int] = field(default_factory=dict)
    delivered: dict[int, set[int]] = field(default_factory=dict)
    chosen: dict[int, dict[str, str]] = field(default_factory=dict)  # user -> group -> mode
    link_key: str | None = None

    @classmethod
    def load(
        cls, session: Session, specs: Mapping[int, tuple[Request, Spec]], *, today: date
    ) -> Directory:
        directory = cls()
        agreement_ids = {
            r.agreement_id for r, s in specs.values() if s.needs_agreement and r.agreement_id
        }
        if agreement_ids:
            for a in session.exec(
                select(StakeholderAssignment).where(
                    col(StakeholderAssignment.agreement_id).in_(agreement_ids)
                )
            ):
                directory.assignments.setdefault(a.agreement_id, {})[
                    (Side(a.side), Role(a.role))
                ] = a.user_id
        principals = {u for _, s in specs.values() for u in s.user_ids}
        for held in directory.assignments.values():
            principals.update(held.values())
        if principals:
            # The newest delegation wins when someone set up two for the same day.
            for d in session.exec(
                select(Delegation)
                .where(
                    col(Delegation.delegator_id).in_(principals),
                    col(Delegation.revoked_at).is_(None),
                    Delegation.starts_on <= today,
                    Delegation.ends_on >= today,
                )
                .order_by(col(Delegation.id))
            ):
                directory.delegate_of[d.delegator_id] = d.delegate_id
        wanted = principals | set(directory.delegate_of.values())
        if wanted:
            directory.users = {
                u.id: u
                for u in session.exec(select(User).where(col(User.id).in_(wanted)))
                if u.id is not None
            }
            for p in session.exec(
                select(NotificationPreference).where(
                    col(NotificationPreference.user_id).in_(wanted)
                )
            ):
                directory.chosen.setdefault(p.user_id, {})[p.topic_group] = p.mode
        if specs:
            for outbox_id, user_id in session.exec(
                select(NotificationDelivery.outbox_id, NotificationDelivery.user_id).where(
                    col(NotificationDelivery.outbox_id).in_(list(specs))
                )
            ):
                directory.delivered.setdefault(outbox_id, set()).add(user_id)
        return directory

    def person(self, user_id: int) -> Person | None:
        """The user if they exist and are active."""
        user = self.users.get(user_id)
        if user is None or not user.is_active:
            return None
        return Person(user_id, user.name, user.email)

    def roles_on(self, agreement_id: int | None, user_id: int) -> list[str]:
        held = self.assignments.get(agreement_id or 0, {})
        return [role.value for (_, role), holder in held.items() if holder == user_id]

    def mode(
        self, user_id: int, topic: str | None, roles: Sequence[str], *, broadcast: bool
    ) -> str:
        user = self.users.get(user_id)
        return effective_mode(
            group_of(topic) if topic is not None else None,
            self.chosen.get(user_id, {}),
            roles,
            broadcast=broadcast,
            overall=user.notification_mode if user is not None else "immediate",
            topic=topic,
        )

    def token(self, user_id: int, group: str | None) -> str | None:
        if self.link_key is None or group is None:
            return None
        return make_token(self.link_key, user_id, group)
