"""Who is signed in to the pages, and what the pages' frame shows about them."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from states import Role
from workflow.access import Actor
from workflow.models import Organization, StakeholderAssignment
from workflow.models.parties import User, WebSession
from workflow.passwords import hash_session_token
from workflow.queries.common import View

# Roles whose daily work is the approval queue; everyone else starts on their tasks.
APPROVER_ROLES = (Role.BUSINESS_OWNER, Role.EXECUTIVE_SPONSOR)


class Viewer(View):
    """The signed-in person as every page shows them."""

    user_id: int
    name: str
    email: str
    organization: str
    is_admin: bool
    approver: bool  # holds an approving role in some agreement: lands on the approval queue


def signed_in(session: Session, token: str, now: datetime) -> Actor | None:
    """The person whose open, unexpired session has this token; None otherwise."""
    user = session.exec(
        select(User)
        .join(WebSession, col(WebSession.user_id) == col(User.id))
        .where(
            WebSession.token_hash == hash_session_token(token),
            col(WebSession.revoked_at).is_(None),
            WebSession.expires_at > now,
            col(User.is_active).is_(True),
        )
    ).first()
    return Actor.of(user) if user is not None else None


def viewer(session: Session, actor: Actor) -> Viewer:
    organization = session.get(Organization, actor.organization_id)
    approver = session.exec(
        select(StakeholderAssignment.id)
        .where(
            StakeholderAssignment.user_id == actor.user_id,
            col(StakeholderAssignment.role).in_([r.value for r in APPROVER_ROLES]),
        )
        .limit(1)
    ).first()
    return Viewer(
        user_id=actor.user_id,
        name=actor.name,
        email=actor.email,
        organization=organization.name if organization is not None else "",
        is_admin=actor.is_admin,
        approver=approver is not None,
    )
