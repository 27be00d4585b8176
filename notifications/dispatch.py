"""The dispatcher: claim due outbox rows, work out who receives them, render, send, mark.

One call of `dispatch_once` handles at most one batch, in short steps, each durable before
the next:

1. **Claim** (one write transaction: `FOR UPDATE SKIP LOCKED` on PostgreSQL, `BEGIN
   IMMEDIATE` on SQLite): the oldest due pending rows get `attempts + 1` and a lease,
   `leased_until`, so no other dispatcher sees them until it ends. The lease is set and judged
   by the database's clock, never by the dispatcher's `now` (which `accord jobs run-once --now`
   may put days ahead): only the retry schedule, `next_attempt_at`, follows `now`. The new
   `attempts` is the claim's fencing token.
2. **Plan** (one read transaction): recipients resolved from the rows (recipients.py),
   leaving out people an earlier attempt already served.
3. **Send**, outside any transaction, so a slow mail server never holds a database lock:
   one email per envelope. After each email but the row's last, a transaction records who
   received it (`NotificationDelivery`), so a retry never mails them again.
4. **Mark** (one write transaction per row): `UPDATE ... WHERE status = 'pending' AND
   attempts = <token>`; a dispatcher whose lease ran out changes nothing. Sent, or retried
   later (transient failures: connection refused, timeouts, SMTP 4xx), or dead (permanent:
   SMTP 5xx, a bad recipients spec, a template that cannot render).

Retries back off exponentially with jitter: the k-th failed attempt waits
`min(base * 2**(k-1), cap) * uniform(0.5, 1)`, so each wait is at least as long as the one
before. A row is dead once its nominal waits (without jitter) add up to more than the horizon:
the horizon is counted on the retry schedule, not on the wall clock, so a dispatcher that was
stopped for a day does not dead-letter its backlog, and a requeued row gets a whole horizon.

When the server is unreachable the batch stops: the row being sent backs off and the rows not
yet tried are released (their claim undone). A dispatcher stops starting sends once half its
lease is spent, releasing what is left, so a lease never runs out under a live dispatcher.

This module runs the batches; the steps live in `claims` (claim, mark, release), `batch` (plan
and send), `deliveries` (who received what) and `retry` (the back-off).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy.engine import Engine

from notifications.batch import Batch, DispatchCounts, Renderer, plan_recipients
from notifications.claims import Outgoing, claim_due, release
from notifications.recipients import Envelope
from notifications.retry import RetryPolicy
from notifications.senders import Sender
from workflow.calendar import local_date
from workflow.settings import get_settings

__all__ = [
    "DispatchCounts",
    "Outgoing",
    "Renderer",
    "RetryPolicy",
    "basic_renderer",
    "dispatch_once",
    "dispatch_pending",
]

log = logging.getLogger(__name__)


def dispatch_once(
    engine: Engine,
    *,
    sender: Sender,
    renderer: Renderer,
    now: datetime,
    limit: int | None = None,
    policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
    stop: threading.Event | None = None,
) -> DispatchCounts:
    """Claim and deliver at most `limit` due rows (default `ACCORD_DISPATCH_BATCH`).

    Once `stop` is set no further send starts: the email being sent finishes (bounded by the
    SMTP timeout), the row is marked, and the untried claims are released for another process.
    """
    settings = get_settings()
    policy = policy or RetryPolicy.from_settings(settings)
    claims = claim_due(engine, now=now, limit=limit or settings.dispatch_batch, lease=policy.lease)
    batch = Batch(
        engine,
        sender,
        renderer,
        now,
        policy,
        rng or random.Random(),  # noqa: S311 - jitter, not a secret
        deadline=time.monotonic() + policy.lease.total_seconds() / 2,
        stop=stop,
    )
    batch.counts.claimed = len(claims)
    if not claims:
        return batch.counts
    started = 0  # claims handed to `deliver`; the rest are released, whatever happens
    try:
        plans = plan_recipients(engine, claims, today=local_date(now))
        for claim in claims:
            if batch.stopped or batch.must_stop():
                break
            started += 1
            batch.deliver(claim, plans[claim.id])
    except BaseException:
        # A claim cut short stays leased (it may have been sent: it is retried when the lease
        # ends); untried ones are due again at once.
        try:
            release(engine, claims[started:])
        except Exception:
            log.exception("dispatch: cannot release %d claims", len(claims) - started)
        raise
    finally:
        sender.close()
    batch.counts.released += release(engine, claims[started:])
    log.info("dispatch: %s", batch.counts)
    return batch.counts


def dispatch_pending(
    engine: Engine,
    *,
    sender: Sender,
    renderer: Renderer,
    now: datetime,
    max_batches: int = 100,
    limit: int | None = None,
    policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
    stop: threading.Event | None = None,
) -> DispatchCounts:
    """Batches until nothing due is left, the server is down, or `stop` is set: the
    scheduler's job."""
    total = DispatchCounts()
    for _ in range(max_batches):
        if stop is not None and stop.is_set():
            break
        counts = dispatch_once(
            engine,
            sender=sender,
            renderer=renderer,
            now=now,
            limit=limit,
            policy=policy,
            rng=rng,
            stop=stop,
        )
        total.add(counts)
        if counts.claimed == 0 or counts.released:
            break
    return total


# ---- a plain renderer, until the templates are wired ----------------------------------------


def basic_renderer(*, sender: str, base_url: str) -> Renderer:
    """A plain-text email naming the topic and linking the agreement (tests, fallbacks)."""

    def render(message: Outgoing, envelope: Envelope) -> EmailMessage:
        email = EmailMessage()
        email["Subject"] = f"[Accord] {message.topic}"
        email["From"] = sender
        email["To"] = f"{envelope.to.person.name} <{envelope.to.person.email}>"
        if envelope.cc:
            email["Cc"] = ", ".join(f"{c.person.name} <{c.person.email}>" for c in envelope.cc)
        email["Message-ID"] = f"<outbox-{message.id}.{envelope.to.user_id}@accord.invalid>"
        email["Date"] = format_datetime(message.created_at)
        link = base_url.rstrip("/")
        if message.agreement_id is not None:
            link += f"/slas/{message.agreement_id}"
        email.set_content(f"{message.topic}\n\n{link}\n")
        return email

    return render
