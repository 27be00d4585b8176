"""One version of an agreement: its content and approvals, what changed, and its YAML."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import NowDep, SessionDep
from api.pages.render import render
from api.pages.session import PageUserDep
from api.types import Id
from workflow.access import require_party
from workflow.export import MEDIA_TYPE, export_version, to_yaml
from workflow.models import Agreement
from workflow.permissions import version_by_number
from workflow.queries.agreements import agreement_detail
from workflow.queries.tasks import TaskFilter, list_tasks
from workflow.queries.versions import metric_names, version_detail, version_diff

router = APIRouter()

APPROVALS_LIMIT = 200


@router.get("/slas/{agreement_id}/versions/{number}")
def version(
    request: Request,
    agreement_id: Id,
    number: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    shown = version_detail(session, user.actor, agreement_id, number, now=now)
    agreement = agreement_detail(session, user.actor, agreement_id)
    approvals = list_tasks(
        session,
        user.actor,
        TaskFilter(kind="approval", agreement_id=agreement_id),
        now=now,
        limit=APPROVALS_LIMIT,
    )
    return render(
        request,
        "versions/detail.html",
        {
            "section": "agreements",
            "agreement": agreement,
            "version": shown,
            # Cancelled approvals belong to an earlier round that a rejection ended.
            "approvals": [
                t for t in approvals.items if t.version_number == number and t.state != "cancelled"
            ],
        },
    )


@router.get("/slas/{agreement_id}/versions/{number}/diff")
def diff(
    request: Request,
    agreement_id: Id,
    number: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    against: Annotated[Id | None, Query()] = None,
) -> Response:
    agreement = agreement_detail(session, user.actor, agreement_id)
    changes = version_diff(session, user.actor, agreement_id, number, against)
    # Money terms are written in each side's currency: the changed one, else the version's.
    currency = version_detail(session, user.actor, agreement_id, number, now=now).terms.get(
        "currency"
    )
    moved = changes.terms.get("currency") or {"from": currency, "to": currency}
    return render(
        request,
        "versions/diff.html",
        {
            "section": "agreements",
            "agreement": agreement,
            "number": number,
            "diff": changes,
            "names": metric_names(session, agreement_id),
            "diff_terms_from": {"currency": moved.get("from")},
            "diff_terms_to": {"currency": moved.get("to")},
            "others": [v for v in agreement.versions if v.number != number],
        },
    )


@router.get("/slas/{agreement_id}/versions/{number}/export.yaml")
def export(agreement_id: Id, number: Id, user: PageUserDep, session: SessionDep) -> Response:
    """The same document as `GET /api/v1/slas/{id}/versions/{n}/export`, as a download."""
    agreement = require_party(session.get(Agreement, agreement_id), user.actor)
    found = version_by_number(session, agreement, number)
    text = to_yaml(export_version(session, agreement, found))
    return Response(
        text,
        media_type=MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{agreement.key}-v{number}.yaml"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
