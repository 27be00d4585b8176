"""The reporting cycle for people: an agreement's periods, one period's report and its actions.

The events (submit, accept, dispute, resubmit, accept with exceptions) and the Sponsors' decision
call the same commands as `api.routers.periods`; each POST redirects back with a flash, and a
refusal is shown on the period's page (never an error 500). What changes a period's data
(amendments, corrections, uploads) is in `api.pages.period_changes`.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import NowDep, SessionDep
from api.pages.refusals import as_sentence, refusal
from api.pages.render import Flash, redirect, render
from api.pages.session import PageUserDep
from api.types import Id
from notifications.reports.csv_export import to_csv
from notifications.reports.page import report_fragment
from states import REPORTING
from workflow import commands
from workflow.access import Actor, delegators_of
from workflow.calendar import local_date
from workflow.compliance import ComplianceReport
from workflow.errors import Forbidden, InvalidInput, NotAllowedNow
from workflow.queries.agreements import visible_agreement
from workflow.queries.corrective_actions import list_corrective_actions
from workflow.queries.periods import (
    PeriodDetail,
    PeriodTaskView,
    list_periods,
    period_detail,
    stored_report,
    trend_report,
)
from workflow.queries.versions import known_metrics, metric_names

router = APIRouter()

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$"
PeriodLabel = Annotated[str, Path(pattern=PERIOD_PATTERN)]
CommentField = Annotated[str, Form(max_length=4000)]
ListField = Annotated[list[str], Form()]

# The report's grid and charts carry inline styles (they are made for email): this page alone
# allows inline styles; scripts stay limited to /static.
REPORT_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
EVENT_LABELS = {
    "submit": "Submit results",
    "accept": "Accept",
    "dispute": "Dispute",
    "resubmit": "Resubmit",
    "accept_with_exceptions": "Accept with exceptions",
}
# Consequential and final: a second step says what will happen before it does (as approvals do).
CONFIRMED_EVENTS = ("submit", "accept")
DONE_WORDS = {
    "submit": "submitted the results of",
    "accept": "accepted the results of",
    "dispute": "disputed the results of",
    "resubmit": "resubmitted the results of",
    "accept_with_exceptions": "accepted, with exceptions, the results of",
}
# Events whose form names metrics, each with a reason.
NAMING_EVENTS = ("dispute", "accept_with_exceptions")


# Every miss of a period, both sides (a period has a few dozen metric-windows at most).
ACTIONS_SHOWN = 200
# Forty years of monthly periods; older ones stay in the API (`GET …/periods?cursor=`).
PERIODS_SHOWN = 500


def period_path(agreement_id: int, period: str) -> str:
    return f"/slas/{agreement_id}/periods/{period}"


@router.get("/slas/{agreement_id}/periods")
def periods(request: Request, agreement_id: Id, user: PageUserDep, session: SessionDep) -> Response:
    agreement = visible_agreement(session, user.actor, agreement_id)  # NotFound unless a party
    found = list_periods(session, user.actor, agreement_id, limit=PERIODS_SHOWN)
    context = {
        "section": "agreements",
        "agreement": _ref(agreement),
        "periods": found.items,
        "more": found.next_after is not None,
    }
    return render(request, "reports/list.html", context)


def _ref(agreement: Any) -> dict[str, Any]:
    return {"id": agreement.id, "key": agreement.key, "title": agreement.title}


def _report(detail: PeriodDetail) -> ComplianceReport | None:
    return None if detail.results is None else stored_report(detail.results)


def _my_events(detail: PeriodDetail, actor: Actor) -> list[str]:
    """The period's next events whose task the signed-in person holds."""
    held = {
        t.kind
        for t in detail.tasks
        if t.state == "open" and t.assignee is not None and t.assignee.id == actor.user_id
    }
    events = []
    for event in detail.next_events:
        transition = REPORTING.transition(event)
        if transition.task_kind is not None and transition.task_kind in held:
            events.append(event)
    # The plain decision first; disputing opens a checklist under it.
    return sorted(events, key=lambda e: e not in CONFIRMED_EVENTS)


def _my_decision(
    session: Session, detail: PeriodDetail, actor: Actor, now: datetime
) -> PeriodTaskView | None:
    """The open decision on the escalated dispute that the signed-in person takes: as the
    Executive Sponsor it is assigned to, or as the Sponsor's delegate today."""
    principals = {actor.user_id, *delegators_of(session, actor.user_id, local_date(now))}
    for task in detail.tasks:
        held = task.assignee is not None and task.assignee.id in principals
        if task.kind == "dispute_decision" and task.state == "open" and held:
            return task
    return None


