"""Sign-in and sign-out pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from api.deps import NowDep, SessionDep
from api.pages.render import Flash, redirect, render
from api.pages.session import clear_session_cookie, session_token, set_session_cookie
from api.safe_input import NUL
from workflow.calendar import BUSINESS_TIME_ZONE, time_zone
from workflow.commands.sign_in import sign_in, sign_out
from workflow.queries.sign_in import signed_in

router = APIRouter()

EmailField = Annotated[str, Form(max_length=320)]
PasswordField = Annotated[str, Form(max_length=1000)]
NextField = Annotated[str, Form(max_length=2000)]


def safe_next(url: str | None) -> str:
    """Only a path on this site: an open redirect would make our sign-in a phishing tool."""
    if url and url.startswith("/") and not url.startswith(("//", "/\\")):
        return url
    return "/"


# What the page someone was sent from an email (or an old tab) is, said before they sign in.
_DESTINATIONS = (
    ("/tasks/", "Sign in to open your task; you go straight to it afterwards."),
    ("/approvals/", "Sign in to open the approval waiting for you."),
    ("/proposals/", "Sign in to open the proposal."),
    ("/corrective-actions/", "Sign in to open the corrective action."),
    ("/notifications", "Sign in to choose your notifications."),
    ("/slas/", "Sign in to open the agreement's page you were sent to."),
)


def destination_hint(next_path: str) -> str | None:
    return next((hint for prefix, hint in _DESTINATIONS if next_path.startswith(prefix)), None)


def _address(request: Request) -> str:
    # The peer address; behind a proxy, run uvicorn with --proxy-headers so this is the client.
    return request.client.host if request.client else "unknown"


@router.get("/signin")
def signin_form(
    request: Request,
    session: SessionDep,
    now: NowDep,
    next: str | None = None,
    email: Annotated[str, Query(max_length=320)] = "",
) -> Response:
    token = session_token(request)
    if token is not None and signed_in(session, token, now) is not None:
        return redirect(safe_next(next))
    shown = email.replace(NUL, "")
    target = safe_next(next)
    return render(
        request,
        "signin.html",
        {"next": target, "email": shown, "error": None, "hint": destination_hint(target)},
    )


@router.post("/signin")
def signin_submit(
    request: Request,
    session: SessionDep,
    now: NowDep,
    email: EmailField = "",
    password: PasswordField = "",
    next: NextField = "/",
) -> Response:
    target = safe_next(next)
    context = {"next": target, "email": email.replace(NUL, ""), "hint": destination_hint(target)}
    if NUL in email or NUL in password:
        # No account has such an email or password; nothing is looked up or recorded.
        error = "The email or password contains a character that is not allowed."
        return render(request, "signin.html", {**context, "error": error}, status_code=422)
    result = sign_in(session, email=email, password=password, address=_address(request), now=now)
    if result.retry_at is not None:
        local = result.retry_at.astimezone(time_zone(BUSINESS_TIME_ZONE))
        wait = max(1, int((result.retry_at - now).total_seconds()))
        return render(
            request,
            "signin.html",
            {
                **context,
                "error": f"Too many failed sign-ins. Try again after {local:%H:%M} "
                f"({BUSINESS_TIME_ZONE} time), in about {max(1, round(wait / 60))} minutes.",
            },
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    if result.token is None:
        return render(
            request,
            "signin.html",
            {**context, "error": "That email and password do not match an account."},
            status_code=401,
        )
    response = redirect(safe_next(next))
    set_session_cookie(response, result.token)
    return response


@router.post("/signout")
def signout(request: Request, session: SessionDep, now: NowDep) -> Response:
    token = session_token(request)
    if token is not None:
        sign_out(session, token=token, now=now)
    response = redirect("/signin", flash=Flash("info", "You are signed out."))
    clear_session_cookie(response)
    return response
