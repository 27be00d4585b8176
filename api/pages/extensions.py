"""Extending an agreement's period of performance: the request form, and the Business Owners'
decision with a confirmation step (the governance calendar's other pages are in
`api.pages.governance`). They call the same commands as the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import NowDep, SessionDep
from api.pages.governance import TextField, form_day, holds
from api.pages.render import Flash, redirect, render
from api.pages.session import PageUserDep
from api.types import Id
from states import Role
from workflow.access import Actor
from workflow.commands.extensions import decide_extension, request_extension
from workflow.errors import Conflict, DomainError, InvalidInput
from workflow.queries.agreements import agreement_detail
from workflow.queries.extensions import extension_detail, list_extensions

router = APIRouter()

DECISION_LABELS = {"approved": "Approve the extension", "rejected": "Reject the extension"}


@router.get("/slas/{agreement_id}/extensions/new")
def new_extension(
    request: Request, agreement_id: Id, user: PageUserDep, session: SessionDep
) -> Response:
    return _extension_form(request, session, user.actor, agreement_id)


def _extension_form(
    request: Request,
    session: Session,
    actor: Actor,
    agreement_id: int,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    agreement = agreement_detail(session, actor, agreement_id)
    in_force = agreement.active_version
    return render(
        request,
        "governance/extension_form.html",
        {
            "section": "agreements",
            "agreement": agreement,
            "extensions": list_extensions(session, actor, agreement_id),
            "is_pm": any(
                s.user.id == actor.user_id and s.role is Role.PROGRAM_MANAGER
                for s in agreement.stakeholders
            ),
            "in_force": in_force,
            "errors": errors or {},
            "form": form or {"new_end_date": "", "reason": ""},
        },
        status_code=status_code,
    )


@router.post("/slas/{agreement_id}/extensions")
def post_extension(
    request: Request,
    agreement_id: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    new_end_date: Annotated[str, Form(max_length=20)] = "",
    reason: TextField = "",
) -> Response:
    form = {"new_end_date": new_end_date, "reason": reason}
    errors: dict[str, str] = {}
    end = form_day(new_end_date, "new_end_date", errors)
    if end is None and not reason.strip():
        errors["reason"] = "required"
    if end is not None:  # the command names every other problem itself
        try:
            extension = request_extension(
                session, actor=user.actor, agreement_id=agreement_id, new_end_date=end,
                reason=reason, now=now,
            )  # fmt: skip
        except InvalidInput as exc:
            errors = {e["field"]: e["message"] for e in exc.errors}
        except DomainError as exc:
            errors = {"form": exc.message}
        else:
            return redirect(
                f"/slas/{agreement_id}/extensions/{extension.id}",
                flash=Flash("success", "Asked both Business Owners to approve the new end date."),
            )
    return _extension_form(
        request, session, user.actor, agreement_id, errors=errors, form=form, status_code=422
    )


@router.get("/slas/{agreement_id}/extensions/{extension_id}")
def extension_page(
    request: Request,
    agreement_id: Id,
    extension_id: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    return _extension_page(request, session, user.actor, now, agreement_id, extension_id)


def _extension_page(
    request: Request,
    session: Session,
    actor: Actor,
    now: NowDep,
    agreement_id: int,
    extension_id: int,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    agreement = agreement_detail(session, actor, agreement_id)
    extension = extension_detail(session, actor, agreement_id, extension_id)
    return render(
        request,
        "governance/extension.html",
        {
            "section": "agreements",
            "agreement": agreement,
            "extension": extension,
            "may_decide": holds(session, actor, now, extension_id=extension_id) is not None,
            "labels": DECISION_LABELS,
            "errors": errors or {},
            "form": form or {"outcome": "", "comment": ""},
        },
        status_code=status_code,
    )


@router.post("/slas/{agreement_id}/extensions/{extension_id}/confirm")
def confirm_extension(
    request: Request,
    agreement_id: Id,
    extension_id: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    outcome: Annotated[str, Form(max_length=40)] = "",
    comment: TextField = "",
) -> Response:
    """The confirmation step of a Business Owner's decision (works without JS)."""
    form = {"outcome": outcome, "comment": comment}
    errors = _decision_errors(outcome, comment)
    if errors:
        return _extension_page(
            request, session, user.actor, now, agreement_id, extension_id,
            errors=errors, form=form, status_code=422,
        )  # fmt: skip
    extension = extension_detail(session, user.actor, agreement_id, extension_id)
    agreement = agreement_detail(session, user.actor, agreement_id)
    return render(
        request,
        "governance/extension_confirm.html",
        {
            "section": "agreements",
            "agreement": agreement,
            "extension": extension,
            "form": form,
            "label": DECISION_LABELS[outcome],
        },
    )


@router.post("/slas/{agreement_id}/extensions/{extension_id}/decide")
def decide(
    request: Request,
    agreement_id: Id,
    extension_id: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    outcome: Annotated[str, Form(max_length=40)] = "",
    comment: TextField = "",
) -> Response:
    form = {"outcome": outcome, "comment": comment}
    errors = _decision_errors(outcome, comment)
    if not errors:
        try:
            decided = decide_extension(
                session, actor=user.actor, agreement_id=agreement_id, extension_id=extension_id,
                outcome=outcome, comment=comment.strip() or None, now=now,
            )  # fmt: skip
        except InvalidInput as exc:
            errors = {e["field"]: e["message"] for e in exc.errors}
        except Conflict as exc:
            return redirect(
                f"/slas/{agreement_id}/extensions/{extension_id}", flash=Flash("info", exc.message)
            )
        else:
            done = {
                "approved": "The period of performance now ends on "
                f"{decided.new_end_date}: both Business Owners approved.",
                "requested": "Your approval is recorded; the other Business Owner decides next.",
                "rejected": "The extension was rejected; nothing changed.",
            }[decided.state]
            return redirect(
                f"/slas/{agreement_id}/extensions/{extension_id}", flash=Flash("success", done)
            )
    return _extension_page(
        request, session, user.actor, now, agreement_id, extension_id,
        errors=errors, form=form, status_code=422,
    )  # fmt: skip


def _decision_errors(outcome: str, comment: str) -> dict[str, str]:
    if outcome not in DECISION_LABELS:
        return {"outcome": "Choose approve or reject."}
    if outcome == "rejected" and not comment.strip():
        return {"comment": "Write why you reject the extension."}
    return {}
