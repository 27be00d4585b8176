"""What changes a period's data, from its page: a proposed amendment of the final report, a
correction of one observation, an upload of measurements. Each calls the command behind its
API path; a refusal comes back on the period's page with what was typed kept."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from api.deps import NowDep, SessionDep
from api.pages.refusals import as_sentence
from api.pages.render import Flash, redirect
from api.pages.reports import CommentField, PeriodLabel, period_path, period_view
from api.pages.session import PageUserDep
from api.types import Id
from workflow import commands
from workflow.errors import Forbidden, InvalidInput, NotAllowedNow
from workflow.measurements.sources import csv_rows

router = APIRouter()

UPLOAD_ERRORS_SHOWN = 50


def _refused(
    page: Callable[..., Response],
    exc: NotAllowedNow | Forbidden | InvalidInput,
    error: str | None = None,
) -> Response:
    """The period's page with a refused command: what is not allowed now says why, a bad field
    says which."""
    said = as_sentence(error or exc.message)
    if isinstance(exc, NotAllowedNow):
        return page(error=said, reasons=exc.reasons, status_code=409)
    if isinstance(exc, Forbidden):
        return page(error=said, status_code=403)
    return page(error=said, reasons=[e["message"] for e in exc.errors], status_code=422)


@router.post("/slas/{agreement_id}/periods/{period}/amendments")
def amend(
    request: Request,
    agreement_id: Id,
    period: PeriodLabel,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    reason: CommentField = "",
) -> Response:
    """Propose to correct a final report with a numbered amendment (Program Manager or
    Functional Lead); the other side accepts it on the proposal's page."""
    page = partial(
        period_view,
        request,
        session,
        user.actor,
        agreement_id,
        period,
        now=now,
        form={"event": "amend", "amend_reason": reason},
    )
    if not reason.strip():
        return page(error="Say why the final report is amended.", status_code=422)
    try:
        proposal = commands.amend_period(
            session,
            actor=user.actor,
            agreement_id=agreement_id,
            period=period,
            reason=reason,
            now=now,
        )
    except (NotAllowedNow, Forbidden, InvalidInput) as exc:
        return _refused(page, exc)
    return redirect(
        f"/proposals/{proposal.id}",
        flash=Flash(
            "success",
            f"You proposed to amend {period}; it is amended once the other side accepts.",
        ),
    )


@router.post("/slas/{agreement_id}/periods/{period}/corrections")
def correct(
    request: Request,
    agreement_id: Id,
    period: PeriodLabel,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    metric: Annotated[str, Form(max_length=80)] = "",
    observed_at: Annotated[str, Form(max_length=64)] = "",
    value: Annotated[str, Form(max_length=40)] = "",
    reason: CommentField = "",
) -> Response:
    """Correct one observation with the command behind `POST …/measurements/corrections`:
    now while the period is open or disputed, as an amendment proposal once it is final."""
    page = partial(
        period_view,
        request,
        session,
        user.actor,
        agreement_id,
        period,
        now=now,
        form={"observed_at": observed_at, "value": value, "correct_reason": reason},
    )
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        return page(error="Give the correct value as a number.", status_code=422)
    try:
        outcome = commands.correct_observations(
            session,
            actor=user.actor,
            agreement_id=agreement_id,
            corrections=[commands.CorrectionInput(metric, observed_at, number, reason)],
            now=now,
        )
    except (NotAllowedNow, Forbidden, InvalidInput) as exc:
        return _refused(page, exc)
    if outcome.proposals:
        return redirect(
            f"/proposals/{outcome.proposals[0].id}",
            flash=Flash(
                "success",
                f"You proposed to correct {metric} in the final report of {period}; it is "
                "corrected once the other side accepts.",
            ),
        )
    return redirect(
        period_path(agreement_id, period),
        flash=Flash("success", f"You corrected {metric} at {observed_at}; its old value is kept."),
    )


# The path ends like the API's upload (api.limits.UPLOAD_SUFFIXES): the upload size limit.
@router.post("/slas/{agreement_id}/periods/{period}/measurements:csv")
def upload_measurements(
    request: Request,
    agreement_id: Id,
    period: PeriodLabel,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """A CSV of measurements, through the command behind `POST …/measurements:csv`; the page
    comes back with what was stored and each refused row with its line and reason."""
    page = partial(period_view, request, session, user.actor, agreement_id, period, now=now)
    if file is None or not file.filename:
        return page(error="Choose a CSV file to upload.", status_code=422)
    try:
        commands.check_upload(session, actor=user.actor, agreement_id=agreement_id, now=now)
        report = commands.import_measurements(
            session,
            actor=user.actor,
            agreement_id=agreement_id,
            rows=csv_rows(file.file),
            source="csv",
            now=now,
            filename=file.filename[:200],
            error_limit=UPLOAD_ERRORS_SHOWN,
        )
    except Forbidden as exc:
        return _refused(page, exc)
    except InvalidInput as exc:
        return _refused(page, exc, f"Nothing imported: {exc.message}")
    return page(upload=report)
