"""What an outbox message says and to whom, for the admin outbox pages.

Recipients are the people it reached (its deliveries) or, while it waits, the people it would
reach now (resolved as the dispatcher will). The subject and preview are the templates'
rendering for the first of them. The one-use token of an invitation or reset link is never
shown: the preview links to a placeholder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from notifications import render as templates
from notifications.recipient_spec import Request
from notifications.recipients import Recipient, Resolution, resolve
from workflow.models import Agreement, NotificationDelivery, OutboxMessage, User
from workflow.queries.notifications import SECRET_FIELDS, NotificationView
from workflow.settings import get_settings

HIDDEN_TOKEN = "link-hidden-in-preview"  # noqa: S105 - a placeholder, not a secret


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    channel: str  # to, cc or digest


@dataclass(frozen=True)
class Summary:
    """One outbox row as the list shows it."""

    recipients: list[Person]
    subject: str
    agreement: tuple[int, str] | None  # id and key


def redacted(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload without secrets an administrator must not read (a link's token), with a
    placeholder the templates can still build a link from."""
    return {k: HIDDEN_TOKEN if k in SECRET_FIELDS else v for k, v in payload.items()}


def _delivered(session: Session, ids: list[int]) -> dict[int, list[Person]]:
    found: dict[int, list[Person]] = {}
    if not ids:
        return found
    rows = session.exec(
        select(NotificationDelivery.outbox_id, NotificationDelivery.channel, User.name, User.email)
        .join(User, col(User.id) == col(NotificationDelivery.user_id))
        .where(col(NotificationDelivery.outbox_id).in_(ids))
        .order_by(col(NotificationDelivery.id))
    ).all()
    for outbox_id, channel, name, address in rows:
        found.setdefault(outbox_id, []).append(Person(name, address, channel))
    return found


def _people(resolution: Resolution) -> list[Person]:
    people: list[Person] = []
    for envelope in resolution.envelopes:
        people.append(Person(envelope.to.person.name, envelope.to.person.email, "to"))
        people.extend(Person(c.person.name, c.person.email, "cc") for c in envelope.cc)
    people.extend(Person(r.person.name, r.person.email, "digest") for r in resolution.digest)
    return people


def _first(resolution: Resolution | None) -> Recipient | None:
    if resolution is None:
        return None
    if resolution.envelopes:
        return resolution.envelopes[0].to
    return resolution.digest[0] if resolution.digest else None


def _info(recipient: Recipient | None, people: Sequence[Person]) -> templates.RecipientInfo:
    if recipient is not None:
        return templates.RecipientInfo(
            name=recipient.person.name,
            email=recipient.person.email,
            reason=templates.Reason(recipient.reason),
            side=recipient.side,
            role=recipient.role,
        )
    first = people[0] if people else Person("the recipient", "", "to")
    return templates.RecipientInfo(
        name=first.name, email=first.email, reason=templates.Reason.ASSIGNEE
    )


def _resolutions(
    session: Session, messages: Iterable[NotificationView], today: date
) -> dict[int, Resolution]:
    requests = [Request(m.id, m.agreement_id, m.recipients, m.topic) for m in messages]
    found = resolve(session, requests, today=today) if requests else {}
    return {k: v for k, v in found.items() if isinstance(v, Resolution)}


def rendered(
    topic: str, payload: dict[str, Any], info: templates.RecipientInfo
) -> templates.Rendered | str:
    """The email as the dispatcher would render it, or why it cannot be."""
    try:
        return templates.render(topic, redacted(payload), info, base_url=get_settings().base_url)
    except templates.RenderError as error:
        return str(error)


def summaries(
    session: Session,
    messages: Sequence[NotificationView],
    payloads: dict[int, dict[str, Any]],
    today: date,
) -> dict[int, Summary]:
    delivered = _delivered(session, [m.id for m in messages])
    waiting = [m for m in messages if m.id not in delivered]
    resolutions = _resolutions(session, waiting, today)
    keys = dict(
        session.exec(
            select(Agreement.id, Agreement.key).where(
                col(Agreement.id).in_({m.agreement_id for m in messages if m.agreement_id})
            )
        ).all()
    )
    out: dict[int, Summary] = {}
    for m in messages:
        resolution = resolutions.get(m.id)
        people = delivered.get(m.id) or (_people(resolution) if resolution else [])
        email_ = rendered(m.topic, payloads.get(m.id, {}), _info(_first(resolution), people))
        subject = email_.subject if isinstance(email_, templates.Rendered) else f"({email_})"
        key = keys.get(m.agreement_id) if m.agreement_id is not None else None
        agreement = (m.agreement_id, key) if m.agreement_id is not None and key else None
        out[m.id] = Summary(people, subject, agreement)
    return out


def preview_message(
    topic: str, payload: dict[str, Any], summary: Summary
) -> tuple[templates.Rendered | str, str]:
    """The rendered email for its first recipient, and the `From` it would carry."""
    info = _info(None, summary.recipients)
    return rendered(topic, payload, info), get_settings().mail_from


def payloads_of(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = session.exec(
        select(OutboxMessage.id, OutboxMessage.payload).where(col(OutboxMessage.id).in_(ids))
    ).all()
    return {i: dict(p) for i, p in rows if i is not None}
