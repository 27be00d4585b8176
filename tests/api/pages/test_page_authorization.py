"""Who may look at which page: every HTML page read (GET) for five kinds of visitor.

api.md: pages "never expose more than the API would to that user". So, as in
tests/api/test_authorization_matrix.py, each page has an entry in PAGES, keyed by its path
template, with the status expected for:

    no session, an ended session (signed out), a stranger (organisation party to nothing
    here), a party user without the needed role, and the right person (or an administrator)

No session sends the visitor to the sign-in form (303); a stranger gets 404 for an agreement's
page and 403 for an administrator's; a page added without an entry fails
`test_every_page_has_an_entry`. Every form (POST) has an entry in FORMS for the first three
visitors: without a session nothing gets through, and a stranger learns and changes nothing.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.app import create_app
from states import Role
from tests.api.pages.conftest import CSRF_FIELD, PASSWORD
from tests.api.route_world import (
    ADMIN,
    ANONYMOUS,
    BYSTANDER,
    DEC_1,
    PERIOD,
    STRANGER,
    C,
    P,
    Persona,
    RouteWorld,
    Target,
    populate,
)
from tests.conftest import _truncate_all
from tests.helpers import make_world
from workflow.commands.calendar_jobs import run_calendar
from workflow.commands.extensions import request_extension
from workflow.commands.sign_in import set_passwords
from workflow.db import make_engine
from workflow.models import CorrectiveAction, ServiceReview, Task

SIGNED_OUT = "signed out"
PM, BO, FL = Role.PROGRAM_MANAGER, Role.BUSINESS_OWNER, Role.FUNCTIONAL_LEAD
Build = Callable[[RouteWorld], Target]
Fill = Callable[[RouteWorld, Target], dict[str, Any]]


@dataclass(frozen=True)
class Page:
    target: Build
    fill: Fill
    lacking: Persona
    allowed: Persona
    # no session, signed out, stranger, lacking, allowed
    statuses: tuple[int, int, int, int, int]
    # What the right person is offered and the one lacking the role must not be (a form).
    offered: str | None = None


def nothing(_rw: RouteWorld) -> Target:
    return Target(0)


def draft(rw: RouteWorld) -> Target:
    return rw.draft()


def gap_analysis(rw: RouteWorld) -> Target:
    return rw.gap_analysis()


def approval_task(rw: RouteWorld) -> Target:
    """The customer Business Owner's open approval task."""
    target = rw.approval()
    rw.session.rollback()
    target.task_id = rw.session.exec(
        select(Task.id).where(
            Task.agreement_id == target.sla_id,
            Task.kind == "approval",
            Task.state == "open",
            Task.side == "customer",
            Task.role == "business_owner",
        )
    ).one()
    rw.session.rollback()
    return target


def reporting(rw: RouteWorld) -> Target:
    return rw.period("open")


def submitted(rw: RouteWorld) -> Target:
    """A period with results (an open one has none to download)."""
    return rw.period("submitted")


def proposal(rw: RouteWorld) -> Target:
    """The provider's excusal, proposed to the customer."""
    return rw.proposal()


def corrective(rw: RouteWorld) -> Target:
    """A final period's open corrective action (the provider's invoice-payment-timeliness)."""
    target = rw.period("final")
    rw.session.rollback()
    action_id = rw.session.exec(
        select(CorrectiveAction.id).where(
            CorrectiveAction.agreement_id == target.sla_id,
            CorrectiveAction.metric_key == "invoice-payment-timeliness",
        )
    ).one()
    rw.session.rollback()
    assert action_id is not None
    target.ids["action"] = action_id
    return target


def token(rw: RouteWorld) -> Target:
    return rw.throwaway_token()


def dead_notification(rw: RouteWorld) -> Target:
    return rw.dead_notification()


def review_open(rw: RouteWorld) -> Target:
    """An active agreement whose 2026 Q4 service review opened (1 January 2027)."""
    target = rw.active()
    run_calendar(rw.session, now=datetime(2027, 1, 1, 15, tzinfo=UTC))
    review = rw.session.exec(
        select(ServiceReview).where(ServiceReview.agreement_id == target.sla_id)
    ).one()
    target.ids["review_id"] = review.id or 0
    rw.session.rollback()
    return target


