"""The named effects of a corrective action (`states.CORRECTIVE_ACTIONS.effects`)."""

from __future__ import annotations

from typing import Any

from states import CORRECTIVE_ACTIONS, CorrectiveActionState, Role, Side
from workflow.corrective_plan import Plan
from workflow.engine import Firing, register_effects
from workflow.payloads import reported_name
from workflow.subjects.corrective_action import CorrectiveActionSubject

# The message each person-fired step sends both Program Managers.
TOPICS = {
    "submit_plan": "corrective_action.plan_submitted",
    "accept_plan": "corrective_action.plan_accepted",
    "request_rework": "corrective_action.rework_requested",
    "report_completion": "corrective_action.completion_reported",
    "confirm_closure": "corrective_action.closed",
}
BOTH_PROGRAM_MANAGERS: dict[str, Any] = {
    "roles": [{"side": s.value, "role": Role.PROGRAM_MANAGER.value} for s in Side],
    "reason": "role_holder",
}


def _record_plan(subject: CorrectiveActionSubject, firing: Firing) -> dict[str, Any]:
    plan = subject.plan or Plan()  # validated in prepare_completion, before the move
    stored = plan.stored()
    action = subject.action
    action.root_cause = stored["root_cause"]
    action.actions = stored["actions"]
    action.target_date = stored["target_date"]
    return {}


def _record_step(subject: CorrectiveActionSubject, firing: Firing) -> dict[str, Any]:
    action = subject.action
    comment = (firing.comment or "").strip() or None
    if firing.transition.dest == CorrectiveActionState.CANCELLED:
        action.cancel_reason = comment
    action.history = [
        *action.history,
        {
            "event": firing.transition.event,
            "to_state": str(firing.transition.dest),
            "actor_id": firing.actor.user_id if firing.actor else None,
            "on_behalf_of_id": firing.grant.on_behalf_of_id if firing.grant else None,
            "side": firing.grant.side.value if firing.grant and firing.actor else None,
            "at": firing.now.isoformat(),
            "comment": comment,
        },
    ]
    return {}


def _tell_program_managers(subject: CorrectiveActionSubject, firing: Firing) -> dict[str, Any]:
    action = subject.action
    topic = TOPICS[firing.transition.event]
    subject.tx.enqueue(
        topic=topic,
        dedupe_key=f"{topic}:{action.id}:{len(action.history)}",
        now=firing.now,
        agreement_id=subject.agreement.id,
        recipients=BOTH_PROGRAM_MANAGERS,
        payload={
            **subject.payload(),
            "corrective_action": action_ref(subject),
            "event": firing.transition.event,
            "to_state": str(firing.transition.dest),
            "actor": firing.actor.name if firing.actor else "Accord",
            "comment": (firing.comment or "").strip() or None,
        },
    )
    return {}


def action_ref(subject: CorrectiveActionSubject) -> dict[str, Any]:
    """How messages name a corrective action and its plan."""
    a = subject.action
    return {
        "id": a.id,
        "metric_key": a.metric_key,
        "metric_name": reported_name(subject.period.results, a.metric_key),
        "window": a.window,
        "side": a.side,
        "state": a.state,
        "root_cause": a.root_cause,
        "actions": list(a.actions),
        "target_date": a.target_date.isoformat() if a.target_date else None,
    }


register_effects(
    CORRECTIVE_ACTIONS,
    {
        "record_plan": _record_plan,
        "record_step": _record_step,
        "tell_program_managers": _tell_program_managers,
    },
)
