"""Compliance: excusing a miss, and the compliance report as JSON, CSV or HTML."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import Field, TypeAdapter

from api.deps import ActorDep, IdempotencyDep, NowDep, SessionDep
from api.idempotency import idempotent
from api.routers.proposals import ProposalMade
from api.schemas import Strict
from api.types import Id
from notifications.reports.csv_export import to_csv
from notifications.reports.page import to_html
from workflow import commands
from workflow.compliance import ComplianceReport
from workflow.compliance.what_if import WhatIf
from workflow.content import Figure
from workflow.errors import InvalidInput
from workflow.queries.compliance import agreement_compliance_report
from workflow.queries.what_if import version_what_if

router = APIRouter(prefix="/slas/{sla_id}", tags=["compliance"])

MAX_REPORT_DAYS = 366 * 10
_REPORT = TypeAdapter(ComplianceReport)
_WHAT_IF = TypeAdapter(WhatIf)
Format = Literal["json", "csv", "html"]
_MEDIA: dict[str, Format] = {
    "application/json": "json",
    "text/csv": "csv",
    "text/html": "html",
}


class ExcusalIn(Strict):
    metric: Annotated[str, Field(min_length=1, max_length=80)]
    window: Annotated[str, Field(description="2027-01 or 2027-Q1", max_length=10)]
    party: Literal["customer", "provider", "third_party"]
    reason: Annotated[str, Field(min_length=1, max_length=4000)]


@router.post(
    "/excusals",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[IdempotencyDep],
    responses={202: {"description": "proposed; it counts once the other side accepts it"}},
)
@idempotent
def post_excusal(
    sla_id: Id, body: ExcusalIn, session: SessionDep, actor: ActorDep, now: NowDep
) -> ProposalMade:
    """Propose to excuse a miss: the metric-window's miss attributed to a party, with a reason.
    Program Manager or Business Owner of either side; nothing changes in reports until the other
    side accepts the proposal. One excusal in force (or proposed) per metric and window."""
    proposal = commands.excuse_miss(
        session,
        actor=actor,
        agreement_id=sla_id,
        metric=body.metric,
        window=body.window,
        party=body.party,
        reason=body.reason,
        now=now,
    )
    assert proposal.id is not None
    return ProposalMade(proposal_id=proposal.id, state=proposal.state)


def _wanted(format_: Format | None, accept: str) -> Format:
    if format_ is not None:
        return format_
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in _MEDIA:
            return _MEDIA[media]
    return "json"


@router.get(
    "/reports/compliance",
    responses={
        200: {
            "description": "the report; JSON by default",
            "content": {
                "application/json": {},
                "text/csv": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            },
        }
    },
)
def get_compliance_report(
    sla_id: Id,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    from_: Annotated[date, Query(alias="from", description="first local day")],
    to: Annotated[date, Query(description="last local day, included")],
    format_: Annotated[Format | None, Query(alias="format")] = None,
) -> Response:
    """Per metric and window: target, actual, status, credit; responsiveness by side.
    `?format=` or `Accept` chooses JSON, CSV (formula cells neutralised) or HTML."""
    if to < from_:
        raise InvalidInput(
            "the range ends before it starts", [{"field": "to", "message": "before from"}]
        )
    if (to - from_).days > MAX_REPORT_DAYS:
        raise InvalidInput(
            "the range is too long", [{"field": "to", "message": "at most ten years"}]
        )
    report = agreement_compliance_report(session, actor, sla_id, from_, to, now=now)
    wanted = _wanted(format_, request.headers.get("accept", ""))
    if wanted == "csv":
        name = f"compliance-{sla_id}-{from_.isoformat()}-{to.isoformat()}.csv"
        return Response(
            to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    if wanted == "html":
        return HTMLResponse(to_html(report, title=f"Compliance of agreement {sla_id}"))
    return JSONResponse(_REPORT.dump_python(report, mode="json"))


@router.get(
    "/versions/{number}/what-if",
    responses={200: {"description": "per window: actual, status and credit under both targets"}},
)
def get_what_if(
    sla_id: Id,
    number: Id,
    session: SessionDep,
    actor: ActorDep,
    metric: Annotated[str, Query(min_length=1, max_length=80, description="the metric's key")],
    target: Annotated[Figure, Query(description="the proposed target (finite)")],
) -> JSONResponse:
    """Replay the recorded history of one metric of version `number` under a proposed target:
    per window (every window from the first to the last observation) the actual, the status
    and credit under the current target and under the proposed one, and the totals of both.
    The warning band keeps its width; no data gives no windows and a note."""
    result = version_what_if(session, actor, sla_id, number, metric, target)
    return JSONResponse(_WHAT_IF.dump_python(result, mode="json"))
