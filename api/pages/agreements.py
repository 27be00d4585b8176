"""Agreements: the list, one agreement (diagram, versions, waiting-for, actions), and its actions:
firing a lifecycle event after a confirmation, and starting a revision."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import NowDep, SessionDep
from api.pages.diagram import layout, svg
from api.pages.errors import PageError
from api.pages.refusals import sentence, state_words
from api.pages.render import Flash, redirect, render
from api.pages.session import PageUserDep
from api.types import Id
from states import LIFECYCLE
from workflow import commands
from workflow.access import Actor, grants
from workflow.calendar import local_date
from workflow.errors import Conflict, InvalidInput, NotAllowedNow, StaleVersion
from workflow.queries.agreements import AgreementDetail, agreement_detail, list_agreements
from workflow.queries.blockers import blockers
from workflow.queries.deadlines import next_deadlines
from workflow.queries.delegations import delegations_in_force
from workflow.queries.versions import VersionDetail, version_detail

router = APIRouter()

LIST_LIMIT = 200
DIAGRAM = layout(LIFECYCLE)
CommentField = Annotated[str, Form(max_length=4000)]
LockField = Annotated[int | None, Form()]


@router.get("/slas")
def agreements(
    request: Request,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    found = list_agreements(session, user.actor, q=q, limit=LIST_LIMIT)
    deadlines = next_deadlines(session, user.actor, [a.id for a in found.items])
    return render(
        request,
        "agreements/list.html",
        {
            "section": "agreements",
            "agreements": found.items,
            "deadlines": deadlines,
            "today": local_date(now),
            "more": found.next_after is not None,
            "q": q or "",
        },
    )


def _shown(detail: AgreementDetail) -> int | None:
    """The version the page is about: the one being worked on, else the one in force."""
    version = detail.working_version or detail.active_version
    return version.number if version else None


def _may_start_revision(
    session: Session, actor: Actor, detail: AgreementDetail, now: datetime
) -> bool:
    """The button shows when the action's roles and guards would let the command through."""
    action = LIFECYCLE.action("start_revision")
    held = grants(session, detail.id, actor, local_date(now))
    return (
        detail.active_version is not None
        and detail.working_version is None
        and any(g.role in action.roles for g in held)
    )


def _events(version: VersionDetail | None) -> list[dict[str, Any]]:
    """The actor's events, those that would go through first; the others keep their place
    as disabled buttons listing what is missing, so nobody clicks into a refusal."""
    if version is None:
        return []
    missing = version.not_ready
    events = [_event(name, tuple(missing.get(name, ()))) for name in version.allowed_events]
    return sorted(events, key=lambda e: bool(e["missing"]))


def _event(name: str, missing: tuple[str, ...] = ()) -> dict[str, Any]:
    transition = LIFECYCLE.transition(name)
    return {
        "name": name,
        "label": name.replace("_", " ").capitalize(),
        "description": transition.description,
        "to": transition.dest,
        "comment_required": "has_comment" in transition.guards,
        "missing": missing,
    }


