"""Administration pages for API tokens: create one for a user, list them all, revoke one."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import NowDep, SessionDep
from api.pages.admin import (
    PAGE_SIZE,
    AdminDep,
    After,
    NameField,
    cursor,
    field_errors,
    next_after,
    user_account,
)
from api.pages.admin_people import user_page
from api.pages.errors import PageError
from api.pages.render import Flash, redirect, render
from api.types import Id
from workflow import commands
from workflow.calendar import start_of_day
from workflow.errors import InvalidInput
from workflow.queries.admin import TokenView, list_tokens, token
from workflow.queries.common import people

router = APIRouter(prefix="/admin")


@router.post("/users/{user_id}/tokens")
def create_token(
    request: Request,
    user_id: Id,
    user: AdminDep,
    session: SessionDep,
    now: NowDep,
    name: NameField = "",
    expires_on: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """The token's text is on this answer only: it is not stored, so no redirect can show it."""
    shown = user_account(session, user_id)
    owner = {"id": user_id, "name": shown.name, "email": shown.email}
    try:
        expires_at = _expiry(expires_on)
        created, plain = commands.create_token(
            session,
            actor=user.actor,
            user_id=user_id,
            name=name.strip(),
            expires_at=expires_at,
            now=now,
        )
    except InvalidInput as exc:
        return user_page(
            request, session, user_id, now=now, errors=field_errors(exc), status_code=422
        )
    return render(
        request,
        "admin/token_created.html",
        {"section": "admin", "owner": owner, "token": created, "plain": plain},
        status_code=201,
    )


def _expiry(expires_on: str) -> datetime | None:
    """The start of the chosen day in the business time zone: the token works until then."""
    if not expires_on.strip():
        return None
    try:
        day = date.fromisoformat(expires_on.strip())
    except ValueError:
        raise InvalidInput(
            "not a date", [{"field": "expires_at", "message": "a date, e.g. 2027-01-31"}]
        ) from None
    return start_of_day(day)


@router.get("/tokens")
def tokens(
    request: Request, user: AdminDep, session: SessionDep, now: NowDep, after: After = None
) -> Response:
    found = list_tokens(session, limit=PAGE_SIZE, after=cursor(after))
    owners = people(session, (t.user_id for t in found.items))
    return render(
        request,
        "admin/tokens.html",
        {
            "section": "admin",
            "tokens": found.items,
            "owners": owners,
            "now": now,
            "next_after": next_after(found),
        },
    )


def _token(session: Session, token_id: int) -> TokenView:
    found = token(session, token_id)
    if found is None:
        raise PageError(404, "Not found", "There is no such token. Start again from API tokens.")
    return found


@router.get("/tokens/{token_id}/revoke")
def confirm_revoke(request: Request, token_id: Id, user: AdminDep, session: SessionDep) -> Response:
    shown = _token(session, token_id)
    owners = people(session, [shown.user_id])
    if shown.revoked_at is not None:
        return redirect(
            f"/admin/users/{shown.user_id}",
            flash=Flash("info", f"Token {shown.prefix}… is already revoked."),
        )
    return render(
        request,
        "admin/revoke_token.html",
        {"section": "admin", "token": shown, "owner": owners[shown.user_id]},
    )


@router.post("/tokens/{token_id}/revoke")
def revoke_token(token_id: Id, user: AdminDep, session: SessionDep, now: NowDep) -> Response:
    shown = _token(session, token_id)
    owner_id, prefix, was_revoked = shown.user_id, shown.prefix, shown.revoked_at is not None
    commands.revoke_token(session, actor=user.actor, token_id=token_id, now=now)
    flash = (
        Flash("info", f"Token {prefix}… was already revoked.")
        if was_revoked
        else Flash("success", f"Token {prefix}… revoked: the API refuses it from now on.")
    )
    return redirect(f"/admin/users/{owner_id}", flash=flash)
