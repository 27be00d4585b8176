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
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from notifications.recipients import (
    Envelope,
    RecipientSpecError,
    Request,
    Resolution,
    resolve,
)
from notifications.senders import DeliveryError, Sender
from workflow.calendar import local_date
from workflow.db import begin_write, db_now
from workflow.models import NotificationDelivery, OutboxMessage
from workflow.settings import Settings, get_settings

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 2000  # the width of outbox_message.last_error


@dataclass(frozen=True)
class Outgoing:
    """An outbox row as this dispatcher claimed it."""

    id: int
    topic: str
    dedupe_key: str
    agreement_id: int | None
    recipients: dict[str, Any]
    payload: dict[str, Any]
    created_at: datetime
    attempt: int  # `attempts` after the claim: the fencing token of every later update
    due_at: datetime  # `next_attempt_at` before the claim, restored if the claim is released


class Renderer(Protocol):
    """Turns one envelope of a claimed row into an email (From, To, Cc, Message-ID set)."""

    def __call__(self, message: Outgoing, envelope: Envelope) -> EmailMessage: ...


@dataclass(frozen=True)
class RetryPolicy:
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    horizon: timedelta = timedelta(hours=48)
    lease: timedelta = timedelta(minutes=5)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            base=timedelta(seconds=settings.retry_base_seconds),
            cap=timedelta(seconds=settings.retry_max_seconds),
            horizon=timedelta(hours=settings.retry_horizon_hours),
            lease=timedelta(seconds=settings.dispatch_lease_seconds),
        )

    def nominal(self, attempt: int) -> timedelta:
        """The wait after the `attempt`-th failure, before jitter."""
        # min() before multiplying far: 2**60 seconds would overflow timedelta.
        doublings = min(max(attempt - 1, 0), 40)
        return min(self.base * (1 << doublings), self.cap)

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        return self.nominal(attempt) * (0.5 + 0.5 * rng.random())

    def gives_up(self, attempt: int) -> bool:
        """Whether the nominal waits of `attempt` failures add up beyond the horizon."""
        total = timedelta(0)
        for k in range(1, attempt + 1):
            total += self.nominal(k)
            if total > self.horizon:
                return True
        return False


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


# ---- the database steps ----------------------------------------------------------------------

_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
_DELIVERY = NotificationDelivery.__table__  # type: ignore[attr-defined]

_RECORD = {
    name: dialect.insert(_DELIVERY).on_conflict_do_nothing(index_elements=["outbox_id", "user_id"])
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}

_FENCE = sa.and_(
    _OUTBOX.c.id == sa.bindparam("row_id"),
    _OUTBOX.c.status == "pending",
    _OUTBOX.c.attempts == sa.bindparam("token"),
)


def _claim(engine: Engine, *, now: datetime, limit: int, lease: timedelta) -> list[Outgoing]:
    with Session(engine, expire_on_commit=False) as session:
        begin_write(session)
        clock = db_now(session)
        rows = session.exec(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= now,
                or_(
                    col(OutboxMessage.leased_until).is_(None),
                    col(OutboxMessage.leased_until) <= clock,
                ),
            )
            .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        claims = [
            Outgoing(
                id=row.id,  # type: ignore[arg-type]
                topic=row.topic,
                dedupe_key=row.dedupe_key,
                agreement_id=row.agreement_id,
                recipients=dict(row.recipients),
                payload=dict(row.payload),
                created_at=row.created_at,
                attempt=row.attempts + 1,
                due_at=row.next_attempt_at,
            )
            for row in rows
        ]
        if claims:
            session.connection().execute(
                sa.update(_OUTBOX)
                .where(_OUTBOX.c.id.in_([c.id for c in claims]))
                .values(attempts=_OUTBOX.c.attempts + 1, leased_until=clock + lease)
            )
        session.commit()
    return claims


def _plan(
    engine: Engine, claims: Sequence[Outgoing], *, today: date
) -> dict[int, Resolution | RecipientSpecError]:
    with Session(engine) as session:
        return resolve(
            session,
            [Request(c.id, c.agreement_id, c.recipients) for c in claims],
            today=today,
        )


def _delivery_rows(
    claim: Outgoing, envelopes: Iterable[Envelope], digest: Iterable[Any], now: datetime
) -> list[dict[str, Any]]:
    rows = []
    for envelope in envelopes:
        for recipient, channel in [(envelope.to, "to"), *((c, "cc") for c in envelope.cc)]:
            rows.append(
                {
                    "outbox_id": claim.id,
                    "user_id": recipient.user_id,
                    "channel": channel,
                    "reason": recipient.reason,
                    "recorded_at": now,
                    "digest_key": None,
                }
            )
    for recipient in digest:
        rows.append(
            {
                "outbox_id": claim.id,
                "user_id": recipient.user_id,
                "channel": "digest",
                "reason": recipient.reason,
                "recorded_at": now,
                "digest_key": None,
            }
        )
    return rows


