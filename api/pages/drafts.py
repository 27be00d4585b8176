"""Editing a draft version through forms: the edit page, saving its terms, and the save and
refusal every form of the editor shares (its metrics' forms are in `api.pages.draft_metrics`).

Every save calls the command behind the versions API (`commands.edit_draft`, or
`commands.add_catalog_measure` like `metrics:from-catalog`) with the lock_version the form was
read at. A save that comes after someone else's is refused by the command; the page then shows
what is stored now next to the person's unsaved values, which stay in the form.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import NowDep, SessionDep
from api.pages.draft_forms import (
    CHOICES,
    METRIC_FIELDS,
    NEW_METRIC_FIELDS,
    TERM_FIELDS,
    FormDep,
    Refusal,
    field_errors,
    lock_version,
    same_metrics,
    same_terms,
    text,
)
from api.pages.errors import PageError
from api.pages.render import Flash, redirect, render
from api.pages.session import PageUserDep
from api.types import Id
from workflow import commands
from workflow.access import Actor
from workflow.errors import InvalidInput, NotAllowedNow, StaleVersion
from workflow.queries.agreements import agreement_detail
from workflow.queries.catalog import list_catalog
from workflow.queries.versions import VersionDetail, version_detail

router = APIRouter()

EDIT = "/slas/{agreement_id}/versions/{number}/edit"
CATALOG_LIMIT = 20


def edit_url(agreement_id: int, number: int) -> str:
    return f"/slas/{agreement_id}/versions/{number}/edit"


def load_draft(
    session: Session, actor: Actor, agreement_id: int, number: int, now: NowDep
) -> VersionDetail:
    version = version_detail(session, actor, agreement_id, number, now=now)  # 404 for strangers
    if version.state != "draft":
        raise not_a_draft(version.number, version.state, agreement_id)
    return version


def not_a_draft(number: int, state: str, agreement_id: int) -> PageError:
    return PageError(
        409,
        "Only a draft can be edited",
        f"Version {number} is {state.replace('_', ' ')}: its terms and metrics can no longer "
        f"be changed here. The agreement page (/slas/{agreement_id}) shows what you may do now.",
    )


def _edit_page(
    request: Request,
    session: Session,
    actor: Actor,
    agreement_id: int,
    number: int,
    now: NowDep,
    *,
    q: str = "",
    open_metric: str = "",
    refusal: Refusal | None = None,
    status_code: int = 200,
) -> Response:
    version = load_draft(session, actor, agreement_id, number, now)
    agreement = agreement_detail(session, actor, agreement_id)
    active = agreement.active_version
    previous: dict[str, Any] = {}
    if active is not None and active.number != number:
        shown = version_detail(session, actor, agreement_id, active.number, now=now)
        previous = {m["key"]: m["target"] for m in shown.metrics}
    catalog = list_catalog(session, q=q, limit=CATALOG_LIMIT) if q else None
    if refusal is not None and refusal.form.startswith("metric:"):
        open_metric = refusal.form.removeprefix("metric:")
    return render(
        request,
        "drafts/edit.html",
        {
            "section": "agreements",
            "agreement": agreement,
            "version": version,
            "revision": active is not None and active.number != number,
            "previous": previous,
            "terms": {name: text(version.terms.get(name)) for name, _l, _h in TERM_FIELDS},
            "term_fields": TERM_FIELDS,
            "metric_fields": METRIC_FIELDS,
            "new_metric_fields": NEW_METRIC_FIELDS,
            "choices": CHOICES,
            "text": text,
            "open_metric": open_metric,
            "q": q,
            "catalog": catalog,
            "refusal": refusal,
            "url": edit_url(agreement_id, number),
        },
        status_code=status_code,
    )


def refused(
    request: Request,
    session: Session,
    actor: Actor,
    ids: tuple[int, int],
    now: NowDep,
    refusal: Refusal,
    status_code: int,
    q: str = "",
) -> Response:
    return _edit_page(
        request, session, actor, *ids, now, q=q, refusal=refusal, status_code=status_code
    )


@router.get(EDIT)
def edit(
    request: Request,
    agreement_id: Id,
    number: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    q: str = "",
    metric: str = "",
) -> Response:
    return _edit_page(
        request, session, user.actor, agreement_id, number, now, q=q.strip(), open_metric=metric
    )


def save(
    request: Request,
    session: Session,
    actor: Actor,
    ids: tuple[int, int],
    now: NowDep,
    refusal: Refusal,
    lock: int,
    *,
    terms: dict[str, Any] | None = None,
    metrics: list[dict[str, Any]] | None = None,
    index: int | None = None,
    done: str,
    anchor: str,
) -> Response:
    """Store with `commands.edit_draft`; a refusal re-renders the page with `refusal`'s form."""
    agreement_id, number = ids
    try:
        commands.edit_draft(
            session,
            actor=actor,
            agreement_id=agreement_id,
            number=number,
            expected_lock_version=lock,
            terms=terms,
            metrics=metrics,
            now=now,
        )
    except StaleVersion as exc:
        stored = version_detail(session, actor, agreement_id, number, now=now)
        if (terms is not None and same_terms(stored.terms, terms)) or (
            metrics is not None and same_metrics(stored.metrics, metrics)
        ):
            return redirect(
                edit_url(*ids) + anchor, flash=Flash("info", "Already saved: nothing more to do.")
            )
        refusal.conflict, refusal.message = True, exc.message
        return refused(request, session, actor, ids, now, refusal, 409)
    except NotAllowedNow as exc:
        raise not_a_draft(number, exc.current_state, agreement_id) from None
    except InvalidInput as exc:
        refusal.errors, refusal.message = field_errors(exc, index)
        return refused(request, session, actor, ids, now, refusal, 422)
    return redirect(edit_url(*ids) + anchor, flash=Flash("success", done))


@router.post(EDIT + "/terms")
def save_terms(
    request: Request,
    agreement_id: Id,
    number: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    form: FormDep,
) -> Response:
    values = {name: form.get(name, "") for name, _l, _h in TERM_FIELDS}
    return save(
        request,
        session,
        user.actor,
        (agreement_id, number),
        now,
        Refusal("terms", values),
        lock_version(form),
        # An empty field unsets the term (edit_draft merges key by key).
        terms={k: v or None for k, v in values.items()},
        done=f"Saved the terms of version {number}.",
        anchor="#terms",
    )


def stored_metrics(
    session: Session, actor: Actor, agreement_id: int, number: int, now: NowDep
) -> list[dict[str, Any]]:
    return load_draft(session, actor, agreement_id, number, now).metrics
