"""An audit event's data in words, for the audit page: people by name and seat, versions by
number, metrics by name, states and codes as words, days, moments and money as the business
writes them. What changed (before → after) comes first; the raw record stays available to
auditors as the technical record.

The wording is pure: everything named comes in a `Vocabulary`; `explain_rows` builds one per
agreement shown, with one lookup each.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlmodel import Session

from notifications import formats
from states import Role
from workflow.queries.audit_log import AuditEntry, DetailNames, detail_names

# Keys whose value is a person's id (or a list of them).
PERSON_KEYS = frozenset(
    {"assignee_id", "owner_id", "user_id", "attendees", "actor_id", "decided_by_id"}
)
ORGANIZATION_KEYS = frozenset({"organization_id", "customer_org_id", "provider_org_id"})
# Keys whose value is a metric's key, or a list of them; dicts keyed by metric key.
METRIC_KEYS = frozenset({"metric", "metric_key", "metrics_added", "metrics_removed"})
METRIC_MAPS = frozenset({"metrics_changed"})
# Keys whose value is a code read as words.
CODE_KEYS = frozenset(
    {
        "state",
        "from_state",
        "to_state",
        "resolution",
        "outcome",
        "kind",
        "side",
        "source",
        "severity",
        "driven_by",
        "party",
        "counterpart_side",
        "remedy_policy",
        "reporting_period",
        "responsible_party",
    }
)
MONEY_KEYS = frozenset({*formats.MONEY_TERMS, "amount", "fee", "credit", "credits", "owed"})
# Bookkeeping that says nothing to a reader; it stays in the technical record.
SKIPPED = frozenset({"lock_version", "id"})
HASH_SHOWN = 12

LABELS = {
    "assignee_id": "assigned to",
    "owner_id": "owner",
    "user_id": "person",
    "from_state": "from",
    "to_state": "to",
    "version_id": "version",
    "from_version": "from version",
    "opened_tasks": "tasks opened",
    "cancelled_tasks": "tasks cancelled",
    "customer_org_id": "customer",
    "provider_org_id": "provider",
    "organization_id": "organisation",
    "due_on": "due",
    "lcce_total": "LCCE total",
    "metric_key": "metric",
    "is_admin": "administrator",
}

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@dataclass(frozen=True)
class Detail:
    """One line of the page's definition list; `items` nests a part of the record."""

    label: str
    value: str = ""
    items: list[Detail] = field(default_factory=list)


@dataclass(frozen=True)
class Vocabulary:
    """The names an event's ids and keys stand for."""

    people: Mapping[int, str] = field(default_factory=dict)  # "Marcus Chen (customer …)"
    organizations: Mapping[int, str] = field(default_factory=dict)
    versions: Mapping[int, int] = field(default_factory=dict)
    metrics: Mapping[str, str] = field(default_factory=dict)
    currency: str = "USD"


@dataclass(frozen=True)
class Explained:
    """An event's details as the page shows them."""

    changes: list[Detail]  # before → after, field by field
    facts: list[Detail]  # the rest of its data


def vocabulary(names: DetailNames, seats: Mapping[int, str]) -> Vocabulary:
    people = {
        i: f"{p.name} ({seats[i]})" if i in seats else p.name for i, p in names.people.items()
    }
    return Vocabulary(people, names.organizations, names.versions, names.metrics)


def label(key: str) -> str:
    text = LABELS.get(key) or formats.words(key.removesuffix("_id"))
    return text[:1].upper() + text[1:]


def _ids(value: Any) -> list[int]:
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def referenced(data: Any) -> tuple[set[int], set[int]]:
    """The people's and organisations' ids an event's data names, to look them up at once."""
    users: set[int] = set()
    orgs: set[int] = set()
    stack: list[Any] = [data]
    for _ in range(10_000):  # bounded: event data is small and acyclic
        if not stack:
            break
        item = stack.pop()
        if isinstance(item, Mapping):
            for key, value in item.items():
                if key in PERSON_KEYS:
                    users.update(_ids(value))
                elif key in ORGANIZATION_KEYS:
                    orgs.update(_ids(value))
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return users, orgs


