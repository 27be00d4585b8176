"""The governance calendar's pages: the quarterly service reviews (agenda, minutes form); the
extensions of the period of performance are in `api.pages.extensions`. They call the same
commands as the API."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from api.deps import NowDep, SessionDep
from api.pages.render import Flash, redirect, render
from api.pages.session import PageUserDep
from api.types import Id
from states import TaskState
from workflow.access import Actor, delegators_of
from workflow.calendar import local_date
from workflow.commands.service_reviews import ActionItemInput, Minutes, record_minutes
from workflow.errors import Conflict, InvalidInput
from workflow.models import Task
from workflow.queries.agreements import AgreementDetail, agreement_detail
from workflow.queries.service_reviews import list_service_reviews, service_review_detail

router = APIRouter()

ACTION_ROWS = 5  # blank action-item rows in the minutes form (no script needed)
TextField = Annotated[str, Form(max_length=4000)]


def holds(session: Session, actor: Actor, now: NowDep, **link: int) -> Task | None:
    """The open task of this review or extension the actor holds (or holds for a delegator)."""
    principals = [actor.user_id, *delegators_of(session, actor.user_id, local_date(now))]
    stmt = select(Task).where(Task.state == TaskState.OPEN, col(Task.assignee_id).in_(principals))
    for column, value in link.items():
        stmt = stmt.where(getattr(Task, column) == value)
    return session.exec(stmt.order_by(col(Task.id))).first()


# ---- service reviews -------------------------------------------------------------------------


@router.get("/slas/{agreement_id}/service-reviews")
def service_reviews(
    request: Request, agreement_id: Id, user: PageUserDep, session: SessionDep
) -> Response:
    agreement = agreement_detail(session, user.actor, agreement_id)
    reviews = list_service_reviews(session, user.actor, agreement_id)
    return render(
        request,
        "governance/reviews.html",
        {"section": "agreements", "agreement": agreement, "reviews": reviews},
    )


@router.get("/slas/{agreement_id}/service-reviews/{review_id}")
def service_review(
    request: Request,
    agreement_id: Id,
    review_id: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    return _review_page(request, session, user.actor, now, agreement_id, review_id)


def _review_page(
    request: Request,
    session: Session,
    actor: Actor,
    now: NowDep,
    agreement_id: int,
    review_id: int,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    agreement = agreement_detail(session, actor, agreement_id)
    review = service_review_detail(session, actor, agreement_id, review_id)
    may_record = review.state == "open" and (
        holds(session, actor, now, service_review_id=review_id) is not None
    )
    blank = {"held_on": local_date(now).isoformat(), "attendees": [], "decisions": "", "items": []}
    return render(
        request,
        "governance/review.html",
        {
            "section": "agreements",
            "agreement": agreement,
            "review": review,
            "people": _people(agreement),
            "may_record": may_record,
            "rows": range(ACTION_ROWS),
            "errors": errors or {},
            "form": form or blank,
        },
        status_code=status_code,
    )


def _people(agreement: AgreementDetail) -> list[tuple[int, str]]:
    """Each stakeholder once: (user id, "Name — customer Program Manager, …")."""
    roles: dict[int, list[str]] = {}
    names: dict[int, str] = {}
    for s in agreement.stakeholders:
        names[s.user.id] = s.user.name
        roles.setdefault(s.user.id, []).append(f"{s.side.value} {s.role_label}")
    return [(uid, f"{names[uid]} — {', '.join(r)}") for uid, r in roles.items()]


@router.post("/slas/{agreement_id}/service-reviews/{review_id}/minutes")
async def post_minutes(
    request: Request,
    agreement_id: Id,
    review_id: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    data = await request.form()
    form = {
        "held_on": str(data.get("held_on", "")),
        "attendees": [str(a) for a in data.getlist("attendees")],
        "decisions": str(data.get("decisions", "")),
        "items": [
            {
                "description": str(data.get(f"item-{i}-description", "")),
                "owner_id": str(data.get(f"item-{i}-owner", "")),
                "due_on": str(data.get(f"item-{i}-due", "")),
            }
            for i in range(ACTION_ROWS)
        ],
    }
    errors: dict[str, str] = {}
    minutes = _minutes(form, errors)
    if minutes is not None and not errors:
        try:
            record_minutes(
                session,
                actor=user.actor,
                agreement_id=agreement_id,
                review_id=review_id,
                minutes=minutes,
                now=now,
            )
        except InvalidInput as exc:
            errors = {e["field"]: e["message"] for e in exc.errors}
        except Conflict as exc:
            return redirect(
                f"/slas/{agreement_id}/service-reviews/{review_id}",
                flash=Flash("info", exc.message),
            )
    if errors:
        return _review_page(
            request, session, user.actor, now, agreement_id, review_id,
            errors=errors, form=form, status_code=422,
        )  # fmt: skip
    return redirect(
        f"/slas/{agreement_id}/service-reviews/{review_id}",
        flash=Flash("success", "Minutes recorded; each action item is now its owner's task."),
    )


def _minutes(form: dict[str, Any], errors: dict[str, str]) -> Minutes | None:
    """The form as minutes; what cannot be read goes to `errors` under the API's field names.
    Rows left entirely blank are not action items."""
    held_on = form_day(form["held_on"], "held_on", errors)
    attendees = []
    for i, raw in enumerate(form["attendees"]):
        if raw.isdigit():
            attendees.append(int(raw))
        else:
            errors[f"attendees.{i}"] = "not a stakeholder of this SLA"
    items = []
    for i, row in enumerate(r for r in form["items"] if any(v.strip() for v in r.values())):
        owner = row["owner_id"]
        due = form_day(row["due_on"], f"action_items.{i}.due_on", errors)
        if not owner.isdigit():
            errors[f"action_items.{i}.owner_id"] = "choose who owns it"
        if due is not None and owner.isdigit():
            items.append(ActionItemInput(row["description"], int(owner), due))
    decisions = [line for line in form["decisions"].splitlines() if line.strip()]
    if held_on is None:
        return None
    return Minutes(held_on=held_on, attendees=attendees, decisions=decisions, action_items=items)


def form_day(raw: str, field: str, errors: dict[str, str]) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[field] = "a date is required (YYYY-MM-DD)"
        return None
