"""Editing a draft version through forms: its terms, its metrics, measures from the catalogue.

Every save calls the command behind the versions API (`commands.edit_draft`, or
`commands.add_catalog_measure` like `metrics:from-catalog`) with the lock_version the form was
read at. A save that comes after someone else's is refused by the command; the page then shows
what is stored now next to the person's unsaved values, which stay in the form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import NowDep, SessionDep
from api.pages.errors import PageError
from api.pages.render import Flash, redirect, render
from api.pages.session import PageUserDep
from api.types import Id, parse_id
from workflow import commands
from workflow.access import Actor
from workflow.content import (
    Aggregation,
    Category,
    Direction,
    Metric,
    Party,
    Terms,
    Window,
    dump_metrics,
    dump_terms,
)
from workflow.errors import InvalidInput, NotAllowedNow, StaleVersion
from workflow.queries.agreements import agreement_detail
from workflow.queries.catalog import list_catalog
from workflow.queries.versions import VersionDetail, version_detail

router = APIRouter()

EDIT = "/slas/{agreement_id}/versions/{number}/edit"
CATALOG_LIMIT = 20

# (name, label, hint) of every term the form edits; unit prices stay as stored.
TERM_FIELDS: list[tuple[str, str, str]] = [
    ("period_start", "Period start", "date"),
    ("period_end", "Period end", "date"),
    ("service_hours", "Service hours", ""),
    ("time_zone", "Time zone", "e.g. America/Denver"),
    ("maintenance_window", "Maintenance window", ""),
    ("annual_cost", "Annual cost", "amount, e.g. 4850000.00"),
    ("currency", "Currency", "three capital letters, e.g. USD"),
    ("billing_frequency", "Billing frequency", ""),
    ("payment_terms", "Payment terms", ""),
    ("service_credit_policy", "Service credit policy", ""),
    ("at_risk_percent", "Fees at risk (%)", "0 to 100"),
    ("lcce_reference", "LCCE reference", ""),
    ("lcce_total", "LCCE total", "amount"),
    ("reporting", "Reporting", ""),
    ("stabilization", "Stabilization", ""),
]
# The fields a metric's row edits; the add form also sets key, category and responsible party.
METRIC_FIELDS: list[tuple[str, str]] = [
    ("name", "Name"),
    ("target", "Target"),
    ("warning", "Warning"),
    ("unit", "Unit"),
    ("direction", "Direction"),
    ("window", "Window"),
    ("aggregation", "Aggregation"),
    ("service_credit_percent", "Service credit (%)"),
    ("requirement", "Requirement"),
    ("capability", "Capability"),
]
NEW_METRIC_FIELDS: list[tuple[str, str]] = [
    ("key", "Key"),
    ("category", "Category"),
    ("responsible_party", "Responsible party"),
    *METRIC_FIELDS,
]
CHOICES: dict[str, list[str]] = {
    "direction": [d.value for d in Direction],
    "window": [w.value for w in Window],
    "aggregation": [a.value for a in Aggregation],
    "category": [c.value for c in Category],
    "responsible_party": [p.value for p in Party],
    "driven_by": ["customer", "provider"],
}
CHANGE_FIELDS = ("driven_by", "reason")


async def _form(request: Request) -> dict[str, str]:
    """The posted fields as text (Starlette caches the form the CSRF check already read)."""
    form = await request.form()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


FormDep = Annotated[dict[str, str], Depends(_form)]


@dataclass
class Refusal:
    """Why a form was not saved: its field errors, or a conflict with what is stored now."""

    form: str  # "terms", "add", "metric:<key>" or "catalog:<measure id>"
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""
    conflict: bool = False


def _url(agreement_id: int, number: int) -> str:
    return f"/slas/{agreement_id}/versions/{number}/edit"


def text(value: Any) -> str:
    """A stored value as a form shows it: whole floats without ".0", nothing for missing."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _lock(form: dict[str, str]) -> int:
    try:
        return int(form.get("lock_version", ""))
    except ValueError:
        raise PageError(
            422, "This form is incomplete", "Open the draft's edit page again and retry."
        ) from None


