"""The recipients spec of an outbox row: who it names, before anyone is looked up.

Any combination of:

- `{"user_ids": [3, 5]}`: these users (reason "assignee" unless `reason` says otherwise);
- `{"roles": [{"side": "customer", "role": "program_manager"}]}`: the holders of these roles
  on the row's agreement; a role nobody holds falls to that side's Program Manager;
- `{"stakeholders": "all"}`: every assigned stakeholder of both sides of the agreement;
- `"reason"`: why they receive it ("assignee", "role_holder", "escalation", ...), for the
  email's footer;
- `"delegate": false`: do not redirect to delegates (default: redirect);
- `"immediate": true`: mail now even to people who chose the daily digest (the digest itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from states import Role, Side

# The reasons a recipient may be given; `notifications.render.Reason` has the same values.
REASONS = ("assignee", "delegate", "delegator", "role_holder", "escalation", "digest")
_SPEC_KEYS = {"user_ids", "roles", "stakeholders", "reason", "delegate", "immediate"}


class RecipientSpecError(ValueError):
    """An outbox row's recipients spec cannot be understood; retrying will not help."""


@dataclass(frozen=True)
class Spec:
    """A parsed recipients spec."""

    user_ids: tuple[int, ...] = ()
    roles: tuple[tuple[Side, Role], ...] = ()
    stakeholders: bool = False
    reason: str | None = None
    delegate: bool = True
    immediate: bool = False

    @property
    def needs_agreement(self) -> bool:
        return bool(self.roles) or self.stakeholders


def parse_spec(raw: Mapping[str, Any]) -> Spec:
    """The spec of an outbox row, or RecipientSpecError naming what is wrong."""
    if not isinstance(raw, Mapping):
        raise RecipientSpecError("recipients must be an object")
    unknown = set(raw) - _SPEC_KEYS
    if unknown:
        raise RecipientSpecError(f"unknown recipients keys {sorted(unknown)}")
    user_ids = raw.get("user_ids", [])
    if not isinstance(user_ids, list) or not all(
        isinstance(u, int) and not isinstance(u, bool) for u in user_ids
    ):
        raise RecipientSpecError("user_ids must be a list of user ids")
    roles: list[tuple[Side, Role]] = []
    raw_roles = raw.get("roles", [])
    if not isinstance(raw_roles, list):
        raise RecipientSpecError("roles must be a list of {side, role}")
    for item in raw_roles:
        try:
            roles.append((Side(item["side"]), Role(item["role"])))
        except (TypeError, KeyError, ValueError):
            raise RecipientSpecError(f"not a {{side, role}}: {item!r}") from None
    stakeholders = raw.get("stakeholders")
    if stakeholders not in (None, "all"):
        raise RecipientSpecError('stakeholders must be "all"')
    reason = raw.get("reason")
    if reason is not None and reason not in REASONS:
        raise RecipientSpecError(f"unknown reason {reason!r}")
    flags = {k: raw.get(k, default) for k, default in (("delegate", True), ("immediate", False))}
    if not all(isinstance(v, bool) for v in flags.values()):
        raise RecipientSpecError("delegate and immediate must be true or false")
    return Spec(
        user_ids=tuple(user_ids),
        roles=tuple(roles),
        stakeholders=stakeholders == "all",
        reason=reason,
        delegate=flags["delegate"],
        immediate=flags["immediate"],
    )


@dataclass(frozen=True)
class Request:
    """What resolution needs of an outbox row."""

    outbox_id: int
    agreement_id: int | None
    recipients: Mapping[str, Any]
    topic: str | None = None  # None: no topic group, everyone named is mailed as before
