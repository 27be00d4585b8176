"""Account pages over HTTP with real email (loopback SMTP): an invitation's link sets the
password once, "forgot password" mails a reset link without revealing who has an account,
an expired link is refused, and people change their own password."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from api.app import create_app
from notifications.dispatch import dispatch_once
from notifications.emails import template_renderer
from notifications.senders import SmtpSender
from states import Role
from tests.api.pages.conftest import CSRF_FIELD, PASSWORD, Client
from tests.helpers import C, World
from tests.notifications.smtp import HOST, Mailbox, smtp_server
from workflow import commands
from workflow.commands.accounts import RESET_LIFETIME
from workflow.commands.sign_in import set_passwords
from workflow.models import OutboxMessage

BASE = "http://127.0.0.1"
LINK = re.compile(re.escape(BASE) + r"/account/links/([\w-]+)")
NEW = "a brand new passphrase"


@pytest.fixture
def post() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    with smtp_server(box) as controller:
        yield box, controller.port


@pytest.fixture
def admin_email(world: World) -> str:
    admin = commands.create_user(
        world.session,
        actor=None,
        email="ada@accord.example",
        name="Ada Admin",
        organization_id=world.parties.provider_org_id,
        is_admin=True,
        now=world.tick(),
    )
    set_passwords(
        world.session, actor=None, emails=[admin.email], password=PASSWORD, now=world.tick()
    )
    return admin.email


@pytest.fixture
def visitor(world: World, engine: Engine) -> Iterator[TestClient]:
    """A browser with no session."""
    with TestClient(create_app(engine, clock=lambda: world.now), base_url=BASE) as client:
        yield client


def deliver(world: World, engine: Engine, post: tuple[Mailbox, int]) -> list[EmailMessage]:
    box, port = post
    before = len(box.messages())
    counts = dispatch_once(
        engine,
        sender=SmtpSender(HOST, port, timeout=5.0, local_hostname="client.accord.test"),
        renderer=template_renderer(sender="Accord <accord@accord.test>", base_url=BASE),
        now=world.tick(),
    )
    assert (counts.dead, counts.retrying) == (0, 0), counts
    return box.messages()[before:]


def _csrf(client: TestClient, path: str) -> str:
    match = CSRF_FIELD.search(client.get(path).text)
    assert match is not None
    return match[1]


def _link_in(mail: EmailMessage) -> str:
    plain = mail.get_body(("plain",))
    assert plain is not None
    found = LINK.search(plain.get_content())
    assert found is not None, plain.get_content()
    return f"/account/links/{found[1]}"


def _signs_in(client: TestClient, email: str, password: str) -> bool:
    answer = client.post(
        "/signin",
        data={"email": email, "password": password, "csrf_token": _csrf(client, "/signin")},
        follow_redirects=False,
    )
    return answer.status_code == 303


def test_an_invited_person_chooses_their_password_through_the_emailed_link_once(
    world: World,
    engine: Engine,
    signed_in: Client,
    admin_email: str,
    visitor: TestClient,
    post: tuple[Mailbox, int],
) -> None:
    admin = signed_in(admin_email)
    created = admin.post(
        "/admin/users",
        data={
            "email": "nia@customer.example",
            "name": "Nia Newcomer",
            "organization_id": str(world.parties.customer_org_id),
            "role": "member",
            "invite": "true",
            "csrf_token": _csrf(admin, "/admin/users"),
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    (mail,) = deliver(world, engine, post)
    assert str(mail["To"]) == "Nia Newcomer <nia@customer.example>"
    assert "invited" in str(mail["Subject"])
    assert mail["List-Unsubscribe"] is None  # nobody chooses not to receive their invitation
    link = _link_in(mail)

    form = visitor.get(link)
    assert form.status_code == 200
    assert "nia@customer.example" in form.text
    assert form.headers["referrer-policy"] == "no-referrer"
    token = CSRF_FIELD.search(form.text)
    assert token is not None
    differ = visitor.post(
        link, data={"password": NEW, "confirm": NEW + "x", "csrf_token": token[1]}
    )
    assert differ.status_code == 422
    chosen = visitor.post(
        link,
        data={"password": NEW, "confirm": NEW, "csrf_token": token[1]},
        follow_redirects=False,
    )
    assert chosen.status_code == 303
    assert chosen.headers["location"].startswith("/signin?email=nia%40customer.example")
    assert _signs_in(visitor, "nia@customer.example", NEW)

    again = visitor.get(link)
    assert again.status_code == 410
    assert "already used" in again.text
    reused = visitor.post(
        link,
        data={
            "password": "another passphrase",
            "confirm": "another passphrase",
            "csrf_token": _csrf(visitor, "/signin"),
        },
    )
    assert reused.status_code == 410


def test_forgot_password_answers_alike_and_mails_only_real_accounts(
    world: World, engine: Engine, visitor: TestClient, post: tuple[Mailbox, int]
) -> None:
    pages = []
    for email in ("nobody@nowhere.example", world.who(C, Role.BUSINESS_OWNER).email):
        answer = visitor.post(
            "/password/forgot",
            data={"email": email, "csrf_token": _csrf(visitor, "/password/forgot")},
        )
        assert answer.status_code == 200
        pages.append(answer.text.replace(email, "EMAIL"))
    assert pages[0] == pages[1]  # the same page whether or not the account exists
    sent = deliver(world, engine, post)
    assert [str(m["To"]) for m in sent] == [
        f"{world.who(C, Role.BUSINESS_OWNER).name} <{world.who(C, Role.BUSINESS_OWNER).email}>"
    ]
    link = _link_in(sent[0])
    world.now += RESET_LIFETIME + timedelta(minutes=1)
    expired = visitor.get(link)
    assert expired.status_code == 410
    assert "expired" in expired.text
    assert _signs_in(visitor, world.who(C, Role.BUSINESS_OWNER).email, PASSWORD)


def test_the_sign_in_page_offers_forgot_password(visitor: TestClient) -> None:
    page = visitor.get("/signin", params={"email": "x@y.example"})
    assert 'href="/password/forgot?email=x%40y.example"' in page.text
    assert 'value="x@y.example"' in page.text


def test_people_change_their_own_password(
    world: World, signed_in: Client, visitor: TestClient
) -> None:
    owner = world.who(C, Role.BUSINESS_OWNER)
    client = signed_in(owner.email)
    assert 'href="/account/password"' in client.get("/settings").text
    token = _csrf(client, "/account/password")
    wrong = client.post(
        "/account/password",
        data={"current_password": "nope", "new_password": NEW, "confirm": NEW, "csrf_token": token},
    )
    assert wrong.status_code == 422
    assert "is not your current password" in wrong.text
    done = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW,
            "confirm": NEW,
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert client.get("/settings").status_code == 200  # this browser stays signed in
    assert not _signs_in(visitor, owner.email, PASSWORD)
    assert _signs_in(visitor, owner.email, NEW)


def test_the_outbox_shows_recipient_subject_agreement_and_a_preview_without_the_link(
    world: World, signed_in: Client, admin_email: str
) -> None:
    agreement = world.create()
    world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    admin = signed_in(admin_email)
    admin.post(
        "/admin/users",
        data={
            "email": "nia@customer.example",
            "name": "Nia Newcomer",
            "organization_id": str(world.parties.customer_org_id),
            "invite": "true",
            "csrf_token": _csrf(admin, "/admin/users"),
        },
    )
    listing = admin.get("/admin/notifications")
    assert listing.status_code == 200
    assert f'<a href="/slas/{agreement.id}">{agreement.key}</a>' in listing.text
    assert "You are invited to Accord" in listing.text
    assert "Nia Newcomer" in listing.text
    invitation = world.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "account.invitation")
    ).one()
    token = str(invitation.payload["token"])
    detail = admin.get(f"/admin/notifications/{invitation.id}")
    assert detail.status_code == 200
    assert "Nia Newcomer &lt;nia@customer.example&gt;" in detail.text
    assert "link-hidden-in-preview" in detail.text
    assert token not in detail.text
    preview = admin.get(f"/admin/notifications/{invitation.id}/preview.html")
    assert preview.status_code == 200
    assert token not in preview.text
    assert "Choose your password" in preview.text


def test_an_admin_changes_roles_disables_resends_links_and_gives_tokens_an_expiry(
    world: World, signed_in: Client, admin_email: str
) -> None:
    admin = signed_in(admin_email)
    created = admin.post(
        "/admin/users",
        data={
            "email": "otto@customer.example",
            "name": "Otto Other",
            "organization_id": str(world.parties.customer_org_id),
            "role": "member",
            "csrf_token": _csrf(admin, "/admin/users"),
        },
        follow_redirects=False,
    )
    page = created.headers["location"]
    token = _csrf(admin, page)
    changed = admin.post(f"{page}/role", data={"role": "auditor", "csrf_token": token})
    assert "Otto Other is now: Auditor of their organisation." in changed.text
    assert "auditor of their organisation" in admin.get(page).text
    sent = admin.post(f"{page}/invitation", data={"csrf_token": token})
    assert "is sent an invitation" in sent.text
    made = admin.post(
        f"{page}/tokens", data={"name": "ci", "expires_on": "2027-01-31", "csrf_token": token}
    )
    assert made.status_code == 201
    assert (
        'It is refused from <time datetime="2027-01-31T05:00:00+00:00">'
        "Sun 31 Jan 2027, 00:00 EST</time>" in made.text
    )
    bad = admin.post(
        f"{page}/tokens", data={"name": "ci", "expires_on": "2020-01-01", "csrf_token": token}
    )
    assert bad.status_code == 422
    assert "must be in the future" in bad.text
    tokens = admin.get("/admin/tokens").text
    assert "Sun 31 Jan 2027, 00:00 EST" in tokens
    assert "never" in tokens  # not used yet
    off = admin.post(f"{page}/active", data={"active": "false", "csrf_token": token})
    assert "Otto Other is disabled" in off.text
    refused = admin.post(f"{page}/invitation", data={"csrf_token": token})
    assert refused.status_code == 409
    acts = admin.get("/audit", params={"agreement": "admin"}).text
    assert "Ada Admin made Otto Other an auditor of their organisation (was a member)" in acts
    assert "Ada Admin disabled the account of Otto Other" in acts
    assert "Ada Admin invited Otto Other by email" in acts