def extension_asked(rw: RouteWorld) -> Target:
    """An active agreement whose provider Program Manager asked to extend it."""
    target = rw.active()
    extension = request_extension(
        rw.session,
        actor=rw.driver.who(P, PM),
        agreement_id=target.sla_id,
        new_end_date=date(2028, 3, 31),
        reason="successor contract",
        now=DEC_1,
    )
    target.ids["extension_id"] = extension.id or 0
    return target


def review(_rw: RouteWorld, t: Target) -> dict[str, Any]:
    return {"agreement_id": t.sla_id, "review_id": t.ids["review_id"]}


def extension(_rw: RouteWorld, t: Target) -> dict[str, Any]:
    return {"agreement_id": t.sla_id, "extension_id": t.ids["extension_id"]}


def bare(_rw: RouteWorld, _t: Target) -> dict[str, Any]:
    return {}


def agreement(_rw: RouteWorld, t: Target) -> dict[str, Any]:
    return {"agreement_id": t.sla_id}


def version(_rw: RouteWorld, t: Target) -> dict[str, Any]:
    return {"agreement_id": t.sla_id, "number": t.number}


def period(_rw: RouteWorld, t: Target) -> dict[str, Any]:
    return {"agreement_id": t.sla_id, "period": PERIOD}


def metric(_rw: RouteWorld, t: Target) -> dict[str, Any]:
    return {"agreement_id": t.sla_id, "number": t.number, "key": "proper-payments"}


def corrective_action(_rw: RouteWorld, t: Target) -> dict[str, Any]:
    return {"action_id": t.ids["action"]}


def task(_rw: RouteWorld, t: Target) -> dict[str, Any]:
    return {"task_id": t.task_id}


def proposal_id(_rw: RouteWorld, t: Target) -> dict[str, Any]:
    return {"proposal_id": t.ids["proposal_id"]}


def user(rw: RouteWorld, _t: Target) -> dict[str, Any]:
    return {"user_id": rw.user_id(BYSTANDER)}


def token_id(_rw: RouteWorld, t: Target) -> dict[str, Any]:
    return {"token_id": t.ids["token_id"]}


def notification(_rw: RouteWorld, t: Target) -> dict[str, Any]:
    return {"notification_id": t.ids["notification_id"]}


SIGNED_IN_ANYONE = (303, 303, 200, 200, 200)
SCOPED = (303, 303, 404, 200, 200)  # any user of a party organisation may read
ADMIN_ONLY = (303, 303, 403, 403, 200)

