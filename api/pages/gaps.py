"""Gap analysis of one version: requirement vs capability vs measured per metric, its gaps with
add and resolve forms, its gap-analysis tasks, submitting it for approval, and the what-if.

The forms call the same commands as `api.routers.gaps`, `api.routers.tasks` and
`api.routers.lifecycle`; the what-if is `GET /api/v1/slas/{id}/versions/{n}/what-if` drawn as a
table and a chart. Each POST redirects back with a flash; a refusal is shown on this page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import NowDep, SessionDep
from api.pages.errors import PageError
from api.pages.refusals import as_sentence, refusal
from api.pages.render import Flash, redirect, render
from api.pages.reports import REPORT_CSP
from api.pages.session import PageUserDep
from api.types import Id
from notifications.reports.what_if_chart import what_if_chart_html
from states.lifecycle import GAP_ANALYSIS
from workflow import commands
from workflow.access import Actor
from workflow.compliance.what_if import MeasuredShortfall, WhatIf, WhatIfWindow
from workflow.content import Metric, Terms
from workflow.errors import Conflict, DomainError, Forbidden, InvalidInput, NotAllowedNow
from workflow.models import Proposal
from workflow.models.tasks import GAP_RESOLUTIONS, GAP_SEVERITIES
from workflow.queries.gaps import gap_detail, gaps_of_version
from workflow.queries.tasks import TaskFilter, TaskView, list_tasks
from workflow.queries.versions import VersionDetail, metric_names, version_detail
from workflow.queries.what_if import (
    last_windows,
    measured_shortfalls,
    study_zone,
    version_what_if,
)

router = APIRouter()

GAP_TASKS = ("confirm_requirements", "confirm_capabilities", "lcce_review")
SUBMIT = "submit_for_approval"
RESOLUTION_LABELS = {
    "provider_commits": "The provider commits to the requirement",
    "customer_accepts": "The customer accepts the capability",
    "target_adjusted": "The target is adjusted (agreed target required)",
    "waived": "Waived (justification required)",
}
LIST_LIMIT = 200

Text = Annotated[str, Form(max_length=4000)]
Short = Annotated[str, Form(max_length=80)]


@dataclass(frozen=True)
class MetricRow:
    """One metric of the version beside what was measured in its recent windows."""

    metric: Metric
    recent: list[WhatIfWindow]  # the windows the gaps-from-data rule looks at, with data
    shortfall: str | None  # that rule's finding, as the measured gap describes it


def _path(agreement_id: int, number: int) -> str:
    return f"/slas/{agreement_id}/versions/{number}/gaps"


@dataclass(frozen=True)
class Here:
    """The request a page answers, to show the page again with a refusal."""

    request: Request
    session: Session
    actor: Actor
    agreement_id: int
    number: int
    now: datetime


def _metric_rows(
    session: Session, actor: Actor, version: VersionDetail, now: datetime
) -> list[MetricRow]:
    """Requirement, capability and the last windows' actuals (see `measured_shortfalls`)."""
    metrics = [Metric.model_validate(m) for m in version.metrics]
    zone = study_zone(session, version.agreement_id, Terms.model_validate(version.terms))
    shortfalls: dict[str, MeasuredShortfall] = measured_shortfalls(
        session, version.agreement_id, metrics, now, zone
    )
    rows = []
    for metric in metrics:
        replay = version_what_if(
            session, actor, version.agreement_id, version.number, metric.key, metric.target
        )
        labels = {w.label for w in last_windows(now, metric.window, zone)}
        recent = [w for w in replay.windows if w.window in labels and w.actual is not None]
        found = shortfalls.get(metric.key)
        rows.append(MetricRow(metric, recent, None if found is None else found.describe(metric)))
    return rows


def _gap_tasks(
    session: Session, actor: Actor, version: VersionDetail, now: datetime
) -> list[TaskView]:
    tasks = list_tasks(
        session,
        actor,
        TaskFilter(agreement_id=version.agreement_id),
        now=now,
        limit=LIST_LIMIT,
    )
    return [
        t
        for t in tasks.items
        if t.version_number == version.number and t.kind in GAP_TASKS and t.state != "cancelled"
    ]


def _may_do(task: TaskView, actor: Actor) -> bool:
    mine = task.assignee is not None and task.assignee.id == actor.user_id
    return (
        task.state == "open" and "done" in task.outcomes and (mine or task.acting_for is not None)
    )


