"""Agreements: the list, and one agreement with its versions, stakeholders and open tasks.

A first cut that the agreement pages of issue 5 (diagram, actions, editing, diff) build on.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import NowDep, SessionDep
from api.pages.due import due_status
from api.pages.render import render
from api.pages.session import PageUserDep
from workflow.calendar import local_date
from workflow.queries.agreements import agreement_detail, list_agreements
from workflow.queries.tasks import TaskFilter, list_tasks

router = APIRouter()

LIST_LIMIT = 200


@router.get("/slas")
def agreements(
    request: Request, user: PageUserDep, session: SessionDep, q: str | None = None
) -> Response:
    found = list_agreements(session, user.actor, q=q, limit=LIST_LIMIT)
    session.rollback()
    return render(
        request,
        "agreements/list.html",
        {
            "section": "agreements",
            "agreements": found.items,
            "more": found.next_after is not None,
            "q": q or "",
        },
    )


@router.get("/slas/{agreement_id}")
def agreement(
    request: Request, agreement_id: int, user: PageUserDep, session: SessionDep, now: NowDep
) -> Response:
    detail = agreement_detail(session, user.actor, agreement_id)  # NotFound unless a party
    tasks = list_tasks(
        session,
        user.actor,
        TaskFilter(state="open", agreement_id=agreement_id),
        now=now,
        limit=LIST_LIMIT,
    )
    session.rollback()
    today = local_date(now)
    return render(
        request,
        "agreements/detail.html",
        {
            "section": "agreements",
            "agreement": detail,
            "tasks": tasks.items,
            "due": {t.id: due_status(t, today) for t in tasks.items},
        },
    )
