"""The dispatcher against a real SMTP server on 127.0.0.1, on both databases: delivery,
outages, 4xx storms, 5xx dead letters, slow servers, leases, and two dispatchers at once.

Time is injected (`now`); nothing sleeps except the slow server, for a bounded moment.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from notifications.digest import DIGEST_TOPIC, compile_digests
from notifications.dispatch import (
    DispatchCounts,
    Outgoing,
    Renderer,
    RetryPolicy,
    basic_renderer,
    dispatch_once,
    dispatch_pending,
)
from notifications.recipients import Envelope
from notifications.senders import DeliveryError, MemorySender, Sender, SmtpSender
from states import Role
from tests.helpers import C, P, World, make_world
from tests.notifications.preferences import everyone_immediate
from tests.notifications.smtp import HOST, Mailbox, free_port, smtp_server
from workflow import commands
from workflow.command import command
from workflow.commands.notifications import retry_notification, set_notification_mode
from workflow.models import NotificationDelivery, OutboxMessage

BASE_URL = "http://accord.test"
POLICY = RetryPolicy(
    base=timedelta(seconds=30),
    cap=timedelta(hours=1),
    horizon=timedelta(hours=48),
    lease=timedelta(minutes=5),
)


def _address(recipient_name: str, email: str) -> str:
    return f"{recipient_name} <{email}>"


def multipart(message: Outgoing, envelope: Envelope) -> EmailMessage:
    """A stand-in for the templates: plain text and HTML, a link, a stable Message-ID."""
    link = f"{BASE_URL}/slas/{message.agreement_id}"
    email = EmailMessage()
    email["Subject"] = f"[Accord] {message.topic} #{message.id}"
    email["From"] = "Accord <accord@accord.test>"
    email["To"] = _address(envelope.to.person.name, envelope.to.person.email)
    if envelope.cc:
        email["Cc"] = ", ".join(_address(c.person.name, c.person.email) for c in envelope.cc)
    email["Message-ID"] = f"<outbox-{message.id}.{envelope.to.user_id}@accord.test>"
    email["Date"] = format_datetime(message.created_at)
    email.set_content(f"{message.topic} for {envelope.to.person.name}: {link}\n")
    email.add_alternative(f'<p>{message.topic}: <a href="{link}">open</a></p>', subtype="html")
    return email


def smtp(port: int) -> SmtpSender:
    return SmtpSender(HOST, port, timeout=5.0, local_hostname="client.accord.test")


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def server(mailbox: Mailbox) -> Iterator[int]:
    with smtp_server(mailbox) as controller:
        yield controller.port


def dispatch(
    engine: Engine,
    sender: Sender,
    now: datetime,
    *,
    renderer: Renderer = multipart,
    limit: int | None = None,
    policy: RetryPolicy = POLICY,
) -> DispatchCounts:
    return dispatch_once(
        engine,
        sender=sender,
        renderer=renderer,
        now=now,
        limit=limit,
        policy=policy,
        rng=random.Random(7),
    )


def rows(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as s:
        return list(s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def row(engine: Engine, outbox_id: int) -> OutboxMessage:
    with Session(engine) as s:
        found = s.get(OutboxMessage, outbox_id)
        assert found is not None
        return found


def queue(world: World, count: int, *, user_ids: list[int] | None = None) -> list[int]:
    """`count` task-like messages, one recipient each (cycling through the stakeholders)."""
    people = [a.user_id for a in world.parties.actors.values()]
    session = world.session
    session.rollback()
    with command(session) as tx:
        for n in range(count):
            tx.enqueue(
                topic="test.message",
                dedupe_key=f"test:{n}",
                now=world.now,
                recipients={"user_ids": user_ids or [people[n % len(people)]]},
                payload={"n": n},
            )
    found = session.exec(
        select(OutboxMessage.id)
        .where(col(OutboxMessage.dedupe_key).startswith("test:"))
        .order_by(col(OutboxMessage.id))
    ).all()
    return [i for i in found if i is not None]


def deliveries(engine: Engine, outbox_id: int) -> list[tuple[int, str]]:
    with Session(engine) as s:
        return [
            (d.user_id, d.channel)
            for d in s.exec(
                select(NotificationDelivery)
                .where(NotificationDelivery.outbox_id == outbox_id)
                .order_by(col(NotificationDelivery.id))
            )
        ]


# ---- delivery --------------------------------------------------------------------------------


def test_a_lifecycle_step_reaches_the_right_people_through_smtp(
    world: World, engine: Engine, mailbox: Mailbox, server: int
) -> None:
    fl, sme = world.who(C, Role.FUNCTIONAL_LEAD), world.who(C, Role.FUNCTIONAL_SME)
    everyone_immediate(world)  # the defaults keep most broadcasts for the digest
    commands.create_delegation(
        world.session,
        actor=fl,
        delegate_id=sme.user_id,
        starts_on=world.now.date(),
        ends_on=world.now.date() + timedelta(days=7),
        now=world.now,
    )
    agreement = world.create()
    world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))

    counts = dispatch(engine, smtp(server), world.tick())

    by_topic = {r.topic: r for r in rows(engine)}
    assert {r.status for r in rows(engine)} == {"sent"}
    # Two review tasks (the customer Functional Lead's goes to their delegate, the lead in
    # copy), the delegation notice, and the state change for the 18 stakeholders, of whom
    # the delegate and the lead share one email.
    assert counts.emails == len(mailbox.received) == 2 + 1 + 17
    assert (counts.claimed, counts.sent, counts.dead, counts.retrying) == (4, 4, 0, 0)
    ids = mailbox.message_ids()
    assert len(ids) == len(set(ids))
    for received in mailbox.received:
        email = received.message
        to = [a.addr_spec for a in email["To"].addresses]
        cc = [a.addr_spec for a in email["Cc"].addresses] if email["Cc"] else []
        assert received.rcpt_tos == to + cc
        assert received.mail_from == "accord@accord.test"
        assert email["Date"]
        assert email["Message-ID"]
        assert email["Subject"].startswith("[Accord] ")
        assert email.get_content_type() == "multipart/alternative"
        plain, html = email.iter_parts()
        assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
        link = f"{BASE_URL}/slas/{agreement.id}"
        if "delegation" not in email["Subject"]:
            assert link in plain.get_content()
            assert f'href="{link}"' in html.get_content()
    task_mail = [m for m in mailbox.messages() if "task.assigned" in m["Subject"]]
    assert len(task_mail) == 2
    review_for_lead = [m for m in task_mail if m["To"].addresses[0].addr_spec == sme.email]
    assert [m["Cc"].addresses[0].addr_spec for m in review_for_lead] == [fl.email]
    provider_tl = world.who(P, Role.TECHNICAL_LEAD).email
    assert any(m["To"].addresses[0].addr_spec == provider_tl for m in task_mail)
    broadcast = by_topic["review.requested"]
    recorded = deliveries(engine, broadcast.id)  # type: ignore[arg-type]
    assert len(recorded) == 18
    assert (fl.user_id, "cc") in recorded
    # Nothing is due any more.
    assert dispatch(engine, smtp(server), world.tick()).claimed == 0


def test_smtp_down_for_a_while_then_up_delivers_each_message_exactly_once(
    world: World, engine: Engine, mailbox: Mailbox
) -> None:
    ids = queue(world, 12)
    port = free_port()  # nothing listens here yet
    now = world.now
    for _ in range(4):  # four ticks of an outage
        now += timedelta(seconds=10)
        counts = dispatch(engine, smtp(port), now)
        assert counts.emails == 0
        assert counts.retrying == 1  # the row tried backs off ...
        assert counts.released == counts.claimed - 1  # ... the rest were not tried
    down = rows(engine)
    assert {r.status for r in down} == {"pending"}
    assert sorted(r.attempts for r in down) == [0] * 8 + [1] * 4
    assert all(
        r.last_error and "cannot reach the SMTP server" in r.last_error for r in down if r.attempts
    )
    with smtp_server(mailbox, port=port):
        total = dispatch_pending(
            engine,
            sender=smtp(port),
            renderer=multipart,
            now=now + timedelta(minutes=5),
            policy=POLICY,
            rng=random.Random(1),
        )
        again = dispatch(engine, smtp(port), now + timedelta(hours=1))
    assert total.sent == 12
    assert again.claimed == 0
    assert sorted(mailbox.message_ids()) == sorted(
        f"<outbox-{r.id}.{r.recipients['user_ids'][0]}@accord.test>" for r in rows(engine)
    )
    assert [r.id for r in rows(engine)] == ids
    assert {r.status for r in rows(engine)} == {"sent"}
    assert all(r.last_error is None and r.sent_at is not None for r in rows(engine))


def test_a_451_storm_is_retried_with_growing_delays_then_delivered(
    world: World, engine: Engine, mailbox: Mailbox, server: int
) -> None:
    storm = 5
    mailbox.replies = ["451 4.3.0 Greylisted, try again later"] * storm
    (outbox_id,) = queue(world, 1)
    now, delays = world.now, []
    for _ in range(storm + 3):
        counts = dispatch(engine, smtp(server), now)
        current = row(engine, outbox_id)
        if current.status != "pending":
            break
        assert counts.retrying == 1
        assert current.last_error is not None
        assert "451" in current.last_error
        delay = current.next_attempt_at - now
        nominal = POLICY.nominal(current.attempts)
        assert nominal / 2 <= delay <= nominal
        delays.append(delay)
        # Early, nothing happens.
        assert (
            dispatch(engine, smtp(server), current.next_attempt_at - timedelta(seconds=1)).claimed
            == 0
        )
        now = current.next_attempt_at
    assert len(delays) == storm
    assert delays == sorted(delays)
    assert delays[-1] > 4 * delays[0]
    done = row(engine, outbox_id)
    assert (done.status, done.attempts, done.last_error) == ("sent", storm + 1, None)
    assert len(mailbox.received) == 1
    assert mailbox.answered == ["451 4.3.0 Greylisted, try again later"] * storm + [
        "250 Message accepted"
    ]


def test_nothing_retries_forever_transient_failures_die_at_the_horizon(
    world: World, engine: Engine, mailbox: Mailbox, server: int
) -> None:
    policy = RetryPolicy(
        base=timedelta(minutes=1),
        cap=timedelta(minutes=10),
        horizon=timedelta(hours=1),
        lease=timedelta(minutes=5),
    )
    mailbox.replies = ["421 4.3.2 System not accepting messages"] * 50
    (outbox_id,) = queue(world, 1)
    now = world.now
    for _ in range(30):
        dispatch(engine, smtp(server), now, policy=policy)
        current = row(engine, outbox_id)
        if current.status == "dead":
            break
        now = current.next_attempt_at
    # Waits of 1, 2, 4, 8, 10, 10, 10, 10 minutes make 55; the ninth would pass the hour.
    assert (current.status, current.attempts) == ("dead", 9)
    assert current.last_error is not None
    assert current.last_error.startswith("gave up after 9 attempts: transient: SMTP 421")
    assert mailbox.received == []


def test_a_5xx_is_dead_at_once_visible_and_a_retry_delivers_it(
    world: World, engine: Engine, mailbox: Mailbox, server: int
) -> None:
    mailbox.replies = ["554 5.7.1 Message rejected as spam"]
    (outbox_id,) = queue(world, 1)
    counts = dispatch(engine, smtp(server), world.tick())
    dead = row(engine, outbox_id)
    assert counts.dead == 1
    assert (dead.status, dead.attempts) == ("dead", 1)
    assert dead.last_error == "permanent: SMTP 554 5.7.1 Message rejected as spam"
    assert dispatch(engine, smtp(server), world.tick(60 * 24)).claimed == 0

    retry_notification(world.session, actor=None, outbox_id=outbox_id, now=world.tick())
    counts = dispatch(engine, smtp(server), world.tick())
    assert counts.sent == 1
    assert row(engine, outbox_id).status == "sent"
    assert len(mailbox.received) == 1


def test_a_retry_only_mails_the_people_still_waiting(world: World, engine: Engine) -> None:
    pm, bo, tl = (
        world.who(C, Role.PROGRAM_MANAGER),
        world.who(C, Role.BUSINESS_OWNER),
        world.who(C, Role.TECHNICAL_LEAD),
    )
    (outbox_id,) = queue(world, 1, user_ids=[pm.user_id, bo.user_id, tl.user_id])
    sender = MemorySender([None, DeliveryError("SMTP 452 mailbox full", transient=True), None])
    counts = dispatch(engine, sender, world.tick())
    assert (counts.emails, counts.retrying) == (2, 1)
    assert [u for u, _ in deliveries(engine, outbox_id)] == [pm.user_id, tl.user_id]
    dispatch(engine, sender, row(engine, outbox_id).next_attempt_at)
    assert sender.recipients() == [[pm.email], [tl.email], [bo.email]]
    assert row(engine, outbox_id).status == "sent"


def test_unusable_rows_are_dead_with_the_reason(world: World, engine: Engine) -> None:
    session = world.session
    session.rollback()
    with command(session) as tx:
        tx.enqueue(
            topic="test.message",
            dedupe_key="bad-spec",
            now=world.now,
            recipients={"user_ids": "everyone"},
            payload={},
        )
        tx.enqueue(
            topic="broken.topic",
            dedupe_key="unrenderable",
            now=world.now,
            recipients={"user_ids": [world.who(C, Role.PROGRAM_MANAGER).user_id]},
            payload={},
        )
        tx.enqueue(
            topic="test.message",
            dedupe_key="nobody",
            now=world.now,
            recipients={"user_ids": []},
            payload={},
        )

    def fussy(message: Outgoing, envelope: Envelope) -> EmailMessage:
        if message.topic == "broken.topic":
            raise KeyError("task")
        return multipart(message, envelope)

    counts = dispatch(engine, MemorySender(), world.tick(), renderer=fussy)
    by_key = {r.dedupe_key: r for r in rows(engine)}
    assert (counts.dead, counts.sent) == (2, 1)
    assert by_key["bad-spec"].status == "dead"
    assert (by_key["bad-spec"].last_error or "").startswith("bad recipients: user_ids")
    assert by_key["unrenderable"].status == "dead"
    assert by_key["unrenderable"].last_error == "permanent: cannot render: KeyError: 'task'"
    assert by_key["nobody"].status == "sent"
    assert by_key["nobody"].last_error == "no active recipients; nothing sent"


# ---- leases and concurrency ------------------------------------------------------------------


def test_a_slow_server_does_not_block_requests(
    world: World, engine: Engine, mailbox: Mailbox, server: int
) -> None:
    mailbox.delay = 1.0  # per message: two take two seconds
    queue(world, 2)
    now = world.tick()
    result: list[DispatchCounts] = []
    worker = threading.Thread(target=lambda: result.append(dispatch(engine, smtp(server), now)))
    worker.start()
    try:
        assert mailbox.in_data.wait(5.0), "the dispatcher never reached DATA"
        started = time.monotonic()
        # Another dispatcher finds nothing: both rows are leased ...
        assert dispatch(engine, MemorySender(), now).claimed == 0
        # ... and a write command goes through while the first is still mid-send.
        with Session(engine, expire_on_commit=False) as other:
            commands.create_organization(other, actor=None, name="Late Arrivals", now=now)
        elapsed = time.monotonic() - started
        assert worker.is_alive()
        assert elapsed < 0.9
    finally:
        worker.join(10.0)
    assert not worker.is_alive()
    assert result[0].sent == 2
    assert len(mailbox.received) == 2


def test_a_dispatcher_stops_starting_sends_when_half_its_lease_is_spent(
    world: World, engine: Engine
) -> None:
    ids = queue(world, 3)
    before = {r.id: r.next_attempt_at for r in rows(engine)}
    sender = MemorySender()
    sender.before_send = lambda _m: time.sleep(0.6)
    policy = RetryPolicy(lease=timedelta(seconds=1))  # no send starts after 0.5 s
    counts = dispatch(engine, sender, world.tick(), policy=policy)
    assert (counts.claimed, counts.sent, counts.released) == (3, 1, 2)
    untried = [row(engine, i) for i in ids[1:]]
    assert [(r.status, r.attempts) for r in untried] == [("pending", 0), ("pending", 0)]
    assert [r.next_attempt_at for r in untried] == [before[i] for i in ids[1:]]


def test_a_dispatcher_whose_lease_ran_out_changes_nothing(world: World, engine: Engine) -> None:
    (outbox_id,) = queue(world, 1)
    now = world.tick()
    short = RetryPolicy(lease=timedelta(seconds=1))
    late = MemorySender()
    first = MemorySender()
    taken_over: list[DispatchCounts] = []

    def meanwhile(_message: EmailMessage) -> None:
        # The first dispatcher stalls past its lease (on the database's clock): a second one,
        # started at the same `now`, takes the row over.
        if not taken_over:
            time.sleep(1.2)
            taken_over.append(dispatch(engine, late, now, policy=short))

    first.before_send = meanwhile
    counts = dispatch(engine, first, now, policy=short)
    assert taken_over[0].sent == 1
    assert counts.lost == 1
    final = row(engine, outbox_id)
    assert (final.status, final.attempts, final.leased_until) == ("sent", 2, None)


def test_a_dispatcher_running_days_ahead_cannot_take_over_a_live_lease(
    world: World, engine: Engine
) -> None:
    """`accord jobs run-once --now` weeks ahead beside live schedulers must not send again
    what they hold: a lease ends by the database's clock, not by the dispatcher's `now`."""
    (outbox_id,) = queue(world, 1)
    now = world.tick()
    first = MemorySender()
    ahead: list[DispatchCounts] = []

    def meanwhile(_message: EmailMessage) -> None:
        if not ahead:
            ahead.append(dispatch(engine, MemorySender(), now + timedelta(days=49)))

    first.before_send = meanwhile
    counts = dispatch(engine, first, now)
    assert ahead[0].claimed == 0
    assert (counts.sent, counts.lost) == (1, 0)
    assert len(first.sent) == 1
    assert row(engine, outbox_id).attempts == 1


def test_a_stopping_dispatcher_finishes_its_email_and_releases_the_rest(
    world: World, engine: Engine
) -> None:
    ids = queue(world, 3)
    stop = threading.Event()
    sender = MemorySender()
    sender.before_send = lambda _m: stop.set()  # the shutdown arrives during the first send
    counts = dispatch_once(
        engine, sender=sender, renderer=multipart, now=world.tick(), policy=POLICY, stop=stop
    )
    assert (counts.claimed, counts.sent, counts.released) == (3, 1, 2)
    untried = [row(engine, i) for i in ids[1:]]
    assert [(r.status, r.attempts, r.leased_until) for r in untried] == [("pending", 0, None)] * 2
    again = dispatch_pending(
        engine, sender=sender, renderer=multipart, now=world.tick(), policy=POLICY, stop=stop
    )
    assert again.claimed == 0  # a stopped process claims nothing more


def test_two_dispatchers_at_once_never_send_a_message_twice(
    world: World, engine: Engine, mailbox: Mailbox, server: int
) -> None:
    count = 60
    mailbox.delay = 0.01  # long enough that neither thread finishes before the other starts
    queue(world, count)
    now = world.tick()
    barrier = threading.Barrier(2, timeout=10)
    totals: list[DispatchCounts] = []
    errors: list[BaseException] = []

    def run() -> None:
        total = DispatchCounts()
        sender = smtp(server)
        try:
            barrier.wait()
            for _ in range(count):  # bounded: each round claims at least one row or stops
                counts = dispatch(engine, sender, now, limit=4)
                total.add(counts)
                if counts.claimed == 0:
                    break
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        totals.append(total)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    ids = mailbox.message_ids()
    assert len(ids) == len(set(ids)) == count
    assert sum(t.sent for t in totals) == count
    assert all(t.claimed > 0 for t in totals), "both dispatchers should have taken a share"
    assert {(r.status, r.attempts) for r in rows(engine)} == {("sent", 1)}


# ---- the daily digest ------------------------------------------------------------------------


def test_digest_users_get_one_email_a_day_with_their_shares(world: World, engine: Engine) -> None:
    pm, bo = world.who(C, Role.PROGRAM_MANAGER), world.who(C, Role.BUSINESS_OWNER)
    set_notification_mode(
        world.session, actor=None, user_id=bo.user_id, mode="digest", now=world.now
    )
    queue(world, 3, user_ids=[pm.user_id, bo.user_id])
    sender = MemorySender()
    counts = dispatch(engine, sender, world.tick())
    assert (counts.emails, counts.digest_shares) == (3, 3)
    assert sender.recipients() == [[pm.email]] * 3

    assert compile_digests(engine, now=world.tick()).digests == 0  # not before the day ends
    next_day = world.now + timedelta(days=1)
    compiled = compile_digests(engine, now=next_day)
    assert (compiled.digests, compiled.items) == (1, 3)
    assert compile_digests(engine, now=next_day + timedelta(hours=1)).digests == 0
    (digest,) = [r for r in rows(engine) if r.topic == DIGEST_TOPIC]
    assert len(digest.payload["items"]) == 3
    assert digest.payload["date"] == world.now.date().isoformat()

    counts = dispatch(
        engine, sender, next_day, renderer=basic_renderer(sender="a@b.c", base_url=BASE_URL)
    )
    assert counts.emails == 1
    assert sender.recipients()[-1] == [bo.email]
    assert sender.sent[-1]["Subject"] == f"[Accord] {DIGEST_TOPIC}"


def test_dispatch_pending_drains_every_batch(world: World, engine: Engine) -> None:
    queue(world, 11)
    sender = MemorySender()
    total = dispatch_pending(
        engine, sender=sender, renderer=multipart, now=world.tick(), limit=3, policy=POLICY
    )
    assert (total.claimed, total.sent) == (11, 11)
    assert len(sender.sent) == 11
    assert sender.closed == 4  # once per batch that claimed something