def _what_if(
    session: Session,
    actor: Actor,
    version: VersionDetail,
    metric: str | None,
    target: str | None,
) -> tuple[WhatIf | None, str | None]:
    """The replay asked for in the query string, or why there is none."""
    if not metric:
        return None, None
    try:
        value = float((target or "").strip())
    except ValueError:
        return None, "Enter the proposed target as a number, such as 99.7."
    if not math.isfinite(value):
        return None, "Enter the proposed target as a number, such as 99.7."
    try:
        result = version_what_if(
            session, actor, version.agreement_id, version.number, metric, value
        )
    except InvalidInput as exc:
        return None, "; ".join(e.get("message", exc.message) for e in exc.errors) or exc.message
    return result, None


def _gaps_page(
    here: Here,
    *,
    metric: str | None = None,
    target: str | None = None,
    error: str | None = None,
    reasons: list[str] | None = None,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    session, actor, now = here.session, here.actor, here.now
    # NotFound (a 404 page) for anyone whose organisation is not party to the agreement.
    version = version_detail(session, actor, here.agreement_id, here.number, now=now)
    gaps = gaps_of_version(session, actor, here.agreement_id, here.number, limit=LIST_LIMIT).items
    rows = _metric_rows(session, actor, version, now)
    tasks = _gap_tasks(session, actor, version, now)
    what_if, what_if_error = _what_if(session, actor, version, metric, target)
    names = {r.metric.key: r.metric for r in rows}
    chart = ""
    if what_if is not None and what_if.windows:
        studied = names[what_if.metric]
        chart = what_if_chart_html(what_if, studied.name, studied.unit)
    return render(
        here.request,
        "gaps/page.html",
        {
            "section": "agreements",
            "version": version,
            "in_gap_analysis": version.state == GAP_ANALYSIS,
            "gaps": gaps,
            "open_gaps": sum(1 for g in gaps if g.resolution is None),
            "rows": rows,
            "tasks": tasks,
            "may_do": {t.id: _may_do(t, actor) for t in tasks},
            "may_submit": SUBMIT in version.allowed_events,
            "severities": GAP_SEVERITIES,
            "resolutions": [(r, RESOLUTION_LABELS.get(r, r)) for r in GAP_RESOLUTIONS],
            "what_if": what_if,
            "what_if_metric": metric or "",
            "what_if_target": target or "",
            "what_if_error": what_if_error,
            "what_if_name": names[what_if.metric].name if what_if else "",
            "chart": chart,
            "error": error,
            "reasons": reasons or [],
            "errors": errors or {},
            "form": form or {},
        },
        status_code=status_code,
        headers={"Content-Security-Policy": REPORT_CSP},
    )


@router.get("/slas/{agreement_id}/versions/{number}/gaps")
def gaps_page(
    request: Request,
    agreement_id: Id,
    number: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    metric: Annotated[str | None, Query(max_length=80)] = None,
    target: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    here = Here(request, session, user.actor, agreement_id, number, now)
    return _gaps_page(here, metric=metric, target=target)


def _refusal(exc: DomainError) -> tuple[int, dict[str, str]]:
    """The status and per-field messages of a command's refusal."""
    if isinstance(exc, InvalidInput):
        fields = {e.get("field", ""): e.get("message", exc.message) for e in exc.errors}
        return 422, fields
    if isinstance(exc, Forbidden):
        return 403, {}
    return 409, {}


@router.post("/slas/{agreement_id}/versions/{number}/gaps")
def add_gap(
    request: Request,
    agreement_id: Id,
    number: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    metric_key: Short = "",
    severity: Short = "",
    description: Text = "",
) -> Response:
    """Add a gap by hand, with the command of `POST /api/v1/slas/{id}/versions/{n}/gaps`."""
    try:
        commands.add_gap(
            session,
            actor=user.actor,
            agreement_id=agreement_id,
            number=number,
            metric_key=metric_key,
            description=description,
            severity=severity,
            now=now,
        )
    except (Forbidden, InvalidInput, Conflict) as exc:
        status, fields = _refusal(exc)
        return _gaps_page(
            Here(request, session, user.actor, agreement_id, number, now),
            error=f"The gap was not added: {exc.message}.",
            errors={f"add-{k}": v for k, v in fields.items()},
            form={"add": {"metric_key": metric_key, "severity": severity, "text": description}},
            status_code=status,
        )
    return redirect(
        _path(agreement_id, number),
        flash=Flash(
            "success", f"Gap added to {_name(session, agreement_id, metric_key)} ({severity})."
        ),
    )


@router.post("/slas/{agreement_id}/versions/{number}/gaps/{gap_id}/resolve")
def resolve_gap(
    request: Request,
    agreement_id: Id,
    number: Id,
    gap_id: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    resolution: Short = "",
    note: Text = "",
    agreed_target: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Resolve a gap, with the command of `POST /api/v1/gaps/{id}/resolve`."""
    gap = gap_detail(session, user.actor, gap_id)  # NotFound unless a party
    if (gap.agreement_id, gap.version_number) != (agreement_id, number):
        raise PageError(404, "No such gap", "This version has no such gap; reload its page.")
    here = Here(request, session, user.actor, agreement_id, number, now)
    form = {"gap": gap_id, "resolution": resolution, "note": note, "agreed_target": agreed_target}
    target = _agreed_target(agreed_target)
    if target is not None and not math.isfinite(target):
        return _gaps_page(
            here,
            error="The gap was not resolved: the agreed target must be a number.",
            errors={"agreed_target": "Enter a number, such as 99.5."},
            form=form,
            status_code=422,
        )
    try:
        done = commands.resolve_gap(
            session,
            actor=user.actor,
            gap_id=gap_id,
            resolution=resolution,
            note=note.strip() or None,
            agreed_target=target,
            now=now,
        )
    except (NotAllowedNow, Forbidden, InvalidInput) as exc:
        return _not_resolved(here, exc, _name(session, agreement_id, gap.metric_key), form)
    metric = _name(session, agreement_id, gap.metric_key)
    if isinstance(done, Proposal):
        return redirect(
            f"/proposals/{done.id}",
            flash=Flash(
                "success",
                f"You proposed to resolve the gap in {metric} as "
                f"{resolution.replace('_', ' ')}; it is resolved once the other side accepts.",
            ),
        )
    return redirect(
        _path(agreement_id, number),
        flash=Flash(
            "success",
            f"Gap in {metric} resolved: {resolution.replace('_', ' ')}.",
        ),
    )


def _name(session: Session, agreement_id: int, metric_key: str) -> str:
    """The metric's name, as people know it (its key only when it has none)."""
    return metric_names(session, agreement_id).get(metric_key, metric_key)


def _not_resolved(here: Here, exc: DomainError, metric: str, form: dict[str, Any]) -> Response:
    """The page again with the refusal; a second submit of the same form goes back with
    nothing more to do (the first one counted)."""
    if isinstance(exc, NotAllowedNow) and exc.current_state == "resolved":
        return redirect(
            _path(here.agreement_id, here.number),
            flash=Flash("info", f"Nothing more to do: the gap in {metric} is resolved."),
        )
    status, fields = _refusal(exc)  # any other not-allowed-now: the version moved on (409)
    return _gaps_page(
        here,
        error=f"The gap was not resolved: {exc.message}.",
        errors=fields,
        form=form,
        status_code=status,
    )


def _agreed_target(text: str) -> float | None:
    """The form's agreed target: None when blank, NaN when it is not a number."""
    try:
        return float(text) if text.strip() else None
    except ValueError:
        return math.nan


@router.post("/slas/{agreement_id}/versions/{number}/gaps/tasks/{task_id}")
def task_done(
    request: Request,
    agreement_id: Id,
    number: Id,
    task_id: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Mark a gap-analysis task done, with the command of `POST /api/v1/tasks/{id}/complete`."""
    version = version_detail(session, user.actor, agreement_id, number, now=now)
    task = next((t for t in _gap_tasks(session, user.actor, version, now) if t.id == task_id), None)
    if task is None:
        raise PageError(404, "No such task", "This version has no such gap-analysis task.")
    try:
        commands.complete_task(
            session, actor=user.actor, task_id=task_id, outcome="done", comment=None, now=now
        )
    except NotAllowedNow:
        return redirect(
            _path(agreement_id, number),
            flash=Flash("info", f"Nothing more to do: {task.title} was already done."),
        )
    except (Forbidden, InvalidInput) as exc:
        status, _ = _refusal(exc)
        return _gaps_page(
            Here(request, session, user.actor, agreement_id, number, now),
            error=f"{task.title} was not marked done: {as_sentence(exc.message)}",
            status_code=status,
        )
    return redirect(_path(agreement_id, number), flash=Flash("success", f"Done: {task.title}."))


@router.post("/slas/{agreement_id}/versions/{number}/gaps/submit")
def submit_for_approval(
    request: Request,
    agreement_id: Id,
    number: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    comment: Text = "",
) -> Response:
    """Finish gap analysis: `POST /api/v1/slas/{id}/versions/{n}/events/submit_for_approval`."""
    try:
        commands.fire_event(
            session,
            actor=user.actor,
            agreement_id=agreement_id,
            number=number,
            event=SUBMIT,
            comment=comment.strip() or None,
            now=now,
        )
    except (Forbidden, InvalidInput, Conflict) as exc:
        status, _ = _refusal(exc)
        said = refusal(exc, f"Version {number}", SUBMIT)
        return _gaps_page(
            Here(request, session, user.actor, agreement_id, number, now),
            error=said.sentence,
            reasons=said.reasons,
            status_code=status,
        )
    return redirect(
        f"/slas/{agreement_id}",
        flash=Flash("success", f"Version {number} submitted for approval."),
    )
