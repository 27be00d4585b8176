"""Audit review pages over HTTP: events as sentences, filters, the evidence pack, strangers."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from itertools import pairwise

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from api.app import create_app
from api.pages.audit import CSV_COLUMNS
from api.pages.audit_sentences import sentence
from states import Role
from tests.api.pages.conftest import CSRF_FIELD, PASSWORD
from tests.helpers import C, P, World
from tests.workflow.test_audit import EVENTS, guards_off
from workflow import audit, commands
from workflow.audit import GENESIS
from workflow.commands.sign_in import set_passwords
from workflow.models import Agreement, User

OUTSIDER = "olive.outsider@elsewhere.example"


# The sentences, from hand-written inputs.


def test_an_approval_on_behalf_of_someone() -> None:
    text = sentence(
        "task.completed",
        {"task_id": 7, "outcome": "approved"},
        actor="Aisha Bello",
        on_behalf_of="Bo Chen",
        version_number=3,
    )
    assert text == "Aisha Bello approved version 3 on behalf of Bo Chen"


def test_approvals_with_conditions_and_rejections() -> None:
    conditions = {"task_id": 7, "outcome": "approved_with_conditions"}
    assert (
        sentence("task.completed", conditions, actor="Bo Chen", version_number=2)
        == "Bo Chen approved version 2 with conditions"
    )
    rejected = {"task_id": 7, "outcome": "rejected"}
    assert (
        sentence("task.completed", rejected, actor="Bo Chen", version_number=2)
        == "Bo Chen rejected version 2"
    )


def test_accord_opens_a_period() -> None:
    assert sentence("period.opened", {"period": "2026-11"}, actor=None) == (
        "Accord opened period 2026-11"
    )


def test_other_tasks_say_what_they_were_and_how_they_ended() -> None:
    review = {"task_id": 12, "outcome": "accepted", "after": {"kind": "review"}}
    assert sentence("task.completed", review, actor="Aisha Bello", version_number=1) == (
        "Aisha Bello accepted the review of version 1"
    )
    changes = {"task_id": 12, "outcome": "changes_requested", "after": {"kind": "review"}}
    assert sentence("task.completed", changes, actor="Aisha Bello", version_number=2) == (
        "Aisha Bello requested changes in the review of version 2"
    )
    done = {"task_id": 3, "outcome": "done", "after": {"kind": "confirm_requirements"}}
    assert sentence("task.completed", done, actor="Cy", version_number=1) == (
        "Cy completed the confirmation of the customer's requirements of version 1"
    )
    renewal = {"task_id": 9, "outcome": "let_expire", "after": {"kind": "renewal_decision"}}
    assert sentence("task.completed", renewal, actor="Cy") == (
        "Cy completed the renewal decision task: let expire"
    )


def test_old_task_events_without_their_kind_name_their_outcome() -> None:
    data = {"task_id": 12, "outcome": "accepted"}
    assert sentence("task.completed", data, actor="Aisha Bello", version_number=1) == (
        "Aisha Bello completed task 12: accepted"
    )
    assert sentence("task.completed", {"task_id": 12, "outcome": "accepted"}, actor=None) == (
        "Accord completed task 12: accepted"
    )


def test_version_transitions_gaps_and_unknown_actions() -> None:
    assert sentence("version.activate", {}, actor=None, version_number=4) == (
        "Accord activated version 4"
    )
    assert sentence("version.submit_for_review", {}, actor="Cy", version_number=1) == (
        "Cy submitted version 1 for joint review"
    )
    assert sentence("agreement.created", {"key": "SLA-1"}, actor="Cy", version_number=1) == (
        "Cy created agreement SLA-1"
    )
    gap = {"gap_id": 5, "metric": "availability", "severity": "major"}
    assert sentence("gap.added", gap, actor="Cy") == "Cy raised a major gap on availability"
    resolved = {"gap_id": 5, "resolution": "target_adjusted"}
    assert sentence("gap.resolved", resolved, actor="Cy") == "Cy resolved gap 5: target adjusted"
    assert sentence("period.finalize", {"period": "2026-10"}, actor=None) == (
        "Accord finalised period 2026-10"
    )
    assert sentence("widget.frobbed", {}, actor="Cy") == "Cy recorded widget frobbed"


# The pages.


@pytest.fixture
def client(world: World, engine: Engine) -> Iterator[TestClient]:
    app = create_app(engine, clock=lambda: world.now)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def _sign_in(client: TestClient, email: str) -> TestClient:
    match = CSRF_FIELD.search(client.get("/signin").text)
    assert match is not None
    answer = client.post(
        "/signin",
        data={"email": email, "password": PASSWORD, "csrf_token": match[1]},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return client


@pytest.fixture
def active(world: World) -> Agreement:
    agreement = world.create()
    world.to_active(agreement)
    return agreement


def _sentences(html: str) -> list[str]:
    return re.findall(r'<span class="sentence">([^<]*)</span>', html)


def test_a_party_reads_events_as_sentences_newest_first(
    client: TestClient, world: World, active: Agreement
) -> None:
    owner = world.who(C, Role.BUSINESS_OWNER)
    _sign_in(client, owner.email)
    page = client.get("/audit")
    assert page.status_code == 200
    said = _sentences(page.text.replace("&#39;", "'"))
    creator = world.who(C, Role.PROGRAM_MANAGER).name
    # People are named with the seat they acted in (issue 11: names and roles, not ids).
    assert said[-1] == f"{creator} (customer Program Manager) created agreement {active.key}"
    assert f"{owner.name} (customer Business Owner) approved version 1" in said
    reviewer = world.who(C, Role.FUNCTIONAL_LEAD).name
    assert f"{reviewer} (customer Functional Lead) accepted the review of version 1" in said
    assert said[0] == "Accord activated version 1"
    assert "<details>" in page.text
    assert '<a href="/audit" aria-current="page"' in page.text
    assert "open to administrators" in page.text  # no chain check for non-admins


def test_details_are_in_words_and_the_raw_record_is_kept_apart(
    client: TestClient, world: World, active: Agreement
) -> None:
    _sign_in(client, world.who(C, Role.BUSINESS_OWNER).email)
    page = " ".join(client.get("/audit").text.replace("&#39;", "'").replace("&gt;", ">").split())
    readable, technical = [], []
    for part in page.split('<details class="technical">')[1:]:
        record, rest = part.split("</details>", 1)
        technical.append(record)
        readable.append(rest)
    readable.append(page.split('<ul class="audit-events">', 1)[1].split("<details", 1)[0])
    words = " ".join(readable)
    # A task's state change, in words; no ids, keys or JSON outside the technical record.
    assert "<dt>State</dt> <dd>open → completed</dd>" in words
    assert "assignee_id" not in words
    assert "assignee id" not in words
    assert '{"' not in words
    customer = world.who(C, Role.BUSINESS_OWNER)
    assert "<dt>Customer</dt>" in words
    assert "<summary>Technical record</summary>" in page
    assert any("&#34;assignee_id&#34;" in record for record in technical)
    # The action filter lists actions in words, their codes kept as the values sent.
    assert (
        '<option value="version.submit_for_review" >Submitted a version for joint review</option>'
        in page
    )
    assert ">task.completed</option>" not in page
    assert customer.name in words


def test_filters_by_action_and_actor_narrow_the_list(
    client: TestClient, world: World, active: Agreement
) -> None:
    _sign_in(client, world.who(P, Role.BUSINESS_OWNER).email)
    everything = _sentences(client.get("/audit").text)
    created = _sentences(client.get("/audit", params={"action": "agreement.created"}).text)
    assert len(created) == 1 < len(everything)
    assert "created agreement" in created[0]
    owner = world.who(C, Role.BUSINESS_OWNER)
    by_owner = _sentences(client.get("/audit", params={"actor": owner.email.upper()}).text)
    assert by_owner
    assert len(by_owner) < len(everything)
    assert all(s.startswith(owner.name) for s in by_owner)
    assert (
        _sentences(client.get("/audit", params={"agreement": str(active.id), "version": "2"}).text)
        == []
    )
    assert _sentences(client.get("/audit", params={"date_to": "2020-01-01"}).text) == []
    assert client.get("/audit", params={"version": "two"}).status_code == 422


def _outsider(world: World) -> str:
    elsewhere = commands.create_organization(
        world.session, actor=None, name="Elsewhere Agency", now=world.tick()
    )
    assert elsewhere.id is not None
    commands.create_user(
        world.session,
        actor=None,
        email=OUTSIDER,
        name="Olive Outsider",
        organization_id=elsewhere.id,
        now=world.tick(),
    )
    set_passwords(world.session, actor=None, emails=[OUTSIDER], password=PASSWORD, now=world.tick())
    return OUTSIDER


def test_a_stranger_sees_no_events_and_no_evidence(
    client: TestClient, world: World, active: Agreement
) -> None:
    _sign_in(client, _outsider(world))
    page = client.get("/audit", params={"agreement": str(active.id)})
    assert page.status_code == 200
    assert _sentences(page.text) == []
    assert active.key not in page.text
    assert _sentences(client.get("/audit").text) == []
    for suffix in ("json", "csv"):
        answer = client.get(f"/slas/{active.id}/versions/1/evidence.{suffix}")
        assert answer.status_code == 404
        assert active.key not in answer.text


def test_the_evidence_json_chains_its_hashes(
    client: TestClient, world: World, active: Agreement
) -> None:
    _sign_in(client, world.who(C, Role.BUSINESS_OWNER).email)
    answer = client.get(f"/slas/{active.id}/versions/1/evidence.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert "attachment" in answer.headers["content-disposition"]
    pack = answer.json()
    assert pack["agreement"]["key"] == active.key
    assert pack["version"] == 1
    events = pack["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["prev_hash"] == GENESIS
    for before, event in pairwise(events):
        assert event["chain"] == before["chain"] == f"agreement:{active.id}"
        assert event["prev_hash"] == before["hash"]
    actions = {e["action"] for e in events}
    assert {"agreement.created", "task.completed", "version.activate"} <= actions
    assert all(set(e) >= {"occurred_at", "actor", "data", "hash"} for e in events)
    assert client.get(f"/slas/{active.id}/versions/9/evidence.json").status_code == 404


def test_the_evidence_csv_has_a_header_and_inert_cells(
    client: TestClient, world: World, active: Agreement
) -> None:
    creator = world.who(C, Role.PROGRAM_MANAGER)
    user = world.session.exec(select(User).where(User.id == creator.user_id)).one()
    user.name = "=HYPERLINK(evil)"
    world.session.add(user)
    world.session.commit()
    _sign_in(client, world.who(C, Role.BUSINESS_OWNER).email)
    answer = client.get(f"/slas/{active.id}/versions/1/evidence.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == CSV_COLUMNS
    by_column = [dict(zip(CSV_COLUMNS, r, strict=True)) for r in rows[1:]]
    created = next(r for r in by_column if r["action"] == "agreement.created")
    assert created["actor"] == "'=HYPERLINK(evil)"
    assert all(not r["actor"].startswith(("=", "+", "-", "@")) for r in by_column)
    assert created["seq"] == "1"


def test_admins_see_the_chain_check(client: TestClient, world: World, active: Agreement) -> None:
    owner = world.who(C, Role.BUSINESS_OWNER)
    user = world.session.exec(select(User).where(User.id == owner.user_id)).one()
    user.is_admin = True
    world.session.add(user)
    world.session.commit()
    _sign_in(client, owner.email)
    page = client.get("/audit")
    assert re.search(r"Chain verified: \d+ events", page.text)


# Administrators and auditors.


def _staff(world: World, email: str, *, role: str, org: int | None = None) -> str:
    commands.create_user(
        world.session,
        actor=None,
        email=email,
        name="Sam Staff",
        organization_id=org or world.parties.customer_org_id,
        role=role,
        now=world.tick(),
    )
    set_passwords(world.session, actor=None, emails=[email], password=PASSWORD, now=world.tick())
    return email


def test_an_admin_reads_every_trail_with_the_admin_acts_next_to_the_chain_check(
    client: TestClient, world: World, active: Agreement
) -> None:
    _sign_in(client, _staff(world, "ada@accord.example", role="admin"))
    page = client.get("/audit")
    assert re.search(
        r"Chain verified: \d+ events in 1 agreement chain and the administration", page.text
    )
    assert "No audit events" not in page.text
    said = _sentences(page.text.replace("&#39;", "'"))
    assert "Accord created the account of Sam Staff" in said
    assert any(s.endswith("activated version 1") for s in said)
    admin_only = _sentences(client.get("/audit", params={"agreement": "admin"}).text)
    assert admin_only
    assert "Accord activated version 1" not in admin_only


def test_an_organisations_auditor_verifies_its_chains_and_gets_a_certificate(
    client: TestClient, world: World, active: Agreement
) -> None:
    _sign_in(client, _staff(world, "audrey@customer.example", role="auditor"))
    page = client.get("/audit")
    assert "of your organisation" in page.text
    assert "Chain verified" in page.text
    assert "created the account" not in page.text  # admin acts are for global auditors
    certificate = client.get(f"/slas/{active.id}/versions/1/certificate.html")
    assert certificate.status_code == 200
    assert "inline" in certificate.headers["content-disposition"]
    assert "Certificate of approval" in certificate.text
    assert "Audit chain verified" in certificate.text
    owner = world.who(C, Role.BUSINESS_OWNER)
    assert owner.name in certificate.text
    version = world.version(active, 1)
    assert version.content_hash in certificate.text
    assert "different content" not in certificate.text


def test_the_evidence_pack_adds_content_approvals_and_verification(
    client: TestClient, world: World, active: Agreement
) -> None:
    _sign_in(client, world.who(P, Role.BUSINESS_OWNER).email)
    pack = client.get(f"/slas/{active.id}/versions/1/evidence.json").json()
    version = world.version(active, 1)
    assert pack["content_hash"] == version.content_hash
    assert pack["approved_content"]["terms"]["currency"] == "USD"
    assert {a["side"] for a in pack["approvals"]} == {"customer", "provider"}
    assert all(a["matches_version"] for a in pack["approvals"])
    assert pack["verification"]["ok"] is True
    rows = list(
        csv.reader(io.StringIO(client.get(f"/slas/{active.id}/versions/1/evidence.csv").text))
    )
    records = [r[0] for r in rows[1:]]
    assert records[:2] == ["version", "content"]
    assert records.count("approval") == len(pack["approvals"])
    assert "verification" in records
    assert records.count("event") == len(pack["events"])


def test_a_tampered_chain_shows_on_the_certificate_and_in_the_pack(
    client: TestClient, world: World, active: Agreement, engine: Engine
) -> None:
    chain = audit.agreement_chain(active.id or 0)
    with engine.connect() as conn:
        target = conn.execute(
            sa.select(EVENTS).where(EVENTS.c.chain == chain, EVENTS.c.seq == 3)
        ).one()
    with guards_off(engine) as conn:
        conn.execute(
            sa.update(EVENTS).where(EVENTS.c.id == target.id).values(action="task.cancelled")
        )
    _sign_in(client, world.who(C, Role.BUSINESS_OWNER).email)
    pack = client.get(f"/slas/{active.id}/versions/1/evidence.json").json()
    assert pack["verification"]["ok"] is False
    assert pack["verification"]["failures"][0]["seq"] == 3
    certificate = client.get(f"/slas/{active.id}/versions/1/certificate.html").text
    assert "Audit chain verification failed" in certificate
    assert "cannot be relied on" in certificate
