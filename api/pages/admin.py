"""Administration pages: who may open them, what their forms share, the overview and the
delegations list. Organisations and users are in `admin_people`, API tokens in `admin_tokens`,
the outbox in `admin_outbox`.

Administrators only; everyone else gets a 403 page. Every change goes through the command
behind the matching API route (api/routers/admin.py, api/routers/notifications.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import NowDep, SessionDep
from api.pages.errors import PageError
from api.pages.render import render
from api.pages.session import PageUser, PageUserDep
from api.types import INT32_MAX
from workflow.calendar import local_date
from workflow.errors import DomainError, InvalidInput
from workflow.queries.admin import AccountView, account, admin_counts, list_delegations
from workflow.queries.common import Slice, people

router = APIRouter(prefix="/admin")

PAGE_SIZE = 100

NameField = Annotated[str, Form(max_length=200)]
After = Annotated[int | None, Query(ge=0, le=INT32_MAX)]


def admin_user(user: PageUserDep) -> PageUser:
    if not user.actor.is_admin:
        raise PageError(403, "Not allowed", "Only an administrator may open the admin pages.")
    return user


AdminDep = Annotated[PageUser, Depends(admin_user)]


def field_errors(exc: DomainError) -> dict[str, str]:
    """A refusal as messages by form field; `form` holds what belongs to no single field."""
    if isinstance(exc, InvalidInput) and exc.errors:
        return {e.get("field", "form"): e.get("message", exc.message) for e in exc.errors}
    return {"form": exc.message}


def cursor(after: int | None) -> list[Any] | None:
    """The `?after=` of a list page as the cursor the queries take."""
    return [after] if after is not None else None


def next_after(found: Slice[Any]) -> Any:
    """Where the list's next page starts (its `?after=`), or None on the last page."""
    return found.next_after[0] if found.next_after else None


def user_account(session: Session, user_id: int) -> AccountView:
    found = account(session, user_id)
    if found is None:
        raise PageError(404, "Not found", "There is no such user. Start again from Users.")
    return found


@router.get("")
def overview(request: Request, user: AdminDep, session: SessionDep, now: NowDep) -> Response:
    counts = admin_counts(session, today=local_date(now))
    return render(request, "admin/overview.html", {"section": "admin", "counts": counts})


@router.get("/delegations")
def delegations(
    request: Request, user: AdminDep, session: SessionDep, now: NowDep, after: After = None
) -> Response:
    found = list_delegations(session, limit=PAGE_SIZE, after=cursor(after))
    shown = found.items
    names = people(session, [i for d in shown for i in (d.delegator_id, d.delegate_id)])
    today = local_date(now)
    return render(
        request,
        "admin/delegations.html",
        {
            "section": "admin",
            "delegations": shown,
            "people": names,
            "status": {d.id: d.status_on(today) for d in shown},
            "next_after": next_after(found),
        },
    )
