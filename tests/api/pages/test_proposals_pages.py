"""The period page's excusal form and the proposal page, over HTTP on both databases: the
provider's excusal is proposed (the page says so), the customer decides it with a
confirmation step, a rejection needs a comment, the proposer may withdraw."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from states import Role
from tests.api.pages.conftest import CSRF_FIELD, Client
from tests.helpers import C, P, World
from tests.workflow.commands.test_periods import DEC_1, NOVEMBER
from tests.workflow.test_compliance_sql import store
from workflow import commands
from workflow.models import Agreement, Excusal, Proposal

PERIOD = "2026-11"


def _submitted(world: World) -> Agreement:
    agreement = world.create()
    world.to_active(agreement)
    assert agreement.id is not None
    store(world.session, agreement.id, NOVEMBER)
    world.now = DEC_1
    commands.open_due_periods(world.session, now=DEC_1)
    commands.fire_period_event(
        world.session,
        actor=world.who(P, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,
        period=PERIOD,
        event="submit",
        now=world.tick(),
    )
    return agreement


def _post(client: TestClient, page: str, path: str, data: dict[str, Any]) -> Any:
    token = CSRF_FIELD.search(client.get(page).text)
    assert token is not None
    return client.post(path, data={**data, "csrf_token": token[1]}, follow_redirects=False)


def test_an_excusal_proposed_on_the_period_page_is_decided_on_the_proposal_page(
    world: World, signed_in: Client
) -> None:
    agreement = _submitted(world)
    period_page = f"/slas/{agreement.id}/periods/{PERIOD}"
    provider = signed_in(world.who(P, Role.PROGRAM_MANAGER).email)
    shown = provider.get(period_page).text
    assert "proposed to the other side" in shown

    unjustified = _post(
        provider,
        period_page,
        f"{period_page}/excusals",
        {"metric": "proper-payments", "party": "customer", "reason": " "},
    )
    assert unjustified.status_code == 303
    assert "Not proposed: reason: required." in provider.get(unjustified.headers["location"]).text
    proposed = _post(
        provider,
        period_page,
        f"{period_page}/excusals",
        {"metric": "proper-payments", "party": "customer", "reason": "ledger came late"},
    )
    assert proposed.status_code == 303
    world.session.rollback()
    proposal = world.session.exec(select(Proposal)).one()
    here = f"/proposals/{proposal.id}"
    assert proposed.headers["location"] == here
    mine = provider.get(here).text
    assert "it counts once the other side accepts it" in mine
    assert 'name="outcome"' not in mine  # never offered to the proposer
    assert "Withdraw my proposal" in mine

    customer = signed_in(world.who(C, Role.PROGRAM_MANAGER).email)
    page = customer.get(here).text
    assert 'name="outcome"' in page
    assert "counts as a miss (if the window missed)" in page
    no_comment = _post(customer, here, f"{here}/confirm", {"outcome": "rejected"})
    assert no_comment.status_code == 422
    assert "Write why you reject this proposal." in no_comment.text
    confirm = _post(customer, here, f"{here}/confirm", {"outcome": "accepted"})
    assert confirm.status_code == 200
    assert "Confirm: Accept" in confirm.text
    world.session.rollback()
    assert world.session.exec(select(Excusal)).all() == []  # nothing until confirmed
    done = _post(customer, here, here, {"outcome": "accepted", "comment": ""})
    assert done.status_code == 303
    assert "You accepted the proposal" in customer.get(here).text
    world.session.rollback()
    assert world.session.exec(select(Excusal.party)).one() == "customer"
    again = _post(customer, here, here, {"outcome": "accepted"})
    assert (
        "Nothing more to do: this proposal is accepted."
        in customer.get(again.headers["location"]).text
    )


def test_the_proposer_withdraws_from_the_proposal_page(world: World, signed_in: Client) -> None:
    agreement = _submitted(world)
    assert agreement.id is not None
    made = commands.excuse_miss(
        world.session,
        actor=world.who(P, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,
        metric="proper-payments",
        window=PERIOD,
        party="customer",
        reason="ledger came late",
        now=world.tick(),
    )
    here = f"/proposals/{made.id}"
    customer = signed_in(world.who(C, Role.PROGRAM_MANAGER).email)
    refused = _post(customer, here, f"{here}/withdraw", {})
    assert refused.status_code == 303
    assert "only whoever made a proposal may withdraw it" in customer.get(here).text
    provider = signed_in(world.who(P, Role.PROGRAM_MANAGER).email)
    withdrawn = _post(provider, here, f"{here}/withdraw", {})
    assert withdrawn.status_code == 303
    page = provider.get(here).text
    assert "You withdrew your proposal." in page
    assert "This proposal was withdrawn" in page
