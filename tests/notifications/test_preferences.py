"""Who gets what, as they chose per topic group, through a real SMTP server on loopback.

By default the Program Managers hear of decisions at once and everyone else reads them in
the daily digest; task emails always reach their assignee; every email's footer carries a
signed link to manage that group, and every email but a task's the RFC 8058 headers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from notifications import links
from notifications.digest import compile_digests
from notifications.dispatch import dispatch_pending
from notifications.emails import template_renderer, template_summary
from notifications.preferences import TOPIC_GROUP, UNGROUPED, effective_mode, group_of
from notifications.senders import SmtpSender
from notifications.topics import TOPICS
from states import Role
from tests.helpers import C, P, World, make_world
from tests.notifications.smtp import HOST, Mailbox, smtp_server
from workflow.access import Actor
from workflow.commands.notifications import (
    notification_choices,
    set_notification_mode,
    set_notification_preferences,
)
from workflow.errors import Forbidden, InvalidInput
from workflow.models import AuditEvent, NotificationPreference

BASE_URL = "https://accord.test"


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


@pytest.fixture
def post() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    with smtp_server(box) as controller:
        yield box, controller.port


def deliver(world: World, engine: Engine, post: tuple[Mailbox, int]) -> list[EmailMessage]:
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


def next_day_digests(world: World, engine: Engine, post: tuple[Mailbox, int]) -> list[EmailMessage]:
    world.now += timedelta(days=1)
    compile_digests(engine, now=world.now, summarise=template_summary(base_url=BASE_URL))
    return deliver(world, engine, post)


def to(mail: EmailMessage) -> str:
    return str(mail["To"].addresses[0].addr_spec)


def plain(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def html(mail: EmailMessage) -> str:
    body = mail.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def is_task(mail: EmailMessage) -> bool:
    return "/tasks/" in plain(mail)


def choose(world: World, actor: Actor, **choices: str) -> dict[str, str]:
    return set_notification_preferences(
        world.session, actor=actor, user_id=actor.user_id, choices=choices, now=world.tick()
    )


def submit_for_review(world: World) -> None:
    agreement = world.create()
    world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))


def test_every_topic_but_the_digest_belongs_to_one_group() -> None:
    assert set(TOPIC_GROUP) == set(TOPICS) - UNGROUPED
    assert group_of("task.assigned") == "tasks"
    assert group_of("digest.daily") is None
    # A topic added later without a group is mailed like a task rather than lost.
    assert group_of("something.new") == "tasks"


def test_task_emails_are_never_off_however_the_choice_arrives() -> None:
    assert effective_mode("tasks", {"tasks": "off"}, [], broadcast=False) == "immediate"
    assert effective_mode("decisions", {"decisions": "off"}, [], broadcast=True) == "off"
    assert effective_mode("decisions", {}, ["program_manager"], broadcast=True) == "immediate"
    assert effective_mode("decisions", {}, ["technical_sme"], broadcast=True) == "digest"
    assert effective_mode("decisions", {}, ["technical_sme"], broadcast=False) == "immediate"
    assert (
        effective_mode("decisions", {}, ["program_manager"], broadcast=True, overall="digest")
        == "digest"
    )


def test_the_command_and_the_database_refuse_task_emails_off(world: World) -> None:
    sme = world.who(C, Role.TECHNICAL_SME)
    with pytest.raises(InvalidInput) as refused:
        choose(world, sme, tasks="off", decisions="off")
    assert [e["field"] for e in refused.value.errors] == ["tasks"]
    assert "cannot be switched off while the task is yours" in refused.value.errors[0]["message"]
    assert notification_choices(world.session, sme.user_id)["decisions"] == "default"
    with pytest.raises(InvalidInput):
        choose(world, sme, weekly="digest")
    with pytest.raises(Forbidden):
        set_notification_preferences(
            world.session,
            actor=sme,
            user_id=world.who(C, Role.PROGRAM_MANAGER).user_id,
            choices={"decisions": "off"},
            now=world.tick(),
        )
    world.session.add(NotificationPreference(user_id=sme.user_id, topic_group="tasks", mode="off"))
    with pytest.raises(sa.exc.IntegrityError):
        world.session.commit()
    world.session.rollback()


def test_choices_are_stored_audited_once_and_reset_to_the_default(world: World) -> None:
    sme = world.who(P, Role.TECHNICAL_SME)
    assert choose(world, sme, decisions="off", tasks="digest") == {
        "tasks": "digest",
        "decisions": "off",
        "reports": "default",
        "governance": "default",
    }
    choose(world, sme, decisions="off")  # the same again: nothing to record
    assert choose(world, sme, tasks="default")["tasks"] == "default"
    rows = world.session.exec(
        select(NotificationPreference.topic_group).where(
            NotificationPreference.user_id == sme.user_id
        )
    ).all()
    assert rows == ["decisions"]
    events = world.session.exec(
        select(AuditEvent.body).where(AuditEvent.action == "user.notification_preferences_changed")
    ).all()
    assert len(events) == 2
    assert json.loads(events[0])["data"]["changes"] == {
        "tasks": {"from": "default", "to": "digest"},
        "decisions": {"from": "default", "to": "off"},
    }


def test_by_default_decisions_reach_the_program_managers_now_and_the_rest_in_the_digest(
    world: World, engine: Engine, post: tuple[Mailbox, int]
) -> None:
    submit_for_review(world)
    sent = deliver(world, engine, post)
    reviewers = {world.who(C, Role.FUNCTIONAL_LEAD).email, world.who(P, Role.TECHNICAL_LEAD).email}
    managers = {world.who(side, Role.PROGRAM_MANAGER).email for side in (C, P)}
    assert {to(m) for m in sent if is_task(m)} == reviewers
    assert sorted(to(m) for m in sent if not is_task(m)) == sorted(managers)

    digests = next_day_digests(world, engine, post)
    everyone = {a.email for a in world.parties.actors.values()}
    assert sorted(to(m) for m in digests) == sorted(everyone - managers)
    assert all("Joint review" in plain(m) for m in digests)


def test_an_unsubscribed_digest_user_gets_no_decision_emails_but_still_gets_their_tasks(
    world: World, engine: Engine, post: tuple[Mailbox, int]
) -> None:
    lead = world.who(C, Role.FUNCTIONAL_LEAD)  # a reviewer of every draft
    set_notification_mode(
        world.session, actor=lead, user_id=lead.user_id, mode="digest", now=world.tick()
    )
    choose(world, lead, decisions="off")
    submit_for_review(world)
    assert lead.email not in {to(m) for m in deliver(world, engine, post)}

    (digest,) = [m for m in next_day_digests(world, engine, post) if to(m) == lead.email]
    text = plain(digest)
    assert "Review the draft" in text  # the task, in the digest they chose
    assert "Joint review" not in text  # the decision, switched off
    assert "1 update" in str(digest["Subject"])
    # The digest has no group: its footer leads to the Notifications page, without one-click.
    assert f"or stop these: {BASE_URL}/notifications\r\n" in plain(digest)
    assert digest["List-Unsubscribe"] is None


def test_an_unsubscribed_immediate_user_still_gets_their_task_emails_at_once(
    world: World, engine: Engine, post: tuple[Mailbox, int]
) -> None:
    tl = world.who(P, Role.TECHNICAL_LEAD)
    choose(world, tl, decisions="off")
    submit_for_review(world)
    mine = [m for m in deliver(world, engine, post) if to(m) == tl.email]
    assert len(mine) == 1
    assert is_task(mine[0])
    assert tl.email not in {to(m) for m in next_day_digests(world, engine, post)}


def test_footers_link_to_manage_and_only_non_task_emails_carry_one_click_headers(
    world: World, engine: Engine, post: tuple[Mailbox, int]
) -> None:
    submit_for_review(world)
    sent = deliver(world, engine, post)
    with Session(engine) as session:
        key = links.read_link_key(session)
    for mail in sent:
        user_id = next(a.user_id for a in world.parties.actors.values() if a.email == to(mail))
        group = "tasks" if is_task(mail) else "decisions"
        token = links.make_token(key or "", user_id, group)
        manage = f"{BASE_URL}/notifications/manage/{token}"
        assert manage in plain(mail)
        assert f'href="{manage}"' in html(mail)
        if group == "tasks":
            assert mail["List-Unsubscribe"] is None
            assert mail["List-Unsubscribe-Post"] is None
        else:
            assert mail["List-Unsubscribe"] == f"<{BASE_URL}/notifications/unsubscribe/{token}>"
            assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert {is_task(m) for m in sent} == {True, False}


def test_a_link_token_is_bound_to_its_person_and_group(world: World, engine: Engine) -> None:
    key = links.link_key(engine)
    assert links.link_key(engine) == key  # made once, then read
    token = links.make_token(key, 7, "decisions")
    assert links.check_token(key, token) == links.LinkTarget(7, "decisions")
    user, group, mac = token.split(".")
    assert links.check_token(key, f"8.{group}.{mac}") is None
    assert links.check_token(key, f"{user}.reports.{mac}") is None
    altered = ("B" if mac[0] == "A" else "A") + mac[1:]
    assert links.check_token(key, f"{user}.{group}.{altered}") is None
    assert links.check_token("another key", token) is None
    assert links.check_token(None, token) is None
    assert links.check_token(key, "7.digest." + mac) is None
