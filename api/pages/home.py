"""The landing redirect, and each person's own settings: notification mode and delegations."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session, select

from api.deps import NowDep, SessionDep
from api.pages.admin import field_errors
from api.pages.render import Flash, redirect, render
from api.pages.session import PageUser, PageUserDep
from workflow import commands
from workflow.calendar import local_date
from workflow.commands.notifications import set_notification_mode
from workflow.errors import InvalidInput
from workflow.models import User
from workflow.models.parties import NOTIFICATION_MODES
from workflow.passwords import normalise_email
from workflow.queries.common import people
from workflow.queries.parties import caller

router = APIRouter()

MODE_WORDS = {"immediate": "as they happen", "digest": "as one email a day"}
DateField = Annotated[str, Form(max_length=20)]


@router.get("/")
def home(user: PageUserDep) -> Response:
    """Approvers start on their queue, everyone else on their tasks."""
    return redirect("/approvals" if user.viewer.approver else "/tasks")


def _settings_page(
    request: Request,
    session: Session,
    user: PageUser,
    now: NowDep,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    me = caller(session, user.actor.user_id, today=local_date(now))
    mine = session.get(User, user.actor.user_id)
    assert mine is not None
    mode = mine.notification_mode
    delegations = [*me.delegations_given, *me.delegations_received]
    names = people(session, [i for d in delegations for i in (d.delegator_id, d.delegate_id)])
    return render(
        request,
        "admin/settings.html",
        {
            "section": "settings",
            "me": me,
            "mode": mode,
            "modes": NOTIFICATION_MODES,
            "mode_words": MODE_WORDS,
            "people": names,
            "errors": errors or {},
            "form": form or {"delegate_email": "", "starts_on": "", "ends_on": ""},
        },
        status_code=status_code,
    )


@router.get("/settings")
def settings(request: Request, user: PageUserDep, session: SessionDep, now: NowDep) -> Response:
    return _settings_page(request, session, user, now)


@router.post("/settings/notifications")
def choose_mode(
    request: Request,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    mode: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """The command behind `PUT /api/v1/me/notification-settings`."""
    try:
        set_notification_mode(
            session, actor=user.actor, user_id=user.actor.user_id, mode=mode, now=now
        )
    except InvalidInput as exc:
        return _settings_page(
            request, session, user, now, errors=field_errors(exc), status_code=422
        )
    return redirect(
        "/settings",
        flash=Flash("success", f"You will get your notifications {MODE_WORDS[mode]}."),
    )


def _parse_day(value: str, field: str, errors: dict[str, str]) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        errors[field] = "a date such as 2026-12-24"
        return date.min


@router.post("/settings/delegations")
def delegate(
    request: Request,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    delegate_email: Annotated[str, Form(max_length=320)] = "",
    starts_on: DateField = "",
    ends_on: DateField = "",
) -> Response:
    """The command behind `POST /api/v1/delegations`: my tasks go to a colleague for a while."""
    form = {"delegate_email": delegate_email, "starts_on": starts_on, "ends_on": ends_on}
    errors: dict[str, str] = {}
    first, last = _parse_day(starts_on, "starts_on", errors), _parse_day(ends_on, "ends_on", errors)
    if errors:
        return _settings_page(
            request, session, user, now, errors=errors, form=form, status_code=422
        )
    # Only colleagues are looked up, so the page reveals no one the API would not; anyone else
    # becomes id 0, which the command refuses as it refuses any stranger.
    colleague = session.exec(
        select(User.id).where(
            User.email == normalise_email(delegate_email),
            User.organization_id == user.actor.organization_id,
        )
    ).first()
    try:
        made = commands.create_delegation(
            session,
            actor=user.actor,
            delegate_id=colleague or 0,
            starts_on=first,
            ends_on=last,
            now=now,
        )
    except InvalidInput as exc:
        return _settings_page(
            request,
            session,
            user,
            now,
            errors={
                ("delegate_email" if k == "delegate_id" else k): v
                for k, v in field_errors(exc).items()
            },
            form=form,
            status_code=422,
        )
    return redirect(
        "/settings",
        flash=Flash(
            "success",
            f"Your tasks go to {delegate_email.strip()} from {made.starts_on:%d %b %Y} "
            f"to {made.ends_on:%d %b %Y}.",
        ),
    )
