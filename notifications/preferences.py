"""Which topic group each email belongs to, and what a person gets of each by default.

A person chooses per group (`workflow.models.notifications.TOPIC_GROUPS`): immediate, digest
or off. Without a choice:

- what is addressed to them or to a role they hold (a task, a reminder, an escalation, a
  renewal notice to the Business Owners and Program Managers) comes immediately;
- what is broadcast to every stakeholder of an agreement follows their role on that
  agreement (`ROLE_DEFAULTS`): decisions immediately to the Program Managers, who run the
  agreement (Business Owners and Executive Sponsors act through their approval tasks, which
  reach them at once), reports immediately to the Program Managers, PMO Leads and Functional
  Leads; everyone else reads them in their daily digest, and one approver's approval among
  several is in everyone's digest (`DIGEST_BY_DEFAULT`).

Task emails are never off: the database refuses the choice, and so does the command. The
old all-or-nothing `notification_mode` still holds: a person who chose the daily digest
there gets nothing immediately, whatever their groups say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlmodel import Session, select

from states import Role
from workflow.models import StakeholderAssignment
from workflow.models.notifications import PREFERENCE_MODES, TOPIC_GROUPS, UNSILENCEABLE_GROUPS

Group = Literal["tasks", "decisions", "reports", "governance"]
Mode = Literal["immediate", "digest", "off"]

GROUP_LABELS: dict[str, str] = {
    "tasks": "My tasks",
    "decisions": "Decisions on my agreements",
    "reports": "Reports",
    "governance": "Governance calendar",
}
GROUP_HINTS: dict[str, str] = {
    "tasks": "Tasks given to you or delegated to you, their reminders and escalations.",
    "decisions": "Reviews, gap analyses, approvals, activations, withdrawals and proposals "
    "on the agreements where you hold a role.",
    "reports": "Final period reports, their amendments, corrective action plans and "
    "chronic misses.",
    "governance": "Renewal notices and the annual and quarterly review calendar.",
}

TOPIC_GROUP: dict[str, Group] = {
    "task.assigned": "tasks",
    "task.reminder": "tasks",
    "task.escalated": "tasks",
    "delegation.started": "tasks",
    "review.requested": "decisions",
    "changes.requested": "decisions",
    "gap_analysis.opened": "decisions",
    "rework.requested": "decisions",
    "approval.requested": "decisions",
    "version.approved": "decisions",
    "version.approved_with_conditions": "decisions",
    "version.rejected": "decisions",
    "version.activated": "decisions",
    "version.superseded": "decisions",
    "version.withdrawn": "decisions",
    "version.expired": "decisions",
    "agreement.terminated": "decisions",
    "proposal.made": "decisions",
    "proposal.decided": "decisions",
    "period.final": "reports",
    "period.amended": "reports",
    "corrective_action.plan_submitted": "reports",
    "corrective_action.plan_accepted": "reports",
    "corrective_action.rework_requested": "reports",
    "corrective_action.completion_reported": "reports",
    "corrective_action.closed": "reports",
    "chronic_miss.detected": "reports",
    "period.escalated": "reports",
    "period.dispute_decided": "reports",
    "agreement.renewal_upcoming": "governance",
    "extension.requested": "governance",
    "extension.rejected": "governance",
    "annual_review.due": "governance",
    "service_review.due": "governance",
}
# The digest carries the others; it is the person's own choice and has no group. An
# invitation or password reset goes to the one person who needs its link, whatever they chose.
UNGROUPED = frozenset({"digest.daily", "account.invitation", "account.password_reset"})

_IMMEDIATE_FOR: dict[str, frozenset[Role]] = {
    "decisions": frozenset({Role.PROGRAM_MANAGER}),
    "reports": frozenset({Role.PROGRAM_MANAGER, Role.PMO_LEAD, Role.FUNCTIONAL_LEAD}),
    "governance": frozenset({Role.PROGRAM_MANAGER, Role.BUSINESS_OWNER}),
}
ROLE_DEFAULTS: dict[str, dict[Role, Mode]] = {
    group: {role: ("immediate" if role in roles else "digest") for role in Role}
    for group, roles in _IMMEDIATE_FOR.items()
}
# One approver of several approving is a step, not an outcome: by default everyone reads it in
# the digest, and hears at once of what it leads to (activation, or a rejection).
DIGEST_BY_DEFAULT = frozenset({"version.approved", "version.approved_with_conditions"})
_RANK: dict[str, int] = {"off": 0, "digest": 1, "immediate": 2}

assert set(GROUP_LABELS) == set(TOPIC_GROUPS) == set(GROUP_HINTS)
assert set(PREFERENCE_MODES) == set(_RANK)


def group_of(topic: str) -> Group | None:
    """The topic's group; None for the digest itself. An unknown topic counts as a task, so a
    topic added without a group errs on the side of being mailed."""
    if topic in UNGROUPED:
        return None
    return TOPIC_GROUP.get(topic, "tasks")


def default_mode(
    group: str, roles: Iterable[str], *, broadcast: bool, topic: str | None = None
) -> Mode:
    """What a person gets of `group` without a choice: immediately when it is addressed to
    them; for a broadcast, the most immediate of their roles' defaults (digest without one)."""
    if group == "tasks" or not broadcast:
        return "immediate"
    if topic in DIGEST_BY_DEFAULT:
        return "digest"
    defaults = ROLE_DEFAULTS[group]
    best: Mode = "digest"
    for role in roles:
        mode = defaults.get(Role(role), "digest")
        if _RANK[mode] > _RANK[best]:
            best = mode
    return best


def effective_mode(
    group: str | None,
    chosen: Mapping[str, str],
    roles: Iterable[str],
    *,
    broadcast: bool,
    overall: str = "immediate",
    topic: str | None = None,
) -> Mode:
    """How one person receives one message: their choice for its group, else the default,
    never more often than their overall mode; task emails are never off."""
    if group is None:  # the digest itself (sent `immediate`), or a row read without its topic
        return "digest" if overall == "digest" else "immediate"
    mode = chosen.get(group) or default_mode(group, roles, broadcast=broadcast, topic=topic)
    if group == "tasks" and mode == "off":
        mode = "immediate"  # the database refuses it; a task email is never dropped
    if mode == "immediate" and overall == "digest":
        mode = "digest"
    assert mode in _RANK
    return mode  # type: ignore[return-value]


@dataclass(frozen=True)
class GroupView:
    """One group as a person sees it: what they chose, and what they get."""

    group: str
    label: str
    description: str
    choice: str  # a mode, or "default"
    default: Mode  # what their roles get of a broadcast without a choice
    effective: Mode  # what they get of a broadcast now
    can_switch_off: bool


def roles_held(session: Session, user_id: int) -> list[str]:
    """Every role the user holds on any agreement (the defaults follow them)."""
    return sorted(
        set(
            session.exec(
                select(StakeholderAssignment.role).where(StakeholderAssignment.user_id == user_id)
            )
        )
    )


def group_views(
    choices: Mapping[str, str], roles: Sequence[str], *, overall: str = "immediate"
) -> list[GroupView]:
    views = []
    for group in TOPIC_GROUPS:
        choice = choices.get(group, "default")
        default = default_mode(group, roles, broadcast=True)
        chosen = {} if choice == "default" else {group: choice}
        views.append(
            GroupView(
                group=group,
                label=GROUP_LABELS[group],
                description=GROUP_HINTS[group],
                choice=choice,
                default=default,
                effective=effective_mode(group, chosen, roles, broadcast=True, overall=overall),
                can_switch_off=group not in UNSILENCEABLE_GROUPS,
            )
        )
    return views
