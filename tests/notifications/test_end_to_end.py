"""A whole lifecycle, the real templates, a real SMTP server on loopback: who hears what."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from notifications.dispatch import dispatch_pending
from notifications.emails import template_renderer
from notifications.senders import SmtpSender
from states import Role
from tests.helpers import C, P, World, make_world
from tests.notifications.smtp import HOST, Mailbox, smtp_server
from tests.workflow.commands.test_periods import DEC_1, NOVEMBER, assert_no_html
from tests.workflow.test_compliance_sql import store
from workflow import commands
from workflow.corrective_plan import Plan, PlannedAction
from workflow.models import CorrectiveAction, NotificationDelivery, OutboxMessage, User

BASE_URL = "http://accord.test"


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


@pytest.fixture
def post() -> Iterator[tuple[Mailbox, int]]:
    """The mailbox of an SMTP server on loopback, and its port."""
    box = Mailbox()
    with smtp_server(box) as controller:
        yield box, controller.port


def deliver(world: World, engine: Engine, post: tuple[Mailbox, int]) -> list[EmailMessage]:
    """Send everything due now; return just what arrived in this round."""
    mailbox, port = post
    before = len(mailbox.received)
    counts = dispatch_pending(
        engine,
        sender=SmtpSender(HOST, port, timeout=5.0),
        renderer=template_renderer(sender="Accord <accord@accord.test>", base_url=BASE_URL),
        now=world.tick(),
    )
    assert (counts.dead, counts.retrying) == (0, 0)
    return mailbox.messages()[before:]


def digest_shares(engine: Engine, topic: str) -> set[str]:
    """Who has a share of the topic's message waiting for their daily digest."""
    with Session(engine) as session:
        return set(
            session.exec(
                select(User.email)
                .join(NotificationDelivery, col(NotificationDelivery.user_id) == col(User.id))
                .join(OutboxMessage, col(OutboxMessage.id) == col(NotificationDelivery.outbox_id))
                .where(OutboxMessage.topic == topic, NotificationDelivery.channel == "digest")
            )
        )


def to(mail: EmailMessage) -> str:
    return str(mail["To"].addresses[0].addr_spec)


def test_every_step_of_a_lifecycle_mails_the_right_people(
    world: World, engine: Engine, post: tuple[Mailbox, int]
) -> None:
    everyone = {a.email for a in world.parties.actors.values()}
    managers = {world.who(side, Role.PROGRAM_MANAGER).email for side in (C, P)}
    agreement = world.create()
    world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))

    sent = deliver(world, engine, post)
    reviewers = {world.who(C, Role.FUNCTIONAL_LEAD).email, world.who(P, Role.TECHNICAL_LEAD).email}
    tasks = [m for m in sent if "/tasks/" in m.get_body(("plain",)).get_content()]  # type: ignore[union-attr]
    assert {to(m) for m in tasks} == reviewers
    broadcast = [m for m in sent if m not in tasks]
    # The Program Managers run the agreement and hear at once; everyone else reads it in
    # their daily digest (notifications/preferences.py).
    assert Counter(to(m) for m in broadcast) == Counter(managers)
    assert digest_shares(engine, "review.requested") == everyone - managers
    for mail in sent:
        plain = mail.get_body(("plain",))
        html = mail.get_body(("html",))
        assert plain is not None
        assert html is not None
        assert f"{BASE_URL}/" in plain.get_content()
        assert agreement.key in str(mail["Subject"]) or agreement.key in plain.get_content()

    world.complete_all(agreement, "review", "accepted")
    world.resolve_all_gaps(agreement)
    for kind in ("confirm_requirements", "confirm_capabilities", "lcce_review"):
        world.complete_all(agreement, kind, "done")
    world.fire(agreement, "submit_for_approval", world.who(P, Role.PROGRAM_MANAGER))
    deliver(world, engine, post)

    world.complete_all(agreement, "approval", "approved")
    sent = deliver(world, engine, post)
    activated = [m for m in sent if "is in force" in str(m["Subject"])]
    assert Counter(to(m) for m in activated) == Counter(managers)
    assert digest_shares(engine, "version.activated") == everyone - managers
    ids = post[0].message_ids()
    assert len(ids) == len(set(ids)), "no email twice"