PAGES: dict[str, Page] = {
    # Home sends approvers to their queue and everyone else to their tasks.
    "/": Page(nothing, bare, BYSTANDER, (C, PM), (303, 303, 303, 303, 303)),
    "/settings": Page(nothing, bare, BYSTANDER, (C, PM), SIGNED_IN_ANYONE),
    "/account/password": Page(nothing, bare, BYSTANDER, (C, PM), SIGNED_IN_ANYONE),
    "/notifications": Page(nothing, bare, BYSTANDER, (C, PM), SIGNED_IN_ANYONE),
    "/tasks": Page(nothing, bare, BYSTANDER, (C, PM), SIGNED_IN_ANYONE),
    "/approvals": Page(nothing, bare, BYSTANDER, (C, BO), SIGNED_IN_ANYONE),
    "/slas": Page(nothing, bare, BYSTANDER, (C, PM), SIGNED_IN_ANYONE),
    "/audit": Page(nothing, bare, BYSTANDER, (C, PM), SIGNED_IN_ANYONE),
    # Someone else's approval is shown read-only, as GET /api/v1/tasks/{id} shows it.
    "/approvals/{task_id}": Page(
        approval_task, task, (C, PM), (C, BO), SCOPED, offered='name="outcome"'
    ),
    # A proposal is read by any party user; the decision is offered to the other side only,
    # never to its proposer (here the provider's Program Manager).
    "/proposals/{proposal_id}": Page(
        proposal, proposal_id, (P, PM), (C, PM), SCOPED, offered='name="outcome"'
    ),
    # An email's task link: a redirect to where the task is done, for any party user.
    "/tasks/{task_id}": Page(approval_task, task, BYSTANDER, (C, BO), (303, 303, 404, 303, 303)),
    "/slas/{agreement_id}": Page(draft, agreement, BYSTANDER, (C, PM), SCOPED),
    "/slas/{agreement_id}/versions/{number}": Page(draft, version, BYSTANDER, (C, PM), SCOPED),
    "/slas/{agreement_id}/versions/{number}/diff": Page(draft, version, BYSTANDER, (C, PM), SCOPED),
    "/slas/{agreement_id}/versions/{number}/export.yaml": Page(
        draft, version, BYSTANDER, (C, PM), SCOPED
    ),
    "/slas/{agreement_id}/versions/{number}/evidence.json": Page(
        draft, version, BYSTANDER, (C, PM), SCOPED
    ),
    "/slas/{agreement_id}/versions/{number}/evidence.csv": Page(
        draft, version, BYSTANDER, (C, PM), SCOPED
    ),
    "/slas/{agreement_id}/versions/{number}/certificate.html": Page(
        draft, version, BYSTANDER, (C, PM), SCOPED
    ),
    "/slas/{agreement_id}/versions/{number}/gaps": Page(
        gap_analysis, version, BYSTANDER, (C, PM), SCOPED
    ),
    # The draft's content is readable by any party user (as over the API); saving is refused
    # to one without a role (403), which the drafts page tests cover.
    "/slas/{agreement_id}/versions/{number}/edit": Page(draft, version, BYSTANDER, (C, PM), SCOPED),
    "/slas/{agreement_id}/versions/{number}/edit/metrics/{key}/remove": Page(
        draft, metric, BYSTANDER, (C, PM), SCOPED
    ),
    "/slas/{agreement_id}/periods": Page(reporting, agreement, BYSTANDER, (C, PM), SCOPED),
    "/slas/{agreement_id}/periods/{period}": Page(reporting, period, BYSTANDER, (C, PM), SCOPED),
    "/slas/{agreement_id}/periods/{period}.csv": Page(
        submitted, period, BYSTANDER, (C, PM), SCOPED
    ),
    "/slas/{agreement_id}/service-reviews": Page(
        review_open, agreement, BYSTANDER, (C, PM), SCOPED
    ),
    # Only a Program Manager holding the review is offered the minutes form.
    "/slas/{agreement_id}/service-reviews/{review_id}": Page(
        review_open, review, (C, BO), (C, PM), SCOPED, offered='name="attendees"'
    ),
    "/slas/{agreement_id}/extensions/new": Page(
        review_open, agreement, (C, BO), (P, PM), SCOPED, offered='name="new_end_date"'
    ),
    "/slas/{agreement_id}/extensions/{extension_id}": Page(
        extension_asked, extension, (C, PM), (C, BO), SCOPED, offered='value="approved"'
    ),
    # Any party user reads it; only the owner side's Program Manager is offered the plan form.
    "/corrective-actions/{action_id}": Page(
        corrective, corrective_action, (C, PM), (P, PM), SCOPED, offered='id="plan-form"'
    ),
    "/admin": Page(nothing, bare, (C, PM), ADMIN, ADMIN_ONLY),
    "/admin/organizations": Page(nothing, bare, (C, PM), ADMIN, ADMIN_ONLY),
    "/admin/users": Page(nothing, bare, (C, PM), ADMIN, ADMIN_ONLY),
    "/admin/users/{user_id}": Page(nothing, user, (C, PM), ADMIN, ADMIN_ONLY),
    "/admin/tokens": Page(nothing, bare, (C, PM), ADMIN, ADMIN_ONLY),
    "/admin/tokens/{token_id}/revoke": Page(token, token_id, (C, PM), ADMIN, ADMIN_ONLY),
    "/admin/delegations": Page(nothing, bare, (C, PM), ADMIN, ADMIN_ONLY),
    "/admin/notifications": Page(nothing, bare, (C, PM), ADMIN, ADMIN_ONLY),
    "/admin/notifications/{notification_id}/retry": Page(
        dead_notification, notification, (C, PM), ADMIN, ADMIN_ONLY
    ),
    "/admin/notifications/{notification_id}": Page(
        dead_notification, notification, (C, PM), ADMIN, ADMIN_ONLY
    ),
    "/admin/notifications/{notification_id}/preview.html": Page(
        dead_notification, notification, (C, PM), ADMIN, ADMIN_ONLY
    ),
}


