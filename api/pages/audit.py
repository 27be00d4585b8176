"""Audit review: the events people may audit as sentences, the chain check, and a version's
evidence pack (JSON, CSV and a printable certificate of approval).

Events come from the queries behind `GET /api/v1/slas/{id}/audit` and `/audit/system`, for
the agreements `auditable_agreements` gives the user: never more than the API would. A
party's people read their agreements' trails; auditors verify the chains of their scope;
administrators and global auditors read every trail and the administration acts.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import NowDep, SessionDep
from api.pages.audit_details import explain_rows
from api.pages.audit_sentences import SYSTEM, action_choices, sentence
from api.pages.errors import PageError
from api.pages.render import render
from api.pages.session import PageUserDep
from api.types import Id, parse_id
from notifications.reports.csv_export import neutralise
from states import Role, Side
from workflow.access import Actor
from workflow.calendar import BUSINESS_TIME_ZONE, local_date, time_zone
from workflow.errors import NotFound
from workflow.queries.audit_log import (
    AuditedAgreement,
    AuditEntry,
    auditable_agreements,
    seats,
    system_audit,
    verify_scope,
)
from workflow.queries.common import Person
from workflow.queries.evidence import (
    EvidencePack,
    all_events,
    evidence_document,
    evidence_pack,
)
from workflow.queries.versions import metric_names

router = APIRouter()

PAGE_LIMIT = 200
_BATCH = 500
ADMINISTRATION = "admin"  # the agreement filter's value for the system chain


@dataclass(frozen=True)
class Row:
    """One event of the page: where it belongs, what it says, and the event itself."""

    agreement: AuditedAgreement | None  # None: an administration act (the system chain)
    entry: AuditEntry
    text: str
    details: str  # the event's data (before/after included) as indented JSON

    @property
    def before(self) -> Any:
        return self.entry.data.get("before")

    @property
    def after(self) -> Any:
        return self.entry.data.get("after")


def _system_events(session: Session, actor: Actor) -> Iterator[AuditEntry]:
    after: list[object] | None = None
    while True:
        found = system_audit(session, actor, limit=_BATCH, after=after)
        yield from found.items
        if found.next_after is None:
            return
        after = found.next_after


def _who(person: Person | None, seat: str | None) -> str | None:
    """'Marcus Chen (customer Business Owner)': the name, and the seat when there is one."""
    if person is None:
        return None
    return f"{person.name} ({seat})" if seat else person.name


def _task_seat(entry: AuditEntry) -> str | None:
    """A completed task was done in its seat, whatever else the person holds."""
    after = entry.data.get("after") if entry.action == "task.completed" else None
    if not isinstance(after, dict) or "side" not in after or "role" not in after:
        return None
    try:
        return f"{Side(after['side']).value} {Role(after['role']).label}"
    except ValueError:
        return None


def _row(
    agreement: AuditedAgreement | None,
    entry: AuditEntry,
    seats: dict[int, str] | None = None,
    metrics: dict[str, str] | None = None,
) -> Row:
    seats = seats or {}
    by = entry.on_behalf_of
    task_seat = _task_seat(entry)
    actor_seat = seats.get(entry.actor.id) if entry.actor else None
    text = sentence(
        entry.action,
        entry.data,
        # On behalf of someone, the seat is the principal's; the delegate is named plainly.
        actor=_who(entry.actor, None if by else (task_seat or actor_seat)),
        on_behalf_of=_who(by, (task_seat or seats.get(by.id)) if by else None),
        version_number=entry.version_number,
        metrics=metrics,
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
    administration = agreement.strip() == ADMINISTRATION
    agreement_id = None if administration else _int(agreement, "Agreement")
    number = _int(version, "Version")
    start, end = _date(date_from, "From"), _date(date_to, "To")
    needle = actor.strip().casefold()
    agreements = auditable_agreements(session, user.actor)
    chosen = [] if administration else [a for a in agreements if agreement_id in (None, a.id)]
    sources: list[tuple[AuditedAgreement | None, Iterator[AuditEntry]]] = [
        (item, all_events(session, user.actor, item.id)) for item in chosen
    ]
    seated = {item.id: seats(session, item.id) for item in chosen}
    named = {item.id: metric_names(session, item.id) for item in chosen}
    shows_administration = user.actor.audits_everything and agreement_id is None
    if shows_administration and number is None:
        sources.append((None, _system_events(session, user.actor)))
    actions: set[str] = set()
    rows: list[Row] = []
    for item, events in sources:
        for entry in events:
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
            if item is None:
                rows.append(_row(item, entry))
            else:
                rows.append(_row(item, entry, seated.get(item.id), named.get(item.id)))
    rows.sort(
        key=lambda r: (r.entry.occurred_at, r.agreement.id if r.agreement else 0, r.entry.seq),
        reverse=True,
    )
    shown = rows[:PAGE_LIMIT]
    explained = explain_rows(
        session, [(r.agreement.id if r.agreement else None, r.entry) for r in shown], seated
    )
    verification = verify_scope(session, user.actor) if user.actor.may_audit else None
    return render(
        request,
        "audit/list.html",
        {
            "section": "audit",
            "rows": shown,
            "explained": explained,
            "more": len(rows) > PAGE_LIMIT,
            "agreements": agreements,
            "administration": user.actor.audits_everything,
            "actions": action_choices(actions | ({action} if action else set())),
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
    "record",  # version, content, approval, verification or event
    "chain",
    "seq",
    "occurred_at",
    "actor",
    "actor_email",
    "on_behalf_of",
    "action",
    "version",
    "content_hash",
    "prev_hash",
    "hash",
    "data",
]


def _pack(session: Session, actor: Actor, agreement_id: int, number: int, now: Any) -> EvidencePack:
    try:
        return evidence_pack(session, actor, agreement_id, number, now=now)
    except NotFound as exc:
        raise PageError(404, "Not found", f"{exc.message[:1].upper()}{exc.message[1:]}.") from None


def _download(pack: EvidencePack, suffix: str, *, name: str = "evidence") -> dict[str, str]:
    filename = f"{pack.agreement.key}-v{pack.version}-{name}.{suffix}"
    return {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    }


@router.get("/slas/{agreement_id}/versions/{number}/evidence.json")
def evidence_json(
    agreement_id: Id, number: Id, user: PageUserDep, session: SessionDep, now: NowDep
) -> Response:
    pack = _pack(session, user.actor, agreement_id, number, now)
    return Response(
        json.dumps(evidence_document(pack), indent=2, default=str),
        media_type="application/json",
        headers=_download(pack, "json"),
    )


def _csv_rows(pack: EvidencePack) -> Iterator[list[str]]:
    empty = [""] * len(CSV_COLUMNS)

    def row(**cells: str) -> list[str]:
        out = list(empty)
        for name, value in cells.items():
            out[CSV_COLUMNS.index(name)] = value
        return [neutralise(v) for v in out]

    version = str(pack.version)
    summary = {"key": pack.agreement.key, "title": pack.agreement.title, "state": pack.state}
    yield row(
        record="version",
        chain=pack.chain,
        version=version,
        content_hash=pack.content_hash,
        data=json.dumps(summary, sort_keys=True),
    )
    yield row(
        record="content",
        version=version,
        content_hash=pack.content_hash,
        data=json.dumps(pack.content, sort_keys=True, default=str),
    )
    for a in pack.approvals:
        yield row(
            record="approval",
            chain=pack.chain,
            seq=str(a.seq),
            occurred_at=a.at.isoformat(),
            actor=a.by.name if a.by else SYSTEM,
            actor_email=a.by.email if a.by else "",
            on_behalf_of=a.on_behalf_of.name if a.on_behalf_of else "",
            action=a.outcome,
            version=version,
            content_hash=a.content_hash or "",
            hash=a.event_hash,
            data=json.dumps(
                {
                    "side": a.side,
                    "role": a.role,
                    "matches_version": a.matches_version,
                    "comment": a.comment,
                },
                sort_keys=True,
            ),
        )
    check = pack.verification
    yield row(
        record="verification",
        chain=check.chain,
        seq=str(check.events_checked),
        occurred_at=check.checked_at.isoformat(),
        action="verified" if check.ok else "broken",
        hash=check.head_hash or "",
        data=json.dumps({"failures": check.failures}, sort_keys=True),
    )
    for e in pack.events:
        yield row(
            record="event",
            chain=pack.chain,
            seq=str(e.seq),
            occurred_at=e.occurred_at.isoformat(),
            actor=e.actor.name if e.actor else SYSTEM,
            actor_email=e.actor.email if e.actor else "",
            on_behalf_of=e.on_behalf_of.name if e.on_behalf_of else "",
            action=e.action,
            version="" if e.version_number is None else str(e.version_number),
            prev_hash=e.prev_hash,
            hash=e.hash,
            data=json.dumps(e.data, sort_keys=True, default=str),
        )


@router.get("/slas/{agreement_id}/versions/{number}/evidence.csv")
def evidence_csv(
    agreement_id: Id, number: Id, user: PageUserDep, session: SessionDep, now: NowDep
) -> Response:
    pack = _pack(session, user.actor, agreement_id, number, now)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_rows(pack))
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers=_download(pack, "csv"),
    )


@router.get("/slas/{agreement_id}/versions/{number}/certificate.html")
def certificate(
    request: Request,
    agreement_id: Id,
    number: Id,
    user: PageUserDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """A printable certificate of approval: what was approved, by whom, when, on which
    content hash, and whether the agreement's chain verifies."""
    pack = _pack(session, user.actor, agreement_id, number, now)
    filename = f"{pack.agreement.key}-v{pack.version}-certificate.html"
    return render(
        request,
        "audit/certificate.html",
        {"pack": pack, "events": len(pack.events), "when": _when},
        headers={
            # Shown in the browser to print; saved under this name when downloaded.
            "Content-Disposition": f'inline; filename="{filename}"',
            "Content-Security-Policy": CERTIFICATE_CSP,
        },
    )


# The certificate is self-contained (inline styles) so that the saved file prints as shown.
CERTIFICATE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def _when(moment: datetime) -> str:
    """A moment in the business time zone, with its abbreviation: "3 Dec 2026 09:15 EST"."""
    local = moment.astimezone(time_zone(BUSINESS_TIME_ZONE))
    return f"{local.day} {local:%b %Y %H:%M} {local.tzname()}"
