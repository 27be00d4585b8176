"""CSRF tokens: one per browser session, in every form and in htmx's request headers.

The token is a MAC of the session token (or, before sign-in, of a random cookie), so nothing is
stored, a token from another session is worthless, and signing in changes it.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response

from api.pages import signing
from api.pages.errors import PageError
from api.pages.session import secure_cookies, session_token

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
ANONYMOUS_COOKIE = "accord_csrf"
_PURPOSE = "csrf"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _binding(request: Request) -> str | None:
    token = session_token(request)
    if token is not None:
        return f"session:{token}"
    anonymous = request.cookies.get(ANONYMOUS_COOKIE) or getattr(
        request.state, "new_csrf_cookie", None
    )
    return f"anonymous:{anonymous}" if anonymous else None


def csrf_token(request: Request) -> str:
    """The token forms of this page carry; draws the pre-sign-in cookie when there is none."""
    binding = _binding(request)
    if binding is None:
        request.state.new_csrf_cookie = secrets.token_urlsafe(32)
        binding = f"anonymous:{request.state.new_csrf_cookie}"
    return signing.digest(_PURPOSE, binding)


def set_anonymous_cookie(request: Request, response: Response) -> None:
    """Send the pre-sign-in cookie `csrf_token` drew while rendering, if it drew one."""
    value = getattr(request.state, "new_csrf_cookie", None)
    if value:
        response.set_cookie(
            ANONYMOUS_COOKIE, value, httponly=True, samesite="lax", secure=secure_cookies()
        )


async def verify_csrf(request: Request) -> None:
    """Refuse an unsafe request whose token (form field or header) does not match."""
    if request.method in _SAFE_METHODS:
        return
    sent = request.headers.get(HEADER)
    if sent is None:
        form = await request.form()  # cached by Starlette: the route reads the same form
        value = form.get(FIELD)
        sent = value if isinstance(value, str) else None
    binding = _binding(request)
    expected = signing.digest(_PURPOSE, binding) if binding else None
    if sent is None or expected is None or not hmac.compare_digest(sent, expected):
        raise PageError(
            403,
            "This form has expired",
            "The form was sent without its security token, or with one from another session. "
            "Go back, reload the page and try again.",
        )