def _record(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection = session.connection()
        connection.execute(_RECORD[connection.dialect.name], rows)


def _write(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Record who an email reached, before the next one is sent."""
    with Session(engine) as session:
        begin_write(session)
        _record(session, rows)
        session.commit()


@dataclass(frozen=True)
class _Outcome:
    status: str  # "sent", "retry", "dead" or "release"
    error: str | None = None


def _finish(
    engine: Engine,
    claim: Outgoing,
    outcome: _Outcome,
    deliveries: list[dict[str, Any]],
    *,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> str:
    """The row's one state change after sending (fenced by the claim), with the deliveries
    not yet recorded. Returns the status it ended in, or "lost"."""
    status = outcome.status
    error = outcome.error[:MAX_ERROR_CHARS] if outcome.error else None
    values: dict[str, Any] = {"leased_until": None}
    if status == "sent":
        values |= {"status": "sent", "sent_at": now, "last_error": error}
    elif status == "release":
        values |= {"attempts": claim.attempt - 1, "next_attempt_at": claim.due_at}
    elif status == "retry" and not policy.gives_up(claim.attempt):
        values |= {"next_attempt_at": now + policy.delay(claim.attempt, rng), "last_error": error}
    else:
        if status == "retry":
            error = f"gave up after {claim.attempt} attempts: {error}"[:MAX_ERROR_CHARS]
        status = "dead"
        values |= {"status": "dead", "last_error": error}
    with Session(engine) as session:
        begin_write(session)
        # Who received an email is a fact, recorded even when the row is no longer ours.
        _record(session, deliveries)
        changed = session.connection().execute(
            sa.update(_OUTBOX).where(_FENCE).values(**values),
            {"row_id": claim.id, "token": claim.attempt},
        )
        session.commit()
    if changed.rowcount != 1:
        log.warning("outbox %s: lease lost before it could be marked %s", claim.id, status)
        return "lost"
    return status


def _release(engine: Engine, claims: Sequence[Outgoing]) -> int:
    """Undo claims that were not tried: the rows are due again as they were."""
    if not claims:
        return 0
    released = 0
    statement = (
        sa.update(_OUTBOX)
        .where(_FENCE)
        .values(
            attempts=sa.bindparam("previous"),
            next_attempt_at=sa.bindparam("due"),
            leased_until=None,
        )
    )
    with Session(engine) as session:
        begin_write(session)
        connection = session.connection()
        for c in claims:  # one statement each: executemany's rowcount is not portable
            released += connection.execute(
                statement,
                {"row_id": c.id, "token": c.attempt, "previous": c.attempt - 1, "due": c.due_at},
            ).rowcount
        session.commit()
    return released


# ---- one batch -------------------------------------------------------------------------------


@dataclass
class _Batch:
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
            self.finish(claim, _Outcome("dead", f"bad recipients: {plan}"), [])
            return
        unrecorded = _delivery_rows(claim, (), plan.digest, self.now)
        failures: list[DeliveryError] = []
        render_failed = False
        outcome: _Outcome | None = None
        for index, envelope in enumerate(plan.envelopes):
            if self.must_stop():
                self.stopped = True
                outcome = _Outcome("release")
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
            unrecorded += _delivery_rows(claim, [envelope], (), self.now)
            if index < len(plan.envelopes) - 1:
                _write(self.engine, unrecorded)
                unrecorded = []
        # The digest shares are recorded whatever the outcome: they do not depend on SMTP.
        self.counts.digest_shares += len(plan.digest)
        self.finish(claim, outcome or _outcome_of(failures, plan), unrecorded)

    def finish(self, claim: Outgoing, outcome: _Outcome, deliveries: list[dict[str, Any]]) -> None:
        status = _finish(
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


def _outcome_of(failures: list[DeliveryError], plan: Resolution) -> _Outcome:
    if not failures:
        note = None if plan.envelopes or plan.digest else "no active recipients; nothing sent"
        return _Outcome("sent", note)
    detail = "; ".join(f"{f.kind}: {f}" for f in failures)
    # Any transient failure is worth a retry; the retry only re-offers the emails that failed.
    if any(f.transient for f in failures):
        return _Outcome("retry", detail)
    return _Outcome("dead", detail)


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
    claims = _claim(engine, now=now, limit=limit or settings.dispatch_batch, lease=policy.lease)
    batch = _Batch(
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
        plans = _plan(engine, claims, today=local_date(now))
        for claim in claims:
            if batch.stopped or batch.must_stop():
                break
            started += 1
            batch.deliver(claim, plans[claim.id])
    except BaseException:
        # A claim cut short stays leased (it may have been sent: it is retried when the lease
        # ends); untried ones are due again at once.
        try:
            _release(engine, claims[started:])
        except Exception:
            log.exception("dispatch: cannot release %d claims", len(claims) - started)
        raise
    finally:
        sender.close()
    batch.counts.released += _release(engine, claims[started:])
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
