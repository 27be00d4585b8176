"""One batch of claimed rows: render and send each envelope, record who received it, and
mark the row with the outcome. See `notifications.dispatch` for the steps around it."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session

from notifications.claims import Outcome, Outgoing, mark
from notifications.deliveries import delivery_rows, write_deliveries
from notifications.links import link_key
from notifications.recipient_spec import RecipientSpecError, Request
from notifications.recipients import Envelope, Resolution, resolve
from notifications.retry import RetryPolicy
from notifications.senders import DeliveryError, Sender

# Every step logs as the dispatcher, whichever module holds it.
log = logging.getLogger("notifications.dispatch")


class Renderer(Protocol):
    """Turns one envelope of a claimed row into an email (From, To, Cc, Message-ID set)."""

    def __call__(self, message: Outgoing, envelope: Envelope) -> EmailMessage: ...


@dataclass
class DispatchCounts:
    claimed: int = 0
    sent: int = 0  # rows marked sent
    emails: int = 0  # emails handed to the sender
    digest_shares: int = 0  # shares kept for people who chose the daily digest
    retrying: int = 0  # rows that will be tried again later
    dead: int = 0
    released: int = 0  # claims undone, untried (server down, or the lease half spent)
    lost: int = 0  # rows whose lease another dispatcher took over while we worked

    def add(self, other: DispatchCounts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def __str__(self) -> str:
        return (
            f"{self.claimed} messages claimed: {self.sent} sent as {self.emails} emails, "
            f"{self.digest_shares} kept for digests, {self.retrying} to retry, {self.dead} dead, "
            f"{self.released} released, {self.lost} lost to another dispatcher"
        )


def plan_recipients(
    engine: Engine, claims: Sequence[Outgoing], *, today: date
) -> dict[int, Resolution | RecipientSpecError]:
    key = link_key(engine)
    with Session(engine) as session:
        return resolve(
            session,
            [Request(c.id, c.agreement_id, c.recipients, c.topic) for c in claims],
            today=today,
            link_key=key,
        )


@dataclass
class Batch:
    engine: Engine
    sender: Sender
    renderer: Renderer
    now: datetime
    policy: RetryPolicy
    rng: random.Random
    deadline: float  # time.monotonic() after which no send starts
    stop: threading.Event | None = None  # set when the process shuts down
    counts: DispatchCounts = field(default_factory=DispatchCounts)
    stopped: bool = False  # the server is unreachable, the lease half spent, or shutting down

    def must_stop(self) -> bool:
        """No new send starts once the lease is half spent or the process is stopping."""
        stopping = self.stop is not None and self.stop.is_set()
        return stopping or time.monotonic() > self.deadline

    def deliver(self, claim: Outgoing, plan: Resolution | RecipientSpecError) -> None:
        if isinstance(plan, RecipientSpecError):
            self.finish(claim, Outcome("dead", f"bad recipients: {plan}"), [])
            return
        unrecorded = delivery_rows(claim.id, (), plan.digest, self.now)
        failures: list[DeliveryError] = []
        render_failed = False
        outcome: Outcome | None = None
        for index, envelope in enumerate(plan.envelopes):
            if self.must_stop():
                self.stopped = True
                outcome = Outcome("release")
                break
            try:
                email = self.renderer(claim, envelope)
            except Exception as exc:
                # Permanent: a template or payload bug (or a bad address) does not mend itself.
                # The other envelopes still go; a requeue after the fix retries only this one.
                if not render_failed:
                    log.exception("outbox %s (%s) cannot be rendered", claim.id, claim.topic)
                render_failed = True
                failures.append(
                    DeliveryError(f"cannot render: {type(exc).__name__}: {exc}", transient=False)
                )
                continue
            try:
                self.sender.send(email)
            except DeliveryError as error:
                failures.append(error)
                if error.connection:
                    self.stopped = True
                    break
                continue
            self.counts.emails += 1
            unrecorded += delivery_rows(claim.id, [envelope], (), self.now)
            if index < len(plan.envelopes) - 1:
                write_deliveries(self.engine, unrecorded)
                unrecorded = []
        # The digest shares are recorded whatever the outcome: they do not depend on SMTP.
        self.counts.digest_shares += len(plan.digest)
        self.finish(claim, outcome or outcome_of(failures, plan), unrecorded)

    def finish(self, claim: Outgoing, outcome: Outcome, deliveries: list[dict[str, Any]]) -> None:
        status = mark(
            self.engine,
            claim,
            outcome,
            deliveries,
            now=self.now,
            policy=self.policy,
            rng=self.rng,
        )
        match status:
            case "sent":
                self.counts.sent += 1
            case "retry":
                self.counts.retrying += 1
            case "dead":
                self.counts.dead += 1
            case "release":
                self.counts.released += 1
            case _:
                self.counts.lost += 1


def outcome_of(failures: list[DeliveryError], plan: Resolution) -> Outcome:
    if not failures:
        note = None if plan.envelopes or plan.digest else "no active recipients; nothing sent"
        return Outcome("sent", note)
    detail = "; ".join(f"{f.kind}: {f}" for f in failures)
    # Any transient failure is worth a retry; the retry only re-offers the emails that failed.
    if any(f.transient for f in failures):
        return Outcome("retry", detail)
    return Outcome("dead", detail)
