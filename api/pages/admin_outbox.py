"""Administration pages for the notification outbox: list messages, requeue a dead one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import NowDep, SessionDep
from api.pages.admin import PAGE_SIZE, AdminDep, After, cursor, next_after
from api.pages.errors import PageError
from api.pages.outbox_preview import payloads_of, preview_message, summaries
from api.pages.render import Flash, redirect, render
from api.types import Id
from notifications.render import Rendered
from workflow.calendar import local_date
from workflow.commands.notifications import retry_notification
from workflow.errors import Conflict
from workflow.models import OutboxStatus
from workflow.models.records import OUTBOX_STATES
from workflow.queries.notifications import list_notifications, notification_detail

router = APIRouter(prefix="/admin")


@router.get("/notifications")
def notifications(
    request: Request,
    user: AdminDep,
    session: SessionDep,
    now: NowDep,
    status: Annotated[str, Query(max_length=20)] = "",
    after: After = None,
) -> Response:
    if status and status not in OUTBOX_STATES:
        raise PageError(
            422, "Please check what you entered", "Status is one of pending, sent or dead."
        )
    found = list_notifications(session, status=status or None, limit=PAGE_SIZE, after=cursor(after))
    payloads = payloads_of(session, [m.id for m in found.items])
    about = summaries(session, found.items, payloads, local_date(now))
    return render(
        request,
        "admin/notifications.html",
        {
            "section": "admin",
            "messages": found.items,
            "about": about,
            "status": status,
            "states": OUTBOX_STATES,
            "next_after": next_after(found),
        },
    )


@router.get("/notifications/{notification_id}")
def notification(
    request: Request, notification_id: Id, user: AdminDep, session: SessionDep, now: NowDep
) -> Response:
    """One message: its recipients, subject, agreement and a preview of the email."""
    message = notification_detail(session, notification_id)
    summary = summaries(session, [message], {message.id: message.payload}, local_date(now))[
        message.id
    ]
    email, sender = preview_message(message.topic, message.payload, summary)
    return render(
        request,
        "admin/notification.html",
        {
            "section": "admin",
            "message": message,
            "summary": summary,
            "email": email if isinstance(email, Rendered) else None,
            "render_error": email if isinstance(email, str) else None,
            "sender": sender,
        },
    )


# The email's HTML keeps its inline styles (emails need them); it is framed by its own page
# only, in a sandbox without scripts.
PREVIEW_CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)


@router.get("/notifications/{notification_id}/preview.html")
def notification_preview(
    notification_id: Id, user: AdminDep, session: SessionDep, now: NowDep
) -> Response:
    message = notification_detail(session, notification_id)
    summary = summaries(session, [message], {message.id: message.payload}, local_date(now))[
        message.id
    ]
    email, _ = preview_message(message.topic, message.payload, summary)
    body = email.html if isinstance(email, Rendered) else "<p>This message cannot be rendered.</p>"
    return Response(
        body,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": PREVIEW_CSP,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "SAMEORIGIN",
        },
    )


@router.get("/notifications/{notification_id}/retry")
def confirm_retry(
    request: Request, notification_id: Id, user: AdminDep, session: SessionDep
) -> Response:
    message = notification_detail(session, notification_id)
    if message.status != OutboxStatus.DEAD:
        return _not_dead(notification_id, message.status)
    return render(request, "admin/retry.html", {"section": "admin", "message": message})


def _not_dead(notification_id: int, status: str) -> Response:
    # Most often the second click of a double submit: the first one requeued it.
    return redirect(
        "/admin/notifications",
        flash=Flash(
            "info", f"Nothing to retry: notification {notification_id} is {status}, not dead."
        ),
    )


@router.post("/notifications/{notification_id}/retry")
def retry(notification_id: Id, user: AdminDep, session: SessionDep, now: NowDep) -> Response:
    message = notification_detail(session, notification_id)
    try:
        retry_notification(session, actor=user.actor, outbox_id=notification_id, now=now)
    except Conflict:
        current = notification_detail(session, notification_id).status
        return _not_dead(notification_id, current)
    return redirect(
        "/admin/notifications?status=pending",
        flash=Flash(
            "success",
            f"Notification {notification_id} ({message.topic}) is pending again; "
            "people it already reached are not mailed twice.",
        ),
    )
