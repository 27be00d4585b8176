"""Notifications: each person's choice per topic group, signed in or from an email's link.

- `GET/POST /notifications`: the signed-in person's page (the command behind
  `PUT /api/v1/me/notification-preferences`).
- `GET/POST /notifications/manage/{token}`: the footer link of every email; no sign-in, the
  signed token names the person and the one group it may change (`notifications.links`).
- `POST /notifications/unsubscribe/{token}`: RFC 8058 one-click unsubscribe, what mail clients
  send for `List-Unsubscribe-Post`; it switches the group off, and again is harmless. It
  carries no CSRF token (a mail provider posts it), so it lives on `one_click`, a router
  without the CSRF check: the signed token is the proof. Task emails have no such header,
  and a task token is refused (409).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import NowDep, SessionDep
from api.pages.admin import field_errors
from api.pages.errors import PageError
from api.pages.render import Flash, redirect, render
from api.pages.session import PageUserDep
from notifications import links
from notifications.preferences import GROUP_LABELS, GroupView, group_views, roles_held
from workflow.commands.notifications import (
    TASKS_NEVER_OFF,
    notification_choices,
    set_notification_preferences,
)
from workflow.errors import InvalidInput
from workflow.models import User
from workflow.models.notifications import TOPIC_GROUPS, UNSILENCEABLE_GROUPS

router = APIRouter()
one_click = APIRouter(include_in_schema=False)

MODE_WORDS = {
    "immediate": "Each as it happens",
    "digest": "In my daily digest",
    "off": "Off",
    "default": "As my role gets them",
}
ChoiceField = Annotated[str, Form(max_length=20)]


def _views(session: Session, user: User) -> list[GroupView]:
    assert user.id is not None
    return group_views(
        notification_choices(session, user.id),
        roles_held(session, user.id),
        overall=user.notification_mode,
    )


def _page(
    request: Request,
    session: Session,
    user: User,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "notifications/preferences.html",
        {
            "section": "settings",
            "groups": _views(session, user),
            "mode_words": MODE_WORDS,
            "overall": user.notification_mode,
            "errors": errors or {},
        },
        status_code=status_code,
    )


def _me(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    assert user is not None
    return user


@router.get("/notifications")
def preferences(request: Request, user: PageUserDep, session: SessionDep) -> Response:
    return _page(request, session, _me(session, user.actor.user_id))


@router.post("/notifications")
def choose(
    request: Request,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    tasks: ChoiceField = "",
    decisions: ChoiceField = "",
    reports: ChoiceField = "",
    governance: ChoiceField = "",
) -> Response:
    sent = {"tasks": tasks, "decisions": decisions, "reports": reports, "governance": governance}
    try:
        set_notification_preferences(
            session,
            actor=user.actor,
            user_id=user.actor.user_id,
            choices={group: choice for group, choice in sent.items() if choice},
            now=now,
        )
    except InvalidInput as exc:
        me = _me(session, user.actor.user_id)
        return _page(request, session, me, errors=field_errors(exc), status_code=422)
    return redirect(
        "/notifications", flash=Flash("success", "Your notification choices are saved.")
    )


# ---- the signed links of the emails --------------------------------------------------------


def _target(session: Session, token: str) -> tuple[User, str]:
    target = links.check_token(links.read_link_key(session), token)
    user = session.get(User, target.user_id) if target is not None else None
    if target is None or user is None:
        raise PageError(
            404,
            "This link is not valid",
            "The link may have been cut short by your mail program. Open the whole link from "
            "the email, or sign in and choose on the Notifications page.",
        )
    return user, target.group


def _manage_page(
    request: Request,
    session: Session,
    user: User,
    group: str,
    token: str,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    view = next(v for v in _views(session, user) if v.group == group)
    return render(
        request,
        "notifications/manage.html",
        {
            "person": user,
            "view": view,
            "token": token,
            "mode_words": MODE_WORDS,
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/notifications/manage/{token}")
def manage(request: Request, token: str, session: SessionDep) -> Response:
    user, group = _target(session, token)
    return _manage_page(request, session, user, group, token)


@router.post("/notifications/manage/{token}")
def manage_choose(
    request: Request,
    token: str,
    session: SessionDep,
    now: NowDep,
    mode: ChoiceField = "",
) -> Response:
    user, group = _target(session, token)
    try:
        set_notification_preferences(
            session, actor=None, user_id=user.id or 0, choices={group: mode}, now=now, via="link"
        )
    except InvalidInput as exc:
        errors = {"mode": "; ".join(field_errors(exc).values())}
        return _manage_page(request, session, user, group, token, errors=errors, status_code=422)
    done = "you will not get these emails" if mode == "off" else "your choice is saved"
    return redirect(
        f"{links.MANAGE_PATH}/{token}", flash=Flash("success", f"{GROUP_LABELS[group]}: {done}.")
    )


@one_click.get("/notifications/unsubscribe/{token}")
def unsubscribe_page(token: str) -> Response:
    """A GET never unsubscribes (link checkers follow links): it shows the choices."""
    return redirect(f"{links.MANAGE_PATH}/{token}")


@one_click.post("/notifications/unsubscribe/{token}")
def unsubscribe(request: Request, token: str, session: SessionDep, now: NowDep) -> Response:
    user, group = _target(session, token)
    if group in UNSILENCEABLE_GROUPS:
        raise PageError(409, "Task emails stay on", TASKS_NEVER_OFF.capitalize() + ".")
    set_notification_preferences(
        session, actor=None, user_id=user.id or 0, choices={group: "off"}, now=now, via="one-click"
    )
    return render(
        request,
        "notifications/unsubscribed.html",
        {"person": user, "label": GROUP_LABELS[group], "token": token},
    )


assert set(GROUP_LABELS) == set(TOPIC_GROUPS)