@dataclass(frozen=True)
class Form:
    """A form's target and fields; the statuses for no session, signed out and a stranger."""

    target: Build
    fill: Fill
    fields: Callable[[Target], dict[str, str]]
    statuses: tuple[int, int, int]


def no_fields(_t: Target) -> dict[str, str]:
    return {}


def lock(t: Target) -> dict[str, str]:
    return {"lock_version": str(t.lock_version)}


def joint_review(rw: RouteWorld) -> Target:
    return rw.joint_review()


def active(rw: RouteWorld) -> Target:
    return rw.active()


def final(rw: RouteWorld) -> Target:
    return rw.period("final")


def event(_rw: RouteWorld, t: Target) -> dict[str, Any]:
    return {"agreement_id": t.sla_id, "number": t.number, "event": "withdraw"}


def period_event(_rw: RouteWorld, t: Target) -> dict[str, Any]:
    return {"agreement_id": t.sla_id, "period": PERIOD, "event": "submit"}


def action_event(_rw: RouteWorld, t: Target) -> dict[str, Any]:
    return {"action_id": t.ids["action"], "event": "submit_plan"}


def action_confirm(_rw: RouteWorld, t: Target) -> dict[str, Any]:
    return {"action_id": t.ids["action"], "event": "accept_plan"}


def gap(_rw: RouteWorld, t: Target) -> dict[str, Any]:
    return {"agreement_id": t.sla_id, "number": t.number, "gap_id": t.gap_id}


def gap_task(rw: RouteWorld, t: Target) -> dict[str, Any]:
    rw.session.rollback()
    task_id = rw.session.exec(
        select(Task.id).where(Task.agreement_id == t.sla_id, Task.state == "open")
    ).first()
    rw.session.rollback()
    return {"agreement_id": t.sla_id, "number": t.number, "task_id": task_id}


SIGNED_IN_FORM = (303, 303, 303)  # a visitor's own settings: the stranger's are saved
FOR_PARTIES = (303, 303, 404)
FOR_ADMINS = (303, 303, 403)
VERSION = "/slas/{agreement_id}/versions/{number}"

