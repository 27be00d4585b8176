"""People's own account pages: change my password, forgot my password, and the page an
invitation or reset link opens to choose a password."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api.deps import NowDep, SessionDep
from api.pages.render import Flash, redirect, render
from api.pages.session import PageUserDep, session_token
from api.safe_input import NUL
from workflow.commands.accounts import (
    RESET_LIFETIME,
    change_password,
    link_holder,
    request_password_reset,
    use_link,
)
from workflow.errors import Conflict, InvalidInput, NotFound
from workflow.passwords import MIN_LENGTH

router = APIRouter()

PasswordField = Annotated[str, Form(max_length=1000)]
EmailField = Annotated[str, Form(max_length=320)]


def _errors(exc: InvalidInput) -> dict[str, str]:
    return {e.get("field", "form"): e.get("message", exc.message) for e in exc.errors}


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/account/password")
def password_form(request: Request, user: PageUserDep) -> Response:
    return render(
        request,
        "account/password.html",
        {"section": "settings", "errors": {}, "min_length": MIN_LENGTH},
    )


@router.post("/account/password")
def password_submit(
    request: Request,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    current_password: PasswordField = "",
    new_password: PasswordField = "",
    confirm: PasswordField = "",
) -> Response:
    errors: dict[str, str] = {}
    status = 422
    if NUL in current_password + new_password + confirm:
        errors["form"] = "A password contains a character that is not allowed."
    elif new_password != confirm:
        errors["confirm"] = "The two new passwords differ: type the same one twice."
    else:
        try:
            change_password(
                session,
                actor=user.actor,
                current=current_password,
                new=new_password,
                now=now,
                address=_address(request),
                keep_session=session_token(request),
            )
        except InvalidInput as exc:
            errors = _errors(exc)
        except Conflict as exc:
            errors, status = {"form": exc.message[:1].upper() + exc.message[1:] + "."}, 409
    if errors:
        return render(
            request,
            "account/password.html",
            {"section": "settings", "errors": errors, "min_length": MIN_LENGTH},
            status_code=status,
        )
    return redirect(
        "/settings",
        flash=Flash(
            "success", "Your password is changed; your other signed-in browsers were signed out."
        ),
    )


@router.get("/password/forgot")
def forgot_form(request: Request, email: str = "") -> Response:
    return render(
        request, "account/forgot.html", {"email": email[:320].replace(NUL, ""), "sent": False}
    )


@router.post("/password/forgot")
def forgot_submit(
    request: Request, session: SessionDep, now: NowDep, email: EmailField = ""
) -> Response:
    if NUL not in email and email.strip():
        request_password_reset(session, email=email, now=now)
    # The same answer whether or not the address has an account.
    minutes = int(RESET_LIFETIME.total_seconds() // 60)
    return render(
        request,
        "account/forgot.html",
        {"email": email.replace(NUL, ""), "sent": True, "minutes": minutes},
    )


def _link_page(
    request: Request,
    token: str,
    *,
    holder: object = None,
    problem: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "account/link.html",
        {
            "token": token,
            "holder": holder,
            "problem": problem,
            "errors": errors or {},
            "min_length": MIN_LENGTH,
        },
        status_code=status_code,
        # The token is in the path: never send it on to another site.
        headers={"Referrer-Policy": "no-referrer"},
    )


@router.get("/account/links/{token}")
def link_form(request: Request, token: str, session: SessionDep, now: NowDep) -> Response:
    try:
        holder = link_holder(session, token[:200], now)
    except (NotFound, Conflict) as exc:
        status = 404 if isinstance(exc, NotFound) else 410
        return _link_page(request, token, problem=exc.message, status_code=status)
    return _link_page(request, token, holder=holder)


@router.post("/account/links/{token}")
def link_submit(
    request: Request,
    token: str,
    session: SessionDep,
    now: NowDep,
    password: PasswordField = "",
    confirm: PasswordField = "",
) -> Response:
    token = token[:200]
    try:
        holder = link_holder(session, token, now)
    except (NotFound, Conflict) as exc:
        status = 404 if isinstance(exc, NotFound) else 410
        return _link_page(request, token, problem=exc.message, status_code=status)
    if NUL in password or password != confirm:
        errors = {"confirm": "The two passwords differ: type the same one twice."}
        return _link_page(request, token, holder=holder, errors=errors, status_code=422)
    try:
        user = use_link(session, token=token, password=password, now=now)
    except InvalidInput as exc:
        return _link_page(request, token, holder=holder, errors=_errors(exc), status_code=422)
    except (NotFound, Conflict) as exc:  # used or superseded meanwhile
        return _link_page(request, token, problem=exc.message, status_code=410)
    return redirect(
        f"/signin?email={quote(user.email)}",
        flash=Flash("success", "Your password is set: sign in with it now."),
    )