def _draft(
    session: Session, actor: Actor, agreement_id: int, number: int, now: NowDep
) -> VersionDetail:
    version = version_detail(session, actor, agreement_id, number, now=now)  # 404 for strangers
    if version.state != "draft":
        session.rollback()
        raise _not_a_draft(version.number, version.state, agreement_id)
    return version


def _not_a_draft(number: int, state: str, agreement_id: int) -> PageError:
    return PageError(
        409,
        "Only a draft can be edited",
        f"Version {number} is {state.replace('_', ' ')}: its terms and metrics can no longer "
        f"be changed here. The agreement page (/slas/{agreement_id}) shows what you may do now.",
    )


def _field_errors(exc: InvalidInput, index: int | None) -> tuple[dict[str, str], str]:
    """The command's errors by form field (metric `index` for a metric's), and the rest."""
    found: dict[str, str] = {}
    rest: list[str] = []
    for error in exc.errors:
        path = error.get("field", "").split(".")
        message = error.get("message", "").removeprefix("Value error, ")
        name: str | None = None
        if path[0] == "terms":
            # The one check across terms is the period's order.
            name = path[1] if len(path) > 1 else "period_end"
        elif path[0] == "metrics" and len(path) == 1:
            name = "key"  # the list's own check: unique keys
        elif path[0] == "metrics" and index is not None and path[1] == str(index):
            tail = path[2:]
            if not tail:
                name = "warning"  # the one check across a metric's fields
            elif tail[0] == "target_change":
                name = tail[1] if len(tail) > 1 else "reason"
            else:
                name = tail[0]
        elif path[0] in ("key", "target"):
            name = path[0]  # add_catalog_measure names its own fields
        if name is None:
            rest.append(message)
        else:
            found.setdefault(name, message)
    if not found and not rest:
        rest.append(exc.message)
    return found, "; ".join(rest)


def _metric_from_form(stored: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """`stored` with the form's fields over it; an empty field unsets an optional one."""
    metric = {k: v for k, v in stored.items() if k != "target_change"}
    for name, _label in NEW_METRIC_FIELDS:
        if name in values:
            metric[name] = values[name] or None
    metric = {k: v for k, v in metric.items() if v is not None}
    if values.get("driven_by") or values.get("reason"):
        metric["target_change"] = {
            "driven_by": values.get("driven_by", ""),
            "reason": values.get("reason", ""),
        }
    return metric


def _same_terms(stored: dict[str, Any], terms: dict[str, Any]) -> bool:
    """Would saving `terms` store what is already stored (a second click on Save)?"""
    try:
        return dump_terms(Terms.model_validate({**stored, **terms})) == stored
    except ValidationError:
        return False


def _same_metrics(stored: list[dict[str, Any]], metrics: list[dict[str, Any]]) -> bool:
    try:
        return dump_metrics([Metric.model_validate(m) for m in metrics]) == stored
    except ValidationError:
        return False


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
    version = _draft(session, actor, agreement_id, number, now)
    agreement = agreement_detail(session, actor, agreement_id)
    active = agreement.active_version
    previous: dict[str, Any] = {}
    if active is not None and active.number != number:
        shown = version_detail(session, actor, agreement_id, active.number, now=now)
        previous = {m["key"]: m["target"] for m in shown.metrics}
    catalog = list_catalog(session, q=q, limit=CATALOG_LIMIT) if q else None
    session.rollback()
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
            "url": _url(agreement_id, number),
        },
        status_code=status_code,
    )


def _refused(
    request: Request,
    session: Session,
    actor: Actor,
    ids: tuple[int, int],
    now: NowDep,
    refusal: Refusal,
    status_code: int,
    q: str = "",
) -> Response:
    session.rollback()
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