# Every form (POST) page: nobody without a session gets through, and a stranger learns
# nothing about an agreement and changes nothing. Who else may submit each form is tested
# with the form's page in tests/api/pages.
FORMS: dict[str, Form] = {
    "/settings/notifications": Form(
        nothing, bare, lambda _t: {"mode": "immediate"}, SIGNED_IN_FORM
    ),
    # The stranger's own password, but not the one they typed: the field's error.
    "/account/password": Form(
        nothing,
        bare,
        lambda _t: {
            "current_password": "wrong guess",
            "new_password": "n" * 12,
            "confirm": "n" * 12,
        },
        (303, 303, 422),
    ),
    "/notifications": Form(nothing, bare, lambda _t: {"decisions": "digest"}, SIGNED_IN_FORM),
    # A delegate must be a colleague: the form answers the stranger with the field's error.
    "/settings/delegations": Form(
        nothing,
        bare,
        lambda _t: {
            "delegate_email": "marcus.chen@customer.example",
            "starts_on": "2026-12-01",
            "ends_on": "2026-12-31",
        },
        (303, 303, 422),
    ),
    "/approvals/bulk/confirm": Form(
        approval_task, task, lambda t: {"task": str(t.task_id)}, FOR_PARTIES
    ),
    "/approvals/bulk": Form(approval_task, task, lambda t: {"task": str(t.task_id)}, FOR_PARTIES),
    "/approvals/{task_id}/confirm": Form(
        approval_task, task, lambda _t: {"outcome": "approved"}, FOR_PARTIES
    ),
    "/approvals/{task_id}": Form(
        approval_task, task, lambda _t: {"outcome": "approved"}, FOR_PARTIES
    ),
    "/proposals/{proposal_id}/confirm": Form(
        proposal, proposal_id, lambda _t: {"outcome": "accepted"}, FOR_PARTIES
    ),
    "/proposals/{proposal_id}": Form(
        proposal, proposal_id, lambda _t: {"outcome": "accepted"}, FOR_PARTIES
    ),
    "/proposals/{proposal_id}/withdraw": Form(proposal, proposal_id, no_fields, FOR_PARTIES),
    "/tasks/{task_id}/complete": Form(
        joint_review, task, lambda _t: {"outcome": "accepted"}, FOR_PARTIES
    ),
    "/tasks/bulk/confirm": Form(
        joint_review, task, lambda t: {"task": str(t.task_id)}, FOR_PARTIES
    ),
    "/tasks/bulk": Form(joint_review, task, lambda t: {"task": str(t.task_id)}, FOR_PARTIES),
    VERSION + "/events/{event}/confirm": Form(draft, event, no_fields, FOR_PARTIES),
    VERSION + "/events/{event}": Form(draft, event, lambda _t: {"comment": "x"}, FOR_PARTIES),
    "/slas/{agreement_id}/revisions": Form(active, agreement, no_fields, FOR_PARTIES),
    "/slas/{agreement_id}/periods/{period}/events/{event}": Form(
        reporting, period_event, no_fields, FOR_PARTIES
    ),
    "/slas/{agreement_id}/periods/{period}/events/{event}/confirm": Form(
        reporting, period_event, no_fields, FOR_PARTIES
    ),
    "/slas/{agreement_id}/periods/{period}/excusals": Form(
        reporting,
        period,
        lambda _t: {"metric": "proper-payments", "party": "customer"},
        FOR_PARTIES,
    ),
    "/slas/{agreement_id}/periods/{period}/amendments": Form(
        final, period, lambda _t: {"reason": "late data"}, FOR_PARTIES
    ),
    "/slas/{agreement_id}/periods/{period}/corrections": Form(
        reporting,
        period,
        lambda _t: {
            "metric": "proper-payments",
            "observed_at": "2026-11-12T05:00:00Z",
            "value": "99.7",
            "reason": "the full file",
        },
        FOR_PARTIES,
    ),
    "/slas/{agreement_id}/periods/{period}/decision": Form(
        reporting, period, lambda _t: {"outcome": "upheld"}, FOR_PARTIES
    ),
    "/slas/{agreement_id}/periods/{period}/measurements:csv": Form(
        reporting, period, no_fields, FOR_PARTIES
    ),
    "/corrective-actions/{action_id}/events/{event}": Form(
        corrective, action_event, no_fields, FOR_PARTIES
    ),
    "/corrective-actions/{action_id}/events/{event}/confirm": Form(
        corrective, action_confirm, no_fields, FOR_PARTIES
    ),
    VERSION + "/edit/terms": Form(draft, version, lock, FOR_PARTIES),
    VERSION + "/edit/metrics/{key}": Form(draft, metric, lock, FOR_PARTIES),
    VERSION + "/edit/metrics": Form(draft, version, lock, FOR_PARTIES),
    VERSION + "/edit/metrics/{key}/remove": Form(draft, metric, lock, FOR_PARTIES),
    VERSION + "/edit/catalog": Form(draft, version, lock, FOR_PARTIES),
    VERSION + "/gaps": Form(gap_analysis, version, no_fields, FOR_PARTIES),
    VERSION + "/gaps/{gap_id}/resolve": Form(
        gap_analysis, gap, lambda _t: {"resolution": "provider_commits"}, FOR_PARTIES
    ),
    VERSION + "/gaps/tasks/{task_id}": Form(gap_analysis, gap_task, no_fields, FOR_PARTIES),
    VERSION + "/gaps/submit": Form(gap_analysis, version, no_fields, FOR_PARTIES),
    "/slas/{agreement_id}/service-reviews/{review_id}/minutes": Form(
        review_open, review, lambda _t: {"held_on": "2026-11-30"}, FOR_PARTIES
    ),
    "/slas/{agreement_id}/extensions": Form(
        active, agreement, lambda _t: {"new_end_date": "2028-03-31", "reason": "x"}, FOR_PARTIES
    ),
    "/slas/{agreement_id}/extensions/{extension_id}/confirm": Form(
        extension_asked, extension, lambda _t: {"outcome": "approved"}, FOR_PARTIES
    ),
    "/slas/{agreement_id}/extensions/{extension_id}/decide": Form(
        extension_asked, extension, lambda _t: {"outcome": "approved"}, FOR_PARTIES
    ),
    "/admin/organizations": Form(nothing, bare, lambda _t: {"name": "Form Agency"}, FOR_ADMINS),
    "/admin/users": Form(nothing, bare, no_fields, FOR_ADMINS),
    "/admin/users/{user_id}/password": Form(nothing, user, no_fields, FOR_ADMINS),
    "/admin/users/{user_id}/role": Form(nothing, user, lambda _t: {"role": "auditor"}, FOR_ADMINS),
    "/admin/users/{user_id}/active": Form(nothing, user, no_fields, FOR_ADMINS),
    "/admin/users/{user_id}/invitation": Form(nothing, user, no_fields, FOR_ADMINS),
    "/admin/users/{user_id}/tokens": Form(nothing, user, no_fields, FOR_ADMINS),
    "/admin/tokens/{token_id}/revoke": Form(token, token_id, no_fields, FOR_ADMINS),
    "/admin/notifications/{notification_id}/retry": Form(
        dead_notification, notification, no_fields, FOR_ADMINS
    ),
}