def _my_open_tasks(
    detail: PeriodDetail, actor: Actor, now: datetime
) -> list[tuple[PeriodTaskView, str]]:
    """The reader's own open tasks on the period with their due state: the header shows these
    dates, never only the period's reporting day, which is the provider's deadline (issue 11,
    defect 8: a customer reviewer read the provider's date as theirs)."""
    today = local_date(now)
    return [
        (t, "overdue" if t.due_on < today else "")
        for t in detail.tasks
        if t.state == "open" and t.assignee is not None and t.assignee.id == actor.user_id
    ]


def period_view(
    request: Request,
    session: Session,
    actor: Actor,
    agreement_id: int,
    period: str,
    *,
    now: datetime,
    error: str | None = None,
    reasons: list[str] | None = None,
    form: dict[str, Any] | None = None,
    upload: commands.IngestReport | None = None,
    status_code: int = 200,
) -> Response:
    agreement = visible_agreement(session, actor, agreement_id)
    detail = period_detail(session, actor, agreement_id, period)
    ref = _ref(agreement)
    report = _report(detail)
    trend = (
        None if report is None else trend_report(session, agreement_id, detail.last_day, now=now)
    )
    return render(
        request,
        "reports/detail.html",
        {
            "section": "agreements",
            "agreement": ref,
            "period": detail,
            "report": report,
            "known": known_metrics(session, agreement_id),
            "report_html": "" if report is None else report_fragment(report, trend=trend),
            "events": _my_events(detail, actor),
            "decision_task": _my_decision(session, detail, actor, now),
            "my_tasks": _my_open_tasks(detail, actor, now),
            "labels": EVENT_LABELS,
            "may_amend": detail.state == "final",
            "corrective_actions": list_corrective_actions(
                session, actor, sla_id=agreement_id, period=period, limit=ACTIONS_SHOWN
            ).items,
            "error": error,
            "reasons": reasons or [],
            "form": form or {},
            "upload": upload,
        },
        status_code=status_code,
        headers={"Content-Security-Policy": REPORT_CSP},
    )