def test_a_final_report_is_rendered_when_sent_with_its_grid_and_trend(
    world: World, engine: Engine, post: tuple[Mailbox, int]
) -> None:
    agreement = world.create()
    world.to_active(agreement)
    assert agreement.id is not None
    store(world.session, agreement.id, NOVEMBER)
    world.now = DEC_1
    commands.open_due_periods(world.session, now=DEC_1)
    for event, side, role in (
        ("submit", P, Role.PROGRAM_MANAGER),
        ("accept", C, Role.FUNCTIONAL_LEAD),
    ):
        commands.fire_period_event(
            world.session,
            actor=world.who(side, role),
            agreement_id=agreement.id,
            period="2026-11",
            event=event,
            now=world.tick(),
        )
    row = world.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "period.final")
    ).one()
    assert_no_html(row.payload)  # the row holds data; the HTML is made below, when sent

    sent = [m for m in deliver(world, engine, post) if "Final report for 2026-11" in m["Subject"]]
    # Reports reach the Program Managers, PMO Leads and Functional Leads at once; the others
    # read them in their digest.
    readers = {Role.PROGRAM_MANAGER, Role.PMO_LEAD, Role.FUNCTIONAL_LEAD}
    at_once = {a.email for (_, role), a in world.parties.actors.items() if role in readers}
    everyone = {a.email for a in world.parties.actors.values()}
    assert Counter(to(m) for m in sent) == Counter(at_once)
    assert digest_shares(engine, "period.final") == everyone - at_once
    plain, html = sent[0].get_body(("plain",)), sent[0].get_body(("html",))
    assert plain is not None
    assert html is not None
    # The metric by its name, its figures as the pages write them.
    assert (
        "Commercial invoices paid within 30 calendar days after receipt 2026-11: missed "
        "(actual 97.00%, target 98.0%)" in " ".join(plain.get_content().split())
    )
    page = html.get_content()
    assert page.count("<body") == 1  # the report is a fragment inside the email's layout
    assert f"{agreement.key}: results of 2026-11" in page
    grid = page.split(">Status by window<")[1].split(">Trends<")[0]
    assert "Commercial invoices paid within 30 calendar days" in grid
    assert "Pay and leave" not in grid  # quarterly: not reported in this period
    # The charts show the six months up to the period, the grid only the period.
    assert "2026-06-01 to 2026-11-30, as recorded when this report was made." in page


def test_a_corrective_action_plan_reaches_both_program_managers(
    world: World, engine: Engine, post: tuple[Mailbox, int]
) -> None:
    agreement = world.create()
    world.to_active(agreement)
    assert agreement.id is not None
    store(world.session, agreement.id, NOVEMBER)
    world.now = DEC_1
    commands.open_due_periods(world.session, now=DEC_1)
    for event, side, role in (
        ("submit", P, Role.PROGRAM_MANAGER),
        ("accept", C, Role.FUNCTIONAL_LEAD),
    ):
        commands.fire_period_event(
            world.session,
            actor=world.who(side, role),
            agreement_id=agreement.id,
            period="2026-11",
            event=event,
            now=world.tick(),
        )
    deliver(world, engine, post)
    action = world.session.exec(
        select(CorrectiveAction).where(CorrectiveAction.metric_key == "invoice-payment-timeliness")
    ).one()
    assert action.id is not None
    due = DEC_1.date() + timedelta(days=10)
    pm = world.who(P, Role.PROGRAM_MANAGER)
    commands.fire_corrective_action_event(
        world.session,
        actor=pm,
        action_id=action.id,
        event="submit_plan",
        now=world.tick(),
        plan=Plan("Batch job down", (PlannedAction("Monitor the batch", pm.user_id, due),), due),
    )
    sent = deliver(world, engine, post)
    plans = [m for m in sent if "submitted a corrective action plan" in str(m["Subject"])]
    managers = {world.who(side, Role.PROGRAM_MANAGER).email for side in (C, P)}
    assert Counter(to(m) for m in plans) == Counter(managers)
    plain = plans[0].get_body(("plain",))
    assert plain is not None
    assert "Monitor the batch" in plain.get_content()
    assert f"{BASE_URL}/corrective-actions/{action.id}" in plain.get_content()
    review = [m for m in sent if m not in plans]
    assert [to(m) for m in review] == [world.who(C, Role.PROGRAM_MANAGER).email]  # its task