# Read by anyone, signed in or not, or not pages at all.
PUBLIC = {"/signin", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc"}
PUBLIC |= {"/docs/oauth2-redirect"}
# The links of emails: no sign-in, the signed token in the path is the proof
# (tests/api/test_notification_preferences_api.py).
SIGNED_LINKS = {"/notifications/manage/{token}", "/notifications/unsubscribe/{token}"}
PUBLIC |= SIGNED_LINKS
# Forgetting a password and using an emailed link happen signed out (tests/api/pages/
# test_account_pages.py covers them).
ACCOUNT_LINKS = {"/password/forgot", "/account/links/{token}"}
PUBLIC |= ACCOUNT_LINKS
VISITORS = (ANONYMOUS, SIGNED_OUT, STRANGER)


@dataclass
class Visitors:
    """A browser-like client (its own cookies) per kind of visitor, signed in on first use."""

    rw: RouteWorld
    app: FastAPI
    stack: ExitStack
    clients: dict[Persona, TestClient]

    def client(self, persona: Persona) -> TestClient:
        if persona not in self.clients:
            client = self.stack.enter_context(TestClient(self.app, base_url="http://127.0.0.1"))
            if persona != ANONYMOUS:
                self._sign_in(client, SIGNED_OUT if persona == SIGNED_OUT else persona)
            self.clients[persona] = client
        return self.clients[persona]

    def _sign_in(self, client: TestClient, persona: Persona) -> None:
        person = (C, PM) if persona == SIGNED_OUT else persona
        actor = self.rw.people[person] if isinstance(person, str) else self.rw.driver.who(*person)
        answer = client.post(
            "/signin",
            data={
                "email": actor.email,
                "password": PASSWORD,
                "csrf_token": _csrf(client, "/signin"),
            },
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        if persona == SIGNED_OUT:
            kept = dict(client.cookies)
            ended = client.post("/signout", data={"csrf_token": _csrf(client, "/settings")})
            assert ended.status_code in (200, 303), ended.text
            client.cookies.clear()
            client.cookies.update(kept)  # the old cookie, as a stale browser would send it


def _csrf(client: TestClient, path: str) -> str:
    match = CSRF_FIELD.search(client.get(path).text)
    assert match is not None, path
    return match[1]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def visitors(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Visitors]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("pages") / "accord.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_database")
    engine = make_engine(url)
    if request.param == "postgresql":
        _truncate_all(engine)
    app = create_app(engine, clock=lambda: DEC_1)
    with Session(engine, expire_on_commit=False) as session, ExitStack() as stack:
        driver = make_world(session)
        api = stack.enter_context(TestClient(app))
        rw = populate(api, driver)
        emails = [a.email for a in [*driver.parties.actors.values(), *rw.people.values()]]
        set_passwords(session, actor=None, emails=emails, password=PASSWORD, now=driver.now)
        yield Visitors(rw, app, stack, {})
    engine.dispose()


def _cells() -> Iterator[Any]:
    for template, page in PAGES.items():
        for who in range(5):
            persona = (*VISITORS, page.lacking, page.allowed)[who]
            name = persona if isinstance(persona, str) else f"{persona[0]} {persona[1]}"
            yield pytest.param(template, who, id=f"GET {template} {name}")


@pytest.mark.parametrize(("template", "who"), list(_cells()))
def test_who_may_see_which_page(visitors: Visitors, template: str, who: int) -> None:
    page = PAGES[template]
    persona = (*VISITORS, page.lacking, page.allowed)[who]
    rw = visitors.rw
    target = rw.shared(page.target.__name__, lambda: page.target(rw))
    path = template.format(**page.fill(rw, target))
    answer = visitors.client(persona).get(path, follow_redirects=False)
    assert answer.status_code == page.statuses[who], answer.text[:500]
    if answer.status_code == 303:
        # Only visitors without a session are sent to sign in.
        assert answer.headers["location"].startswith("/signin") == (persona in VISITORS[:2])
    if page.offered is not None and who >= 3:
        assert (page.offered in answer.text) == (who == 4)
    if persona == STRANGER and answer.status_code == 200:
        leaked = [key for key in rw.keys if re.search(rf"\b{key}\b", answer.text)]
        assert not leaked, f"a stranger was shown {leaked}"


def _form_cells() -> Iterator[Any]:
    for template in FORMS:
        for who, persona in enumerate(VISITORS):
            yield pytest.param(template, who, id=f"POST {template} {persona}")


@pytest.mark.parametrize(("template", "who"), list(_form_cells()))
def test_who_may_send_which_form(visitors: Visitors, template: str, who: int) -> None:
    form = FORMS[template]
    persona = VISITORS[who]
    rw = visitors.rw
    target = rw.shared(form.target.__name__, lambda: form.target(rw))
    path = template.format(**form.fill(rw, target))
    client = visitors.client(persona)
    token = _csrf(client, "/signin" if who < 2 else "/settings")
    before = rw.writes()
    answer = client.post(
        path, data={**form.fields(target), "csrf_token": token}, follow_redirects=False
    )
    assert answer.status_code == form.statuses[who], answer.text[:500]
    if who < 2:
        assert answer.headers["location"].startswith("/signin")
    if form.statuses[who] != 303 or who < 2:
        assert rw.writes() == before, "a refused form wrote something"


def test_every_page_has_an_entry() -> None:
    """A page added without a row here fails: each needs its visitors' cases."""
    app = create_app(make_engine("sqlite://"))
    pages = {
        route.path
        for route in iter_route_contexts(app.routes)
        if route.path
        and not route.path.startswith("/api/")
        and "GET" in (route.methods or ())
        and route.path not in PUBLIC
    }
    assert pages - set(PAGES) == set(), "pages without visitor cases"
    assert set(PAGES) - pages == set(), "cases for pages the app no longer has"
    forms = {
        route.path
        for route in iter_route_contexts(app.routes)
        if route.path
        and not route.path.startswith("/api/")
        and "POST" in (route.methods or ())
        and route.path not in {"/signin", "/signout"} | SIGNED_LINKS | ACCOUNT_LINKS
    }
    assert forms - set(FORMS) == set(), "forms without visitor cases"
    assert set(FORMS) - forms == set(), "cases for forms the app no longer has"
