"""The draft editor's forms: their fields and choices, the posted values as text, and how a
command's refusal maps back onto the fields (`api.pages.drafts`, `api.pages.draft_metrics`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import ValidationError

from api.pages.errors import PageError
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
from workflow.errors import InvalidInput

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


async def _posted(request: Request) -> dict[str, str]:
    """The posted fields as text (Starlette caches the form the CSRF check already read)."""
    form = await request.form()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


FormDep = Annotated[dict[str, str], Depends(_posted)]


@dataclass
class Refusal:
    """Why a form was not saved: its field errors, or a conflict with what is stored now."""

    form: str  # "terms", "add", "metric:<key>" or "catalog:<measure id>"
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""
    conflict: bool = False


def text(value: Any) -> str:
    """A stored value as a form shows it: whole floats without ".0", nothing for missing."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def lock_version(form: dict[str, str]) -> int:
    try:
        return int(form.get("lock_version", ""))
    except ValueError:
        raise PageError(
            422, "This form is incomplete", "Open the draft's edit page again and retry."
        ) from None


def field_errors(exc: InvalidInput, index: int | None) -> tuple[dict[str, str], str]:
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


def metric_from_form(stored: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
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


def same_terms(stored: dict[str, Any], terms: dict[str, Any]) -> bool:
    """Would saving `terms` store what is already stored (a second click on Save)?"""
    try:
        return dump_terms(Terms.model_validate({**stored, **terms})) == stored
    except ValidationError:
        return False


def same_metrics(stored: list[dict[str, Any]], metrics: list[dict[str, Any]]) -> bool:
    try:
        return dump_metrics([Metric.model_validate(m) for m in metrics]) == stored
    except ValidationError:
        return False
