"""A corrective action plan as submitted, and what makes it acceptable to submit."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from datetime import date
from typing import Any

TEXT_MAX = 4000
MAX_ACTIONS = 50


@dataclass(frozen=True)
class PlannedAction:
    description: str = ""
    owner_id: int | None = None
    due_on: date | None = None

    def stored(self) -> dict[str, Any]:
        return {
            "description": self.description.strip(),
            "owner_id": self.owner_id,
            "due_on": self.due_on.isoformat() if self.due_on else None,
        }


@dataclass(frozen=True)
class Plan:
    """Root cause, actions with owners and due dates, and the date all is done by."""

    root_cause: str = ""
    actions: tuple[PlannedAction, ...] = field(default_factory=tuple)
    target_date: date | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> Plan:
        """A plan from plain data (a stored row's fields or a parsed request)."""
        return cls(
            root_cause=data.get("root_cause") or "",
            actions=tuple(
                PlannedAction(
                    a.get("description") or "",
                    a.get("owner_id"),
                    date.fromisoformat(a["due_on"]) if isinstance(a.get("due_on"), str) else None,
                )
                for a in data.get("actions") or []
            ),
            target_date=(
                date.fromisoformat(data["target_date"])
                if isinstance(data.get("target_date"), str)
                else data.get("target_date")
            ),
        )

    def problems(self, stakeholders: Set[int], *, today: date) -> list[dict[str, str]]:
        """Each field that is wrong, named as the API names it; empty when the plan is sound."""
        found: list[dict[str, str]] = []

        def bad(name: str, message: str) -> None:
            found.append({"field": name, "message": message})

        if not self.root_cause.strip():
            bad("root_cause", "required: what caused the miss")
        elif len(self.root_cause.strip()) > TEXT_MAX:
            bad("root_cause", f"at most {TEXT_MAX} characters")
        if not self.actions:
            bad("actions", "at least one action is required")
        elif len(self.actions) > MAX_ACTIONS:
            bad("actions", f"at most {MAX_ACTIONS} actions")
        for i, action in enumerate(self.actions[:MAX_ACTIONS]):
            self._action_problems(f"actions[{i}]", action, stakeholders, today, bad)
        if self.target_date is None:
            bad("target_date", "required: when the correction will be complete")
        elif self.target_date < today:
            bad("target_date", f"must not be in the past (today is {today.isoformat()})")
        else:
            late = [a.due_on for a in self.actions if a.due_on and a.due_on > self.target_date]
            if late:
                bad("target_date", f"must be on or after every action's due date ({max(late)})")
        return found

    @staticmethod
    def _action_problems(
        name: str, action: PlannedAction, stakeholders: Set[int], today: date, bad: Any
    ) -> None:
        if not action.description.strip():
            bad(f"{name}.description", "required")
        elif len(action.description.strip()) > TEXT_MAX:
            bad(f"{name}.description", f"at most {TEXT_MAX} characters")
        if action.owner_id is None:
            bad(f"{name}.owner_id", "required")
        elif action.owner_id not in stakeholders:
            bad(f"{name}.owner_id", "must be a stakeholder of the agreement")
        if action.due_on is None:
            bad(f"{name}.due_on", "required")
        elif action.due_on < today:
            bad(f"{name}.due_on", f"must not be in the past (today is {today.isoformat()})")

    def stored(self) -> dict[str, Any]:
        return {
            "root_cause": self.root_cause.strip(),
            "actions": [a.stored() for a in self.actions],
            "target_date": self.target_date,
        }
