"""Audit review: the events of the user's agreements as sentences, and a version's evidence pack.

Events come from `agreement_audit`, the query behind `GET /api/v1/slas/{id}/audit`, for the
agreements `list_agreements` shows the user: never more than the API would. The chain check
(`audit.verify`) is admin-only in the API and has no per-agreement form, so only admins see
its badge.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import SessionDep
from api.pages.audit_sentences import SYSTEM, sentence
from api.pages.errors import PageError
from api.pages.render import render
from api.pages.session import PageUserDep
from api.types import Id, parse_id
from notifications.reports.csv_export import neutralise
from workflow import audit
from workflow.access import Actor
from workflow.calendar import local_date
from workflow.queries.agreements import AgreementItem, agreement_detail, list_agreements
from workflow.queries.audit_log import AuditEntry, agreement_audit

router = APIRouter()

PAGE_LIMIT = 200
AGREEMENT_LIMIT = 500
_BATCH = 500
# Actions after which a version has ended: its evidence stops there.
_ENDINGS = {"version.supersede", "version.withdraw", "version.expire", "version.terminate"}


@dataclass(frozen=True)
class Row:
    """One event of the page: where it belongs, what it says, and the event itself."""

    agreement: AgreementItem
    entry: AuditEntry
    text: str
    details: str  # the event's data (before/after included) as indented JSON

    @property
    def before(self) -> Any:
        return self.entry.data.get("before")

    @property
    def after(self) -> Any:
        return self.entry.data.get("after")


def _all_events(session: Session, actor: Actor, agreement_id: int) -> Iterator[AuditEntry]:
    after: list[object] | None = None
    while True:
        found = agreement_audit(session, actor, agreement_id, limit=_BATCH, after=after)
        yield from found.items
        if found.next_after is None:
            return
        after = found.next_after


def _name(entry: AuditEntry) -> str | None:
    return entry.actor.name if entry.actor else None


def _row(agreement: AgreementItem, entry: AuditEntry) -> Row:
    text = sentence(
        entry.action,
        entry.data,
        actor=_name(entry),
        on_behalf_of=entry.on_behalf_of.name if entry.on_behalf_of else None,
        version_number=entry.version_number,
    )
    details = json.dumps(entry.data, indent=2, sort_keys=True, default=str)
    return Row(agreement, entry, text, details)


def _int(value: str, field: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    number = parse_id(value)
    if number is None:
        raise PageError(422, "Please check what you entered", f"{field} must be a number.")
    return number


def _date(value: str, field: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PageError(
            422, "Please check what you entered", f"{field} must be a date (YYYY-MM-DD)."
        ) from None


def _actor_matches(entry: AuditEntry, needle: str) -> bool:
    people = [p for p in (entry.actor, entry.on_behalf_of) if p is not None]
    if entry.actor is None and needle in SYSTEM.casefold():
        return True
    return any(needle in p.name.casefold() or needle in p.email.casefold() for p in people)


@router.get("/audit")
def audit_page(
    request: Request,
    user: PageUserDep,
    session: SessionDep,
    agreement: str = Query("", max_length=200),
    version: str = Query("", max_length=200),
    actor: str = Query("", max_length=200),
    action: str = Query("", max_length=200),
    date_from: str = Query("", max_length=200),
    date_to: str = Query("", max_length=200),
) -> Response:
    agreement_id = _int(agreement, "Agreement")
    number = _int(version, "Version")
    start, end = _date(date_from, "From"), _date(date_to, "To")
    needle = actor.strip().casefold()
    agreements = list_agreements(session, user.actor, limit=AGREEMENT_LIMIT).items
    chosen = [a for a in agreements if agreement_id is None or a.id == agreement_id]
    actions: set[str] = set()
    rows: list[Row] = []
    for item in chosen:
        for entry in _all_events(session, user.actor, item.id):
            actions.add(entry.action)
            day = local_date(entry.occurred_at)
            if (
                (number is not None and entry.version_number != number)
                or (action and entry.action != action)
                or (needle and not _actor_matches(entry, needle))
                or (start is not None and day < start)
                or (end is not None and day > end)
            ):
                continue
            rows.append(_row(item, entry))
    rows.sort(key=lambda r: (r.entry.occurred_at, r.agreement.id, r.entry.seq), reverse=True)
    verification = audit.verify(session) if user.actor.is_admin else None
    return render(
        request,
        "audit/list.html",
        {
            "section": "audit",
            "rows": rows[:PAGE_LIMIT],
            "more": len(rows) > PAGE_LIMIT,
            "agreements": agreements,
            "actions": sorted(actions | ({action} if action else set())),
            "form": {
                "agreement": agreement.strip(),
                "version": version.strip(),
                "actor": actor.strip(),
                "action": action,
                "date_from": date_from.strip(),
                "date_to": date_to.strip(),
            },
            "verification": verification,
        },
    )


# The evidence pack of a version.

CSV_COLUMNS = [
    "chain",
    "seq",
    "occurred_at",
    "actor",
    "actor_email",
    "on_behalf_of",
    "action",
    "version",
    "prev_hash",
    "hash",
    "data",
]


def _evidence(
    session: Session, actor: Actor, agreement_id: int, number: int
) -> tuple[AgreementItem, list[AuditEntry]]:
    """The version's events, and the agreement's own events from its first event to its end
    (the event that superseded, withdrew, expired or terminated it; else up to now)."""
    detail = agreement_detail(session, actor, agreement_id)  # NotFound unless a party
    events = list(_all_events(session, actor, agreement_id))
    own = [e for e in events if e.version_number == number]
    if not own:
        raise PageError(404, "Not found", f"{detail.key} has no version {number}.")
    first, last = own[0].seq, own[-1].seq
    ended = own[-1].action in _ENDINGS
    chosen = [
        e
        for e in events
        if e.version_number == number
        or (e.version_number is None and e.seq >= first and (not ended or e.seq <= last))
    ]
    return detail, chosen


def _event_json(chain: str, entry: AuditEntry) -> dict[str, Any]:
    return {
        "chain": chain,
        "seq": entry.seq,
        "occurred_at": entry.occurred_at.isoformat(),
        "actor": entry.actor.model_dump(mode="json") if entry.actor else None,
        "on_behalf_of": entry.on_behalf_of.model_dump(mode="json") if entry.on_behalf_of else None,
        "action": entry.action,
        "version": entry.version_number,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
        "data": entry.data,
    }


def _download(agreement: AgreementItem, number: int, suffix: str) -> dict[str, str]:
    name = f"{agreement.key}-v{number}-evidence.{suffix}"
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


@router.get("/slas/{agreement_id}/versions/{number}/evidence.json")
def evidence_json(agreement_id: Id, number: Id, user: PageUserDep, session: SessionDep) -> Response:
    detail, events = _evidence(session, user.actor, agreement_id, number)
    chain = audit.agreement_chain(agreement_id)
    body = {
        "agreement": {"id": detail.id, "key": detail.key, "title": detail.title},
        "version": number,
        "chain": chain,
        "hash_tag": audit.HASH_TAG,
        "events": [_event_json(chain, e) for e in events],
    }
    return Response(
        json.dumps(body, indent=2, default=str),
        media_type="application/json",
        headers=_download(detail, number, "json"),
    )


def _cells(chain: str, entry: AuditEntry) -> list[str]:
    values = [
        chain,
        str(entry.seq),
        entry.occurred_at.isoformat(),
        _name(entry) or SYSTEM,
        entry.actor.email if entry.actor else "",
        entry.on_behalf_of.name if entry.on_behalf_of else "",
        entry.action,
        "" if entry.version_number is None else str(entry.version_number),
        entry.prev_hash,
        entry.hash,
        json.dumps(entry.data, sort_keys=True, default=str),
    ]
    return [neutralise(v) for v in values]


@router.get("/slas/{agreement_id}/versions/{number}/evidence.csv")
def evidence_csv(agreement_id: Id, number: Id, user: PageUserDep, session: SessionDep) -> Response:
    detail, events = _evidence(session, user.actor, agreement_id, number)
    chain = audit.agreement_chain(agreement_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_cells(chain, e) for e in events)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers=_download(detail, number, "csv"),
    )