def _scalar(key: str, value: Any, words: Vocabulary) -> str:
    """One value as people read it, by what its key says it is."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key in PERSON_KEYS and isinstance(value, int):
        return words.people.get(value, f"person {value}")
    if key in ORGANIZATION_KEYS and isinstance(value, int):
        return words.organizations.get(value, f"organisation {value}")
    if key == "version_id" and isinstance(value, int):
        number = words.versions.get(value)
        return f"version {number}" if number is not None else f"a version (record {value})"
    if key in METRIC_KEYS and isinstance(value, str):
        return words.metrics.get(value, value)
    if key == "role" and isinstance(value, str):
        try:
            return Role(value).label
        except ValueError:
            return formats.words(value)
    if key in CODE_KEYS and isinstance(value, str):
        return formats.words(value)
    if key in MONEY_KEYS:
        return formats.money(value, words.currency)
    if key.endswith("hash") and isinstance(value, str) and len(value) > HASH_SHOWN:
        return value[:HASH_SHOWN] + "…"
    if isinstance(value, str) and _DAY.match(value):
        return formats.day(value)
    if isinstance(value, str) and _MOMENT.match(value):
        try:
            return formats.moment(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        return formats.moment(value)
    if isinstance(value, dt.date):
        return formats.day(value)
    return str(value)


def _change(value: Mapping[str, Any]) -> bool:
    return set(value) == {"from", "to"}


def detail(key: str, value: Any, words: Vocabulary) -> Detail:
    """One entry of the record: a value, a change 'old → new', or a nested part."""
    if isinstance(value, Mapping) and _change(value):
        inner_from, inner_to = value["from"], value["to"]
        if not isinstance(inner_from, Mapping | list) and not isinstance(inner_to, Mapping | list):
            shown = f"{_scalar(key, inner_from, words)} → {_scalar(key, inner_to, words)}"
            return Detail(label(key), shown)
        # Nested on both sides: each written as what the key holds, under Before and After.
        before, after = detail(key, inner_from, words), detail(key, inner_to, words)
        return Detail(
            label(key),
            items=[replace(before, label="Before"), replace(after, label="After")],
        )
    if isinstance(value, Mapping):
        if key in METRIC_MAPS:
            parts = [
                Detail(words.metrics.get(k, k), items=details(v, words))
                if isinstance(v, Mapping)
                else Detail(words.metrics.get(k, k), _scalar(k, v, words))
                for k, v in value.items()
            ]
            return Detail(label(key), "none" if not parts else "", parts)
        return Detail(label(key), "none" if not value else "", details(value, words))
    if isinstance(value, list):
        if not value:
            return Detail(label(key), "none")
        if all(isinstance(v, Mapping) for v in value):
            parts = [Detail(str(n), items=details(v, words)) for n, v in enumerate(value, 1)]
            return Detail(label(key), items=parts)
        return Detail(label(key), ", ".join(_scalar(key, v, words) for v in value))
    return Detail(label(key), _scalar(key, value, words))


def details(data: Mapping[str, Any], words: Vocabulary) -> list[Detail]:
    return [detail(k, v, words) for k, v in data.items() if k not in SKIPPED]


def changes(before: Any, after: Any, words: Vocabulary) -> list[Detail]:
    """Field by field what an event changed: 'State: draft → joint review'."""
    if not isinstance(before, Mapping) and not isinstance(after, Mapping):
        return []
    old = before if isinstance(before, Mapping) else {}
    new = after if isinstance(after, Mapping) else {}
    found = []
    for key in [*old, *(k for k in new if k not in old)]:
        if key in SKIPPED or old.get(key) == new.get(key):
            continue
        found.append(detail(key, {"from": old.get(key), "to": new.get(key)}, words))
    return found


def explain(data: Mapping[str, Any], words: Vocabulary) -> Explained:
    """What changed, then the rest of the record: without what the changes already say and
    without empty values (both stay in the technical record)."""
    before, after = data.get("before"), data.get("after")
    changed = changes(before, after, words)
    said = set(after) if isinstance(after, Mapping) and changed else set()
    rest = {
        k: v
        for k, v in data.items()
        if k not in ("before", "after") and k not in said and v is not None and v != ""
    }
    return Explained(changed, details(rest, words))


def explain_rows(
    session: Session,
    shown: Iterable[tuple[int | None, AuditEntry]],
    seats: Mapping[int, Mapping[int, str]],
) -> dict[int, Explained]:
    """Each shown event (agreement id or None for the system chain, entry) explained, by
    event id, with one lookup of names per agreement."""
    by_chain: dict[int | None, list[AuditEntry]] = {}
    for agreement_id, entry in shown:
        by_chain.setdefault(agreement_id, []).append(entry)
    explained: dict[int, Explained] = {}
    for agreement_id, entries in by_chain.items():
        users: set[int] = set()
        orgs: set[int] = set()
        for entry in entries:
            found_users, found_orgs = referenced(entry.data)
            users |= found_users
            orgs |= found_orgs
        names = detail_names(session, agreement_id, users, orgs)
        words = vocabulary(names, seats.get(agreement_id, {}) if agreement_id else {})
        for entry in entries:
            explained[entry.id] = explain(entry.data, words)
    return explained
