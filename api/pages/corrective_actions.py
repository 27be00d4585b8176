"""A corrective action for people: its miss, plan, steps and history, and the step the reader
may take now (the plan form for the owner side; accept or rework, and closure, for the other).

Each step calls the command behind `api.routers.corrective_actions`; a POST redirects back
with a flash, and a refusal shows the page again with the form as sent (never an error 500).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import NowDep, SessionDep
from api.pages.refusals import as_sentence, refusal
from api.pages.render import Flash, redirect, render
from api.pages.session import PageUserDep
from api.types import Id
from workflow import commands
from workflow.access import Actor
from workflow.calendar import local_date
from workflow.corrective_plan import Plan, PlannedAction
from workflow.errors import Forbidden, InvalidInput, NotAllowedNow
from workflow.queries.corrective_actions import (
    corrective_action_detail,
    my_events,
    stakeholders,
)
from workflow.queries.versions import known_metrics

router = APIRouter()

TextField = Annotated[str, Form(max_length=4000)]
ListField = Annotated[list[str], Form()]
PLAN_ROWS = 5  # blank rows the form offers; a plan has at least one action
LABELS = {
    "submit_plan": "Submit the plan",
    "accept_plan": "Accept the plan",
    "request_rework": "Ask for rework",
    "report_completion": "Report completion",
    "confirm_closure": "Confirm closure",
}
# Decisions of the other side that end a step for good are confirmed on a second page.
CONFIRMED = ("accept_plan", "confirm_closure")
DONE = {
    "submit_plan": "You submitted the plan.",
    "accept_plan": "You accepted the plan.",
    "request_rework": "You sent the plan back for rework.",
    "report_completion": "You reported the corrective action complete.",
    "confirm_closure": "You confirmed the corrective action and closed it.",
}


def _path(action_id: int) -> str:
    return f"/corrective-actions/{action_id}"


def _page(
    request: Request,
    session: Session,
    actor: Actor,
    action_id: int,
    *,
    now: datetime,
    error: str | None = None,
    errors: list[dict[str, str]] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    detail = corrective_action_detail(session, actor, action_id)
    return render(
        request,
        "corrective_actions/detail.html",
        {
            "section": "tasks",
            "action": detail,
            "metric": known_metrics(session, detail.sla_id).get(detail.metric, {}),
            "events": my_events(session, actor, detail, local_date(now)),
            "labels": LABELS,
            "people": stakeholders(session, detail.sla_id),
            "rows": PLAN_ROWS,
            "error": error,
            "errors": {e["field"]: e["message"] for e in errors or []},
            "form": form or _form_of(detail.plan.model_dump()),
        },
        status_code=status_code,
    )


def _form_of(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan form filled from the stored plan (after rework, the owner edits it)."""
    return {
        "root_cause": plan.get("root_cause") or "",
        "target_date": str(plan.get("target_date") or ""),
        "actions": [
            {
                "description": a["description"],
                "owner_id": str(a["owner_id"] or ""),
                "due_on": str(a["due_on"] or ""),
            }
            for a in plan.get("actions", [])
        ],
    }


@router.get("/corrective-actions/{action_id}")
def action_page(
    request: Request, action_id: Id, user: PageUserDep, session: SessionDep, now: NowDep
) -> Response:
    return _page(request, session, user.actor, action_id, now=now)


@router.post("/corrective-actions/{action_id}/events/{event}/confirm")
def confirm(
    request: Request,
    action_id: Id,
    event: str,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """The second step of accepting a plan or closing an action: what follows, then confirm."""
    if event not in CONFIRMED:
        return _page(
            request,
            session,
            user.actor,
            action_id,
            now=now,
            error=f"{event!r} has no confirmation step.",
            status_code=404,
        )
    detail = corrective_action_detail(session, user.actor, action_id)
    if event not in my_events(session, user.actor, detail, local_date(now)):
        return _page(
            request,
            session,
            user.actor,
            action_id,
            now=now,
            error=f"You may not {LABELS[event].lower()} now: the action is "
            f"{detail.state.replace('_', ' ')}.",
            status_code=409,
        )
    return render(
        request,
        "corrective_actions/confirm.html",
        {
            "section": "tasks",
            "action": detail,
            "metric": known_metrics(session, detail.sla_id).get(detail.metric, {}),
            "event": event,
            "label": LABELS[event],
        },
    )


@router.post("/corrective-actions/{action_id}/events/{event}")
def fire(
    request: Request,
    action_id: Id,
    event: str,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    comment: TextField = "",
    root_cause: TextField = "",
    target_date: Annotated[str, Form(max_length=20)] = "",
    description: ListField = [],  # noqa: B006 - FastAPI copies defaults
    owner_id: ListField = [],  # noqa: B006
    due_on: ListField = [],  # noqa: B006
) -> Response:
    form = _sent(root_cause, target_date, description, owner_id, due_on)
    form["comment"], form["event"] = comment, event
    plan, problems = _plan(form) if event == "submit_plan" else (None, [])
    error: tuple[str, int] | None = None
    if event not in LABELS:
        error = (f"There is no step named {event!r} on a corrective action.", 404)
    elif problems:
        error = ("The plan is not complete: see the fields marked below.", 422)
    else:
        try:
            commands.fire_corrective_action_event(
                session,
                actor=user.actor,
                action_id=action_id,
                event=event,
                now=now,
                comment=comment.strip() or None,
                plan=plan,
            )
        except InvalidInput as exc:
            problems = exc.errors
            short = "The plan is not complete: see the fields marked below."
            error = (short if event == "submit_plan" and problems else exc.message, 422)
        except NotAllowedNow as exc:
            error = (refusal(exc, "The corrective action", event).sentence, 409)
        except Forbidden as exc:
            error = (as_sentence(exc.message), 403)
    if error is not None:
        message, status_code = error
        return _page(
            request,
            session,
            user.actor,
            action_id,
            now=now,
            error=message,
            errors=problems,
            form=form,
            status_code=status_code,
        )
    return redirect(_path(action_id), flash=Flash("success", DONE[event]))


def _sent(
    root_cause: str,
    target_date: str,
    descriptions: list[str],
    owners: list[str],
    dues: list[str],
) -> dict[str, Any]:
    rows = [
        {"description": d, "owner_id": o, "due_on": u}
        for d, o, u in zip(descriptions, owners, dues, strict=False)
        if d.strip() or o.strip() or u.strip()  # the form's blank rows are not actions
    ]
    return {"root_cause": root_cause, "target_date": target_date, "actions": rows}


def _plan(form: dict[str, Any]) -> tuple[Plan | None, list[dict[str, str]]]:
    """The plan the form describes, or what in it is not even a date or a person."""
    problems: list[dict[str, str]] = []

    def day(value: str, name: str) -> date | None:
        if not value.strip():
            return None
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            problems.append({"field": name, "message": "not a date (YYYY-MM-DD)"})
            return None

    actions = []
    for i, row in enumerate(form["actions"]):
        owner = row["owner_id"].strip()
        if owner and not owner.isdigit():
            problems.append({"field": f"actions[{i}].owner_id", "message": "not a person"})
        actions.append(
            PlannedAction(
                row["description"],
                int(owner) if owner.isdigit() else None,
                day(row["due_on"], f"actions[{i}].due_on"),
            )
        )
    target = day(form["target_date"], "target_date")
    if problems:
        return None, problems
    return Plan(form["root_cause"], tuple(actions), target), []