def _detail_page(
    request: Request,
    session: Session,
    actor: Actor,
    agreement_id: int,
    now: datetime,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    detail = agreement_detail(session, actor, agreement_id)  # NotFound unless a party
    number = _shown(detail)
    version = (
        version_detail(session, actor, agreement_id, number, now=now)
        if number is not None
        else None
    )
    waiting = blockers(session, actor, agreement_id, now=now)
    delegations = delegations_in_force(session, actor, agreement_id, today=local_date(now))
    may_revise = _may_start_revision(session, actor, detail, now)
    return render(
        request,
        "agreements/detail.html",
        {
            "section": "agreements",
            "agreement": detail,
            "version": version,
            "diagram": svg(DIAGRAM, detail.current_state, f"Lifecycle of {detail.key}"),
            "transitions": LIFECYCLE.transitions,
            "events": _events(version),
            "may_start_revision": may_revise,
            "waiting": waiting,
            "delegations": delegations,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/slas/{agreement_id}")
def agreement(
    request: Request, agreement_id: Id, user: PageUserDep, session: SessionDep, now: NowDep
) -> Response:
    return _detail_page(request, session, user.actor, agreement_id, now)


def _confirm_page(
    request: Request,
    version: VersionDetail,
    event: dict[str, Any],
    *,
    lock_version: int | None,
    comment: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "agreements/confirm.html",
        {
            "section": "agreements",
            "version": version,
            "event": event,
            "lock_version": lock_version,
            "comment": comment,
            "error": error,
        },
        status_code=status_code,
    )


def _known_event(event: str) -> dict[str, Any]:
    if event not in {t.event for t in LIFECYCLE.transitions}:
        raise PageError(404, "No such action", "There is no such action; see the agreement.")
    return _event(event)


@router.post("/slas/{agreement_id}/versions/{number}/events/{event}/confirm")
def confirm_event(
    request: Request,
    agreement_id: Id,
    number: Id,
    event: str,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    lock_version: LockField = None,
) -> Response:
    """The confirmation step (and the comment, where the event takes one); no JS needed."""
    version = version_detail(session, user.actor, agreement_id, number, now=now)
    chosen = _known_event(event)
    if event not in version.allowed_events:
        return _detail_page(
            request,
            session,
            user.actor,
            agreement_id,
            now,
            error=f"You may not {chosen['label'].lower()} version {number} now: it is "
            f"{state_words(version.state)}.",
            status_code=409,
        )
    return _confirm_page(request, version, chosen, lock_version=lock_version)


@router.post("/slas/{agreement_id}/versions/{number}/events/{event}")
def fire_event(
    request: Request,
    agreement_id: Id,
    number: Id,
    event: str,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    lock_version: LockField = None,
    comment: CommentField = "",
) -> Response:
    """Fire the event with the same command as `POST /api/v1/slas/{id}/versions/{n}/events/…`;
    the lock_version read with the page makes a stale page a plain conflict, not a surprise."""
    version = version_detail(session, user.actor, agreement_id, number, now=now)
    chosen = _known_event(event)
    if chosen["comment_required"] and not comment.strip():
        return _confirm_page(
            request,
            version,
            chosen,
            lock_version=lock_version,
            error="Write a comment: this action needs one.",
            status_code=422,
        )
    try:
        fired = commands.fire_event(
            session,
            actor=user.actor,
            agreement_id=agreement_id,
            number=number,
            event=event,
            comment=comment.strip() or None,
            expected_lock_version=lock_version,
            now=now,
        )
    except (StaleVersion, NotAllowedNow) as exc:
        return _detail_page(
            request,
            session,
            user.actor,
            agreement_id,
            now,
            error=sentence(exc, f"Version {number}", event),
            status_code=409,
        )
    except InvalidInput as exc:
        return _confirm_page(
            request,
            version,
            chosen,
            lock_version=lock_version,
            comment=comment,
            error=exc.message,
            status_code=422,
        )
    return _done(agreement_id, number, chosen, fired.state)


def _done(agreement_id: int, number: int, chosen: dict[str, Any], state: str) -> Response:
    return redirect(
        f"/slas/{agreement_id}",
        flash=Flash(
            "success",
            f"Done: {chosen['label'].lower()}. Version {number} is now {state.replace('_', ' ')}.",
        ),
    )


@router.post("/slas/{agreement_id}/revisions")
def start_revision(
    request: Request, agreement_id: Id, user: PageUserDep, session: SessionDep, now: NowDep
) -> Response:
    """A new draft cloned from the active version, as `POST /api/v1/slas/{id}/revisions`."""
    try:
        version = commands.start_revision(
            session, actor=user.actor, agreement_id=agreement_id, now=now
        )
    except Conflict as exc:
        # Most often a second press of the button: the first one opened the revision.
        return _detail_page(
            request,
            session,
            user.actor,
            agreement_id,
            now,
            error=f"No revision started: {exc.message}.",
            status_code=409,
        )
    return redirect(
        f"/slas/{agreement_id}/versions/{version.number}",
        flash=Flash(
            "success",
            f"Version {version.number} (modification {version.modification_number}) is a new "
            "draft; the active version stays in force until it is approved.",
        ),
    )
