"""Outbox rows to emails with the templates: the renderer the dispatcher and digests use."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from notifications import links
from notifications import render as templates
from notifications.digest import Summarise
from notifications.dispatch import Outgoing, Renderer
from notifications.recipients import Envelope, Recipient
from workflow.models import NotificationDelivery, OutboxMessage, User
from workflow.models.notifications import UNSILENCEABLE_GROUPS


def _info(recipient: Recipient, base_url: str) -> templates.RecipientInfo:
    if recipient.link_token is not None:
        manage: str | None = links.manage_url(base_url, recipient.link_token)
    else:
        # The digest has no group of its own: its footer leads to the preferences page.
        manage = f"{base_url.rstrip('/')}/notifications" if recipient.reason == "digest" else None
    return templates.RecipientInfo(
        name=recipient.person.name,
        email=recipient.person.email,
        reason=templates.Reason(recipient.reason),
        acting_for=recipient.acting_for.name if recipient.acting_for else None,
        delegate=recipient.delegate.name if recipient.delegate else None,
        side=recipient.side,
        role=recipient.role,
        manage_link=manage,
    )


def template_renderer(*, sender: str, base_url: str) -> Renderer:
    """One email per addressee, worded for why they receive it, with a stable Message-ID."""
    name, address = parseaddr(sender)

    def render(message: Outgoing, envelope: Envelope) -> EmailMessage:
        rendered = templates.render(
            message.topic, message.payload, _info(envelope.to, base_url), base_url=base_url
        )
        email = templates.build_message(
            rendered,
            sender=(name, address),
            to=[(envelope.to.person.name, envelope.to.person.email)],
            cc=[(c.person.name, c.person.email) for c in envelope.cc],
            message_id=templates.message_id_for(message.id, envelope.to.user_id),
            date=message.created_at,
        )
        token = envelope.to.link_token
        if token is not None and envelope.to.group not in UNSILENCEABLE_GROUPS:
            # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" to this address,
            # which switches the group off for the addressee (api/pages/notifications.py).
            email["List-Unsubscribe"] = f"<{links.unsubscribe_url(base_url, token)}>"
            email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return email

    return render


def template_summary(*, base_url: str) -> Summarise:
    """A digest item: the subject, headline and link the immediate email would have had."""

    def summarise(
        message: OutboxMessage, share: NotificationDelivery, user: User
    ) -> dict[str, Any]:
        rendered = templates.render(
            message.topic,
            message.payload,
            templates.RecipientInfo(
                name=user.name, email=user.email, reason=templates.Reason(share.reason)
            ),
            base_url=base_url,
        )
        return {
            "topic": message.topic,
            "subject": rendered.subject,
            "summary": rendered.summary,
            "link": rendered.link,
        }

    return summarise
