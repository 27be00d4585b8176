"""The draft editor's metric forms: save one metric, add one, remove one (after a confirmation
page), add a measure from the catalogue. They save through `api.pages.drafts`."""

from __future__ import annotations

import math
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import NowDep, SessionDep
from api.pages.draft_forms import (
    CHANGE_FIELDS,
    METRIC_FIELDS,
    NEW_METRIC_FIELDS,
    FormDep,
    Refusal,
    field_errors,
    lock_version,
    metric_from_form,
)
from api.pages.drafts import (
    EDIT,
    edit_url,
    load_draft,
    not_a_draft,
    refused,
    save,
    stored_metrics,
)
from api.pages.render import Flash, redirect, render
from api.pages.session import PageUserDep
from api.types import Id, parse_id
from workflow import commands
from workflow.errors import InvalidInput, NotAllowedNow, StaleVersion

router = APIRouter()


@router.post(EDIT + "/metrics/{key}")
def save_metric(
    request: Request,
    agreement_id: Id,
    number: Id,
    key: str,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    form: FormDep,
) -> Response:
    names = [name for name, _label in METRIC_FIELDS] + list(CHANGE_FIELDS)
    values = {name: form.get(name, "") for name in names}
    refusal = Refusal(f"metric:{key}", values)
    stored = stored_metrics(session, user.actor, agreement_id, number, now)
    index = next((i for i, m in enumerate(stored) if m["key"] == key), None)
    if index is None:
        refusal.conflict = True
        refusal.message = f"The metric {key} is no longer in this draft: someone removed it."
        return refused(request, session, user.actor, (agreement_id, number), now, refusal, 409)
    metrics = list(stored)
    metrics[index] = metric_from_form(stored[index], values)
    return save(
        request,
        session,
        user.actor,
        (agreement_id, number),
        now,
        refusal,
        lock_version(form),
        metrics=metrics,
        index=index,
        done=f"Saved the metric {stored[index].get('name') or key}.",
        anchor=f"#metric-{key}",
    )


@router.post(EDIT + "/metrics")
def add_metric(
    request: Request,
    agreement_id: Id,
    number: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    form: FormDep,
) -> Response:
    values = {name: form.get(name, "") for name, _label in NEW_METRIC_FIELDS}
    stored = stored_metrics(session, user.actor, agreement_id, number, now)
    return save(
        request,
        session,
        user.actor,
        (agreement_id, number),
        now,
        Refusal("add", values),
        lock_version(form),
        metrics=[*stored, metric_from_form({}, values)],
        index=len(stored),
        done=f"Added the metric {values['key']}.",
        anchor="#metrics",
    )


@router.get(EDIT + "/metrics/{key}/remove")
def confirm_remove(
    request: Request,
    agreement_id: Id,
    number: Id,
    key: str,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    version = load_draft(session, user.actor, agreement_id, number, now)
    metric = next((m for m in version.metrics if m["key"] == key), None)
    if metric is None:
        return redirect(
            edit_url(agreement_id, number),
            flash=Flash("info", f"The metric {key} is not in this draft (already removed?)."),
        )
    return render(
        request,
        "drafts/remove.html",
        {
            "section": "agreements",
            "version": version,
            "metric": metric,
            "url": edit_url(agreement_id, number),
        },
    )


@router.post(EDIT + "/metrics/{key}/remove")
def remove_metric(
    request: Request,
    agreement_id: Id,
    number: Id,
    key: str,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    form: FormDep,
) -> Response:
    stored = stored_metrics(session, user.actor, agreement_id, number, now)
    if all(m["key"] != key for m in stored):
        # A second click, or someone else removed it first: either way it is gone.
        return redirect(
            edit_url(agreement_id, number) + "#metrics",
            flash=Flash("info", f"The metric {key} was already removed."),
        )
    return save(
        request,
        session,
        user.actor,
        (agreement_id, number),
        now,
        Refusal(f"remove:{key}", {}),
        lock_version(form),
        metrics=[m for m in stored if m["key"] != key],
        done=f"Removed the metric {next(m for m in stored if m['key'] == key).get('name') or key}.",
        anchor="#metrics",
    )


@router.post(EDIT + "/catalog")
def add_from_catalog(
    request: Request,
    agreement_id: Id,
    number: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
    form: FormDep,
) -> Response:
    """Add a catalogue measure with the command behind `metrics:from-catalog`."""
    ids = (agreement_id, number)
    q = form.get("q", "")
    values = {name: form.get(name, "") for name in ("measure_id", "key", "target")}
    refusal = Refusal(f"catalog:{values['measure_id']}", values)
    target: float | None = None
    measure_id = parse_id(values["measure_id"])
    try:
        target = float(values["target"]) if values["target"] else None
    except ValueError:
        target = math.nan
    if measure_id is None or (target is not None and not math.isfinite(target)):
        refusal.errors = {"target": "Enter a number."}
        return refused(request, session, user.actor, ids, now, refusal, 422, q)
    try:
        version = commands.add_catalog_measure(
            session,
            actor=user.actor,
            agreement_id=agreement_id,
            number=number,
            measure_id=measure_id,
            expected_lock_version=lock_version(form),
            key=values["key"] or None,
            target=target,
            now=now,
        )
    except StaleVersion as exc:
        refusal.conflict, refusal.message = True, exc.message
        return refused(request, session, user.actor, ids, now, refusal, 409, q)
    except NotAllowedNow as exc:
        raise not_a_draft(number, exc.current_state, agreement_id) from None
    except InvalidInput as exc:
        refusal.errors, refusal.message = field_errors(exc, None)
        return refused(request, session, user.actor, ids, now, refusal, 422, q)
    added = version.metrics[-1]["key"]
    # Back to the same search: measures are often added a few at a time.
    search = f"?{urlencode({'q': q})}" if q else ""
    return redirect(
        edit_url(*ids) + search + "#metrics",
        flash=Flash("success", f"Added {added} from the catalogue."),
    )