@router.get("/slas/{agreement_id}/periods/{period}.csv")
def period_csv(
    agreement_id: Id, period: PeriodLabel, user: PageUserDep, session: SessionDep
) -> Response:
    agreement = visible_agreement(session, user.actor, agreement_id)
    detail = period_detail(session, user.actor, agreement_id, period)
    key = agreement.key
    report = _report(detail)
    if report is None:
        return redirect(
            period_path(agreement_id, period),
            flash=Flash("info", f"{period} has no results yet: they are submitted first."),
        )
    return Response(
        to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{key}-{period}.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/slas/{agreement_id}/periods/{period}")
def period_page(
    request: Request,
    agreement_id: Id,
    period: PeriodLabel,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    return period_view(request, session, user.actor, agreement_id, period, now=now)


def _disputes(metrics: list[str], reasons: list[str], chosen: list[str]) -> list[dict[str, str]]:
    by_metric = dict(zip(metrics, reasons, strict=False))
    return [{"metric": m, "reason": by_metric.get(m, "").strip()} for m in chosen]


def _dispute_problem(disputes: list[dict[str, str]], names: dict[str, str]) -> str | None:
    if not disputes:
        return "Choose at least one metric to dispute, and say why."
    missing = [names.get(d["metric"], d["metric"]) for d in disputes if not d["reason"]]
    if missing:
        return "Say why you dispute " + ", ".join(missing) + "."
    return None


@router.post("/slas/{agreement_id}/periods/{period}/events/{event}/confirm")
def confirm(
    request: Request,
    agreement_id: Id,
    period: PeriodLabel,
    event: str,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """The second step of submitting or accepting: what will happen, then confirm."""
    refused = partial(period_view, request, session, user.actor, agreement_id, period, now=now)
    if event not in CONFIRMED_EVENTS:
        return refused(error=f"{event!r} has no confirmation step on a period.", status_code=404)
    agreement = visible_agreement(session, user.actor, agreement_id)
    detail = period_detail(session, user.actor, agreement_id, period)
    if event not in _my_events(detail, user.actor):
        label = EVENT_LABELS[event].lower()
        return refused(
            error=f"You may not {label} {period} now: it is {detail.state}.", status_code=409
        )
    results = detail.results or {}
    return render(
        request,
        "reports/confirm.html",
        {
            "section": "agreements",
            "agreement": _ref(agreement),
            "period": detail,
            "event": event,
            "label": EVENT_LABELS[event],
            "totals": results.get("totals"),
            "corrective": results.get("corrective_actions", []),
            "known": known_metrics(session, agreement_id),
        },
    )


@router.post("/slas/{agreement_id}/periods/{period}/events/{event}")
def fire(
    request: Request,
    agreement_id: Id,
    period: PeriodLabel,
    event: str,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    comment: CommentField = "",
    metric: ListField = [],  # noqa: B006 - FastAPI copies defaults
    metric_key: ListField = [],  # noqa: B006
    reason: ListField = [],  # noqa: B006
) -> Response:
    """Submit, accept, dispute, accept with exceptions or resubmit with the command behind the
    periods API."""
    named = _disputes(metric_key, reason, metric) if event in NAMING_EVENTS else []
    # A refusal shows the period's page again with the form as it was sent.
    refused = partial(
        period_view,
        request,
        session,
        user.actor,
        agreement_id,
        period,
        now=now,
        form=_sent_form(event, comment, metric, metric_key, reason),
    )
    if event not in EVENT_LABELS:
        return refused(error=f"There is no action named {event!r} on a period.", status_code=404)
    problem = _form_problem(event, comment, named, metric_names(session, agreement_id))
    if problem:
        return refused(error=problem, status_code=422)
    try:
        commands.fire_period_event(
            session,
            actor=user.actor,
            agreement_id=agreement_id,
            period=period,
            event=event,
            now=now,
            comment=comment.strip() or None,
            disputes=named if event == "dispute" else None,
            exceptions=named if event == "accept_with_exceptions" else None,
        )
    except (NotAllowedNow, Forbidden, InvalidInput) as exc:
        status_code, _ = refusal_status(exc)
        said = refusal(exc, f"Period {period}", event)
        return refused(error=said.sentence, reasons=said.reasons, status_code=status_code)
    return redirect(
        period_path(agreement_id, period),
        flash=Flash("success", f"You {DONE_WORDS[event]} {period}."),
    )


def _sent_form(
    event: str, comment: str, chosen: list[str], metric_keys: list[str], reasons: list[str]
) -> dict[str, Any]:
    return {
        "event": event,
        "comment": comment,
        "chosen": chosen,
        "reasons": dict(zip(metric_keys, reasons, strict=False)),
    }


def _form_problem(
    event: str, comment: str, disputes: list[dict[str, str]], names: dict[str, str]
) -> str | None:
    """What the form lacks for the event, found before any command runs; metrics by `names`."""
    if event == "dispute":
        return _dispute_problem(disputes, names)
    if event == "accept_with_exceptions":
        if not disputes:
            return "Choose at least one metric you still dispute, and say why."
        missing = [names.get(d["metric"], d["metric"]) for d in disputes if not d["reason"]]
        return "Say why " + ", ".join(missing) + " is an exception." if missing else None
    if event == "resubmit" and not comment.strip():
        return "Say what you changed before resubmitting."
    return None


def refusal_status(exc: NotAllowedNow | Forbidden | InvalidInput) -> tuple[int, list[str] | None]:
    """The status of a refused period event, and the reasons a not-allowed-now names."""
    if isinstance(exc, NotAllowedNow):
        return 409, exc.reasons
    if isinstance(exc, Forbidden):
        return 403, None
    return 422, None


@router.post("/slas/{agreement_id}/periods/{period}/decision")
def decide_dispute(
    request: Request,
    agreement_id: Id,
    period: PeriodLabel,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    outcome: Annotated[str, Form(max_length=40)] = "",
    comment: CommentField = "",
) -> Response:
    """An Executive Sponsor's decision on an escalated dispute: their `dispute_decision` task,
    completed with the results in view; back to the period, or its page with what is wrong."""
    page = partial(period_view, request, session, user.actor, agreement_id, period, now=now)
    detail = period_detail(session, user.actor, agreement_id, period)
    task = _my_decision(session, detail, user.actor, now)
    if task is None:
        return page(error="You have no decision to take on this period.", status_code=409)
    if outcome not in ("upheld", "sustained"):
        return page(
            error="Choose to uphold the results or to sustain the dispute.", status_code=422
        )
    if outcome == "sustained" and not comment.strip():
        return page(error="Say why you sustain the dispute.", status_code=422)
    try:
        commands.complete_task(
            session,
            actor=user.actor,
            task_id=task.id,
            outcome=outcome,
            comment=comment.strip() or None,
            now=now,
        )
    except (NotAllowedNow, Forbidden, InvalidInput) as exc:
        status_code, reasons = refusal_status(exc)
        return page(error=as_sentence(exc.message), reasons=reasons, status_code=status_code)
    return redirect(
        period_path(agreement_id, period),
        flash=Flash(
            "success",
            f"You upheld the results of {period}."
            if outcome == "upheld"
            else f"You sustained the dispute of {period}.",
        ),
    )
