"""The signed-in person: the session cookie, and the dependency every page depends on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from starlette.datastructures import URL

from api.deps import NowDep, SessionDep
from api.pages import signing
from api.pages.errors import SignInRequired
from workflow.access import Actor
from workflow.commands.sign_in import SESSION_LIFETIME
from workflow.queries.sign_in import Viewer, signed_in, viewer
from workflow.queries.tasks import TaskFilter, list_tasks
from workflow.settings import get_settings

SESSION_COOKIE = "accord_session"
_PURPOSE = "session"
# The navigation shows "99+" past this many pending approvals.
COUNT_CAP = 99


@dataclass(frozen=True)
class PageUser:
    """Who is looking at a page, and what the navigation shows about them."""

    actor: Actor
    viewer: Viewer
    pending_approvals: int
    more_approvals: bool  # more than COUNT_CAP

    @property
    def approvals_badge(self) -> str:
        return f"{self.pending_approvals}+" if self.more_approvals else str(self.pending_approvals)


def secure_cookies() -> bool:
    return get_settings().cookies_secure


def session_token(request: Request) -> str | None:
    """The session token from a correctly signed cookie (which may still be ended or expired)."""
    return signing.unsign(_PURPOSE, request.cookies.get(SESSION_COOKIE))


def set_session_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        signing.sign(_PURPOSE, token),
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(),
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=secure_cookies(), path="/"
    )


def _here(url: URL) -> str:
    return url.path + (f"?{url.query}" if url.query else "")


def page_user(request: Request, session: SessionDep, now: NowDep) -> PageUser:
    """The signed-in person, or SignInRequired (a redirect to the sign-in form)."""
    token = session_token(request)
    actor = signed_in(session, token, now) if token else None
    if actor is None:
        raise SignInRequired(_here(request.url) if request.method == "GET" else "/")
    queue = list_tasks(
        session,
        actor,
        TaskFilter(mine=True, state="open", kind="approval"),
        now=now,
        limit=COUNT_CAP,
    )
    user = PageUser(
        actor=actor,
        viewer=viewer(session, actor),
        pending_approvals=len(queue.items),
        more_approvals=queue.next_after is not None,
    )
    request.state.page_user = user
    request.state.user_id = actor.user_id  # for the request's log line
    return user


PageUserDep = Annotated[PageUser, Depends(page_user)]