def _save(
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
    session.rollback()
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
        session.rollback()
        stored = version_detail(session, actor, agreement_id, number, now=now)
        session.rollback()
        if (terms is not None and _same_terms(stored.terms, terms)) or (
            metrics is not None and _same_metrics(stored.metrics, metrics)
        ):
            return redirect(
                _url(*ids) + anchor, flash=Flash("info", "Already saved: nothing more to do.")
            )
        refusal.conflict, refusal.message = True, exc.message
        return _refused(request, session, actor, ids, now, refusal, 409)
    except NotAllowedNow as exc:
        session.rollback()
        raise _not_a_draft(number, exc.current_state, agreement_id) from None
    except InvalidInput as exc:
        refusal.errors, refusal.message = _field_errors(exc, index)
        return _refused(request, session, actor, ids, now, refusal, 422)
    return redirect(_url(*ids) + anchor, flash=Flash("success", done))


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
    return _save(
        request,
        session,
        user.actor,
        (agreement_id, number),
        now,
        Refusal("terms", values),
        _lock(form),
        # An empty field unsets the term (edit_draft merges key by key).
        terms={k: v or None for k, v in values.items()},
        done=f"Saved the terms of version {number}.",
        anchor="#terms",
    )


def _stored_metrics(
    session: Session, actor: Actor, agreement_id: int, number: int, now: NowDep
) -> list[dict[str, Any]]:
    metrics = _draft(session, actor, agreement_id, number, now).metrics
    session.rollback()
    return metrics


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
    stored = _stored_metrics(session, user.actor, agreement_id, number, now)
    index = next((i for i, m in enumerate(stored) if m["key"] == key), None)
    if index is None:
        refusal.conflict = True
        refusal.message = f"The metric {key} is no longer in this draft: someone removed it."
        return _refused(request, session, user.actor, (agreement_id, number), now, refusal, 409)
    metrics = list(stored)
    metrics[index] = _metric_from_form(stored[index], values)
    return _save(
        request,
        session,
        user.actor,
        (agreement_id, number),
        now,
        refusal,
        _lock(form),
        metrics=metrics,
        index=index,
        done=f"Saved the metric {key}.",
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
    stored = _stored_metrics(session, user.actor, agreement_id, number, now)
    return _save(
        request,
        session,
        user.actor,
        (agreement_id, number),
        now,
        Refusal("add", values),
        _lock(form),
        metrics=[*stored, _metric_from_form({}, values)],
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
    version = _draft(session, user.actor, agreement_id, number, now)
    session.rollback()
    metric = next((m for m in version.metrics if m["key"] == key), None)
    if metric is None:
        return redirect(
            _url(agreement_id, number),
            flash=Flash("info", f"The metric {key} is not in this draft (already removed?)."),
        )
    return render(
        request,
        "drafts/remove.html",
        {
            "section": "agreements",
            "version": version,
            "metric": metric,
            "url": _url(agreement_id, number),
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
    stored = _stored_metrics(session, user.actor, agreement_id, number, now)
    if all(m["key"] != key for m in stored):
        # A second click, or someone else removed it first: either way it is gone.
        return redirect(
            _url(agreement_id, number) + "#metrics",
            flash=Flash("info", f"The metric {key} was already removed."),
        )
    return _save(
        request,
        session,
        user.actor,
        (agreement_id, number),
        now,
        Refusal(f"remove:{key}", {}),
        _lock(form),
        metrics=[m for m in stored if m["key"] != key],
        done=f"Removed the metric {key}.",
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
        return _refused(request, session, user.actor, ids, now, refusal, 422, q)
    session.rollback()
    try:
        version = commands.add_catalog_measure(
            session,
            actor=user.actor,
            agreement_id=agreement_id,
            number=number,
            measure_id=measure_id,
            expected_lock_version=_lock(form),
            key=values["key"] or None,
            target=target,
            now=now,
        )
    except StaleVersion as exc:
        refusal.conflict, refusal.message = True, exc.message
        return _refused(request, session, user.actor, ids, now, refusal, 409, q)
    except NotAllowedNow as exc:
        session.rollback()
        raise _not_a_draft(number, exc.current_state, agreement_id) from None
    except InvalidInput as exc:
        refusal.errors, refusal.message = _field_errors(exc, None)
        return _refused(request, session, user.actor, ids, now, refusal, 422, q)
    added = version.metrics[-1]["key"]
    session.rollback()
    # Back to the same search: measures are often added a few at a time.
    search = f"?{urlencode({'q': q})}" if q else ""
    return redirect(
        _url(*ids) + search + "#metrics",
        flash=Flash("success", f"Added {added} from the catalogue."),
    )
