"""Agreement pages over HTTP: the list, one agreement with its diagram and actions, a version,
its diff and YAML; firing events and starting a revision through the pages; strangers."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import yaml
from fastapi.testclient import TestClient
from sqlmodel import select

from states import Role, Side
from tests.api.pages.conftest import CSRF_FIELD, Client, outsider_of_another_organisation
from tests.helpers import C, P, World
from workflow import commands
from workflow.calendar import local_date
from workflow.models import Agreement, AgreementVersion, AuditEvent

LOCK = re.compile(r'name="lock_version" value="(\d+)"')


def _email(world: World, side: Side, role: Role) -> str:
    return world.who(side, role).email


def _token(client: TestClient) -> str:
    found = CSRF_FIELD.search(client.get("/slas").text)
    assert found is not None
    return found[1]


def _post(client: TestClient, path: str, data: dict[str, Any] | None = None) -> Any:
    return client.post(
        path, data={**(data or {}), "csrf_token": _token(client)}, follow_redirects=False
    )


def _state(world: World, agreement: Agreement, number: int = 1) -> str:
    return world.version(agreement, number).state


def _events(world: World, agreement: Agreement) -> int:
    world.session.rollback()
    return len(
        world.session.exec(select(AuditEvent).where(AuditEvent.agreement_id == agreement.id)).all()
    )


def test_the_list_shows_state_parties_and_next_deadline(world: World, signed_in: Client) -> None:
    quiet = world.create(title="Quiet draft")
    busy = world.create(title="Payroll in review")
    world.to_joint_review(busy)
    client = signed_in(_email(world, C, Role.PROGRAM_MANAGER))

    page = client.get("/slas")
    assert page.status_code == 200
    rows = {key: page.text.split(key, 1)[1].split("</tr>", 1)[0] for key in (quiet.key, busy.key)}
    assert "joint review" in rows[busy.key]
    assert "nothing open" in rows[quiet.key]
    due = min(t.due_on for t in world.open_tasks(busy))
    assert f'datetime="{due.isoformat()}"' in rows[busy.key]
    assert world.document["customer"] in rows[busy.key]
    assert world.document["provider"] in rows[busy.key]

    searched = client.get("/slas", params={"q": "payroll in"})
    assert busy.key in searched.text
    assert quiet.key not in searched.text
    nothing = client.get("/slas", params={"q": "no such thing"})
    assert "No agreement matches “no such thing”." in nothing.text


def test_the_overdue_deadline_is_marked(world: World, signed_in: Client) -> None:
    agreement = world.create()
    world.to_joint_review(agreement)
    world.now += timedelta(days=30)  # sessions follow the story's clock: sign in after
    page = signed_in(_email(world, P, Role.PROGRAM_MANAGER)).get("/slas")
    row = page.text.split(agreement.key, 1)[1].split("</tr>", 1)[0]
    assert "due overdue" in row
    assert "Overdue: was due" in row


def test_the_agreement_page_draws_the_lifecycle_and_what_it_waits_for(
    world: World, signed_in: Client
) -> None:
    agreement = world.create()
    world.to_joint_review(agreement)
    client = signed_in(_email(world, P, Role.PMO_TEAM))
    page = client.get(f"/slas/{agreement.id}")
    assert page.status_code == 200
    text = page.text

    # The diagram: every state, the current one highlighted, and the text alternative.
    assert "<svg" in text
    assert re.search(r'<g class="state current" data-state="joint_review" aria-current', text)
    assert text.count('class="state current"') == 1
    assert 'data-event="submit_for_review" data-from="draft" data-to="joint_review"' in text
    assert "The lifecycle as text" in text
    assert "<strong>withdraw</strong>: from draft, joint review, gap analysis, approval" in text

    # Versions link to their pages; terms and metrics of the working version.
    assert f'href="/slas/{agreement.id}/versions/1"' in text
    assert "payroll-accuracy" in text
    # Stakeholders per side and what the agreement waits for.
    reviewer = world.who(C, Role.FUNCTIONAL_LEAD)
    waiting = text.split('id="waiting-title"', 1)[1].split("</section>", 1)[0]
    assert reviewer.name in waiting
    assert "Review the draft (customer)" in waiting
    assert world.who(P, Role.TECHNICAL_LEAD).name in waiting
    task = world.open_tasks(agreement)[0]
    assert f'datetime="{task.due_on.isoformat()}"' in waiting
    assert "Program Manager" in waiting  # the first escalation goes to the side's PM

    # Links to the other pages of the agreement; a version under review is not editable.
    assert f'href="/slas/{agreement.id}/periods"' in text
    assert f'href="/audit?agreement={agreement.id}"' in text
    assert f'href="/slas/{agreement.id}/versions/1/gaps"' in text
    assert f'href="/slas/{agreement.id}/versions/1/edit"' not in text
    # The PMO team may fire nothing here.
    assert "/events/" not in text
    assert "Nothing for you to do" in text


def test_a_draft_links_to_its_editor_and_delegations_show(world: World, signed_in: Client) -> None:
    agreement = world.create()
    owner = world.who(C, Role.BUSINESS_OWNER)
    stand_in = world.who(C, Role.PMO_LEAD)
    today = local_date(world.now)
    commands.create_delegation(
        world.session,
        actor=owner,
        delegate_id=stand_in.user_id,
        starts_on=today,
        ends_on=today + timedelta(days=7),
        now=world.tick(),
    )
    page = signed_in(_email(world, P, Role.PROGRAM_MANAGER)).get(f"/slas/{agreement.id}")
    assert f'href="/slas/{agreement.id}/versions/1/edit"' in page.text
    people = page.text.split('id="people-title"', 1)[1]
    assert f"{stand_in.name} stands in for {owner.name} (Business Owner, customer)" in people


def test_the_customer_pm_submits_the_draft_for_review(world: World, signed_in: Client) -> None:
    agreement = world.create()
    client = signed_in(_email(world, C, Role.PROGRAM_MANAGER))
    page = client.get(f"/slas/{agreement.id}")
    action = f"/slas/{agreement.id}/versions/1/events/submit_for_review"
    assert f'action="{action}/confirm"' in page.text
    lock = LOCK.search(page.text)
    assert lock is not None

    confirm = _post(client, f"{action}/confirm", {"lock_version": lock[1]})
    assert confirm.status_code == 200
    assert "Confirm: Submit for review" in confirm.text
    assert f'name="lock_version" value="{lock[1]}"' in confirm.text
    assert _state(world, agreement) == "draft"  # the confirmation changes nothing

    done = _post(client, action, {"lock_version": lock[1], "comment": ""})
    assert done.status_code == 303
    assert done.headers["location"] == f"/slas/{agreement.id}"
    assert _state(world, agreement) == "joint_review"
    after = client.get(f"/slas/{agreement.id}")
    assert "Version 1 is now joint review." in after.text
    assert 'class="state current" data-state="joint_review"' in after.text

    # The same form sent again (a double submit) does nothing twice and says why.
    before = _events(world, agreement)
    again = _post(client, action, {"lock_version": lock[1]})
    assert again.status_code == 409
    said = " ".join(again.text.split())
    assert "Version 1 cannot be submitted for review now: it is in joint review" in said
    assert "joint_review" not in said.split('id="refusal"', 1)[-1].split("</div>", 1)[0]
    assert _events(world, agreement) == before


def test_an_action_that_would_be_refused_is_disabled_with_what_it_needs(
    world: World, signed_in: Client
) -> None:
    agreement = world.create()
    world.to_gap_analysis(agreement)
    client = signed_in(_email(world, P, Role.PROGRAM_MANAGER))
    page = client.get(f"/slas/{agreement.id}").text
    submit = page.split('id="event-submit_for_approval"', 1)[1].split("</ul>", 1)[0]
    assert "disabled" in submit
    assert "Every gap must be resolved before approval" in submit
    assert "Gap-analysis tasks are still open" in submit
    assert "/events/submit_for_approval/confirm" not in page  # no form to click into a 409
    # What can go through comes first; sending it back is still offered.
    assert page.index('id="event-request_rework"') < page.index('id="event-submit_for_approval"')

    world.resolve_all_gaps(agreement)
    for kind in ("confirm_requirements", "confirm_capabilities", "lcce_review"):
        world.complete_all(agreement, kind, "done")
    ready = client.get(f"/slas/{agreement.id}").text
    assert f"/slas/{agreement.id}/versions/1/events/submit_for_approval/confirm" in ready
    assert "Not yet:" not in ready


def test_a_stale_page_gets_the_conflict_message(world: World, signed_in: Client) -> None:
    agreement = world.create()
    client = signed_in(_email(world, C, Role.PROGRAM_MANAGER))
    lock = LOCK.search(client.get(f"/slas/{agreement.id}").text)
    assert lock is not None
    # Someone edits the draft after the page was read.
    commands.edit_draft(
        world.session,
        actor=world.who(P, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id or 0,
        number=1,
        expected_lock_version=int(lock[1]),
        terms={"payment_terms": "edited meanwhile"},
        now=world.tick(),
    )
    before = _events(world, agreement)
    answer = _post(
        client,
        f"/slas/{agreement.id}/versions/1/events/submit_for_review",
        {"lock_version": lock[1]},
    )
    assert answer.status_code == 409
    assert "Version 1 changed since you read it — reload." in answer.text
    assert _state(world, agreement) == "draft"
    assert _events(world, agreement) == before
    assert "edited meanwhile" in answer.text  # the page shows the version as it is now


def test_no_button_without_the_role_and_a_forged_post_is_refused(
    world: World, signed_in: Client
) -> None:
    agreement = world.create()
    client = signed_in(_email(world, C, Role.BUSINESS_OWNER))
    page = client.get(f"/slas/{agreement.id}")
    assert "/events/" not in page.text
    assert "Start a revision" not in page.text
    action = f"/slas/{agreement.id}/versions/1/events/submit_for_review"
    refused = _post(client, action, {"lock_version": "1"})
    assert refused.status_code == 403
    assert "Not allowed" in refused.text
    assert _state(world, agreement) == "draft"
    asked = _post(client, f"{action}/confirm", {"lock_version": "1"})
    assert asked.status_code == 409
    assert "You may not submit for review version 1 now" in asked.text
    assert _post(client, f"/slas/{agreement.id}/versions/1/events/no_such/confirm").status_code == (
        404
    )


def test_a_comment_is_required_where_the_event_needs_one(world: World, signed_in: Client) -> None:
    agreement = world.create()
    client = signed_in(_email(world, C, Role.PROGRAM_MANAGER))
    action = f"/slas/{agreement.id}/versions/1/events/withdraw"
    confirm = _post(client, f"{action}/confirm", {"lock_version": "1"})
    assert re.search(r"<textarea[^>]*required", confirm.text)
    assert "Comment (required)" in confirm.text
    missing = _post(client, action, {"lock_version": str(world.version(agreement).lock_version)})
    assert missing.status_code == 422
    assert "Write a comment" in missing.text
    assert _state(world, agreement) == "draft"
    done = _post(
        client,
        action,
        {"lock_version": str(world.version(agreement).lock_version), "comment": "not needed"},
    )
    assert done.status_code == 303
    assert _state(world, agreement) == "withdrawn"


def test_start_a_revision_creates_version_two_in_draft(world: World, signed_in: Client) -> None:
    agreement = world.create()
    world.to_active(agreement)
    client = signed_in(_email(world, C, Role.PROGRAM_MANAGER))
    page = client.get(f"/slas/{agreement.id}")
    assert "Start a revision" in page.text
    assert f'action="/slas/{agreement.id}/revisions"' in page.text

    started = _post(client, f"/slas/{agreement.id}/revisions")
    assert started.status_code == 303
    assert started.headers["location"] == f"/slas/{agreement.id}/versions/2"
    second = world.version(agreement, 2)
    assert second.state == "draft"
    assert second.modification_number == world.version(agreement, 1).modification_number + 1
    assert _state(world, agreement, 1) == "active"
    shown = client.get(started.headers["location"])
    assert "Version 2 (modification" in shown.text
    assert "version 2" in shown.text.lower()

    # Pressed twice: the second press starts nothing and says so.
    again = _post(client, f"/slas/{agreement.id}/revisions")
    assert again.status_code == 409
    assert "No revision started" in again.text
    world.session.rollback()
    versions = world.session.exec(
        select(AgreementVersion).where(AgreementVersion.agreement_id == agreement.id)
    ).all()
    assert len(versions) == 2


def _revised(world: World) -> Agreement:
    """Active version 1, and draft version 2 with payroll-accuracy's target lowered."""
    agreement = world.create()
    world.to_active(agreement)
    pm = world.who(C, Role.PROGRAM_MANAGER)
    draft = commands.start_revision(
        world.session, actor=pm, agreement_id=agreement.id or 0, now=world.tick()
    )
    metrics = [dict(m) for m in draft.metrics]
    for metric in metrics:
        if metric["key"] == "payroll-accuracy":
            metric["target"] = 99.5
            metric["target_change"] = {"driven_by": "provider", "reason": "staffing changes"}
    commands.edit_draft(
        world.session,
        actor=pm,
        agreement_id=agreement.id or 0,
        number=2,
        expected_lock_version=draft.lock_version,
        metrics=metrics,
        now=world.tick(),
    )
    return agreement


def test_the_heading_names_the_version_in_force_and_the_revision_beside_it(
    world: World, signed_in: Client
) -> None:
    agreement = _revised(world)
    page = signed_in(_email(world, C, Role.PROGRAM_MANAGER)).get(f"/slas/{agreement.id}")
    heading = page.text.split("<h1>", 1)[1].split("</h1>", 1)[0]
    assert "state-active" in heading
    assert "version 1 in force" in heading
    assert "draft" not in heading
    subtitle = page.text.split("</h1>", 1)[1].split("</p>", 1)[0]
    assert "revision: version 2" in subtitle
    assert "state-draft" in subtitle


def test_the_diff_shows_a_changed_target(world: World, signed_in: Client) -> None:
    agreement = _revised(world)
    client = signed_in(_email(world, P, Role.BUSINESS_OWNER))
    page = client.get(f"/slas/{agreement.id}/versions/2/diff")
    assert page.status_code == 200
    assert "What changed in version 2 since version 1" in page.text
    # The metric is named, its key only a hint beside the name.
    changed = page.text.split("Pay and leave processed accurately changed", 1)[1]
    changed = changed.split("</table>", 1)[0]
    assert re.search(r"target</th><td><del>99\.8</del></td><td><ins>99\.5</ins>", changed)
    # Against itself nothing changed; the first version has nothing to compare with.
    same = client.get(f"/slas/{agreement.id}/versions/2/diff", params={"against": 2})
    assert "No changes" in same.text
    first = client.get(f"/slas/{agreement.id}/versions/1/diff")
    assert "The first version" in first.text
    assert client.get(f"/slas/{agreement.id}/versions/2/diff?against=9").status_code == 404


def test_the_diff_names_added_and_removed_metrics_and_writes_money(
    world: World, signed_in: Client
) -> None:
    agreement = _revised(world)
    draft = world.version(agreement, 2)
    commands.edit_draft(
        world.session,
        actor=world.who(C, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id or 0,
        number=2,
        expected_lock_version=draft.lock_version,
        terms={"annual_cost": "5092500.00"},
        metrics=[m for m in draft.metrics if m["key"] != "fbwt-difference"],
        now=world.tick(),
    )
    client = signed_in(_email(world, P, Role.BUSINESS_OWNER))
    said = " ".join(client.get(f"/slas/{agreement.id}/versions/2/diff").text.split())
    assert (
        "<strong>Removed:</strong> <del>Fund Balance with Treasury dollar difference, customer "
        "vs Treasury reports</del>" in said
    )
    assert "fbwt-difference" not in said
    assert re.search(
        r"annual cost</th><td><del>\$4,850,000\.00</del></td>"
        r"<td><ins>\$5,092,500\.00</ins>",
        said,
    )


def test_the_approval_page_names_changed_metrics_and_writes_money(
    world: World, signed_in: Client
) -> None:
    agreement = _revised(world)
    draft = world.version(agreement, 2)
    commands.edit_draft(
        world.session,
        actor=world.who(C, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id or 0,
        number=2,
        expected_lock_version=draft.lock_version,
        terms={"annual_cost": "4900000.00"},
        now=world.tick(),
    )
    world.to_approval(agreement, 2)
    owner = world.who(C, Role.BUSINESS_OWNER)
    (task,) = [t for t in world.open_tasks(agreement, "approval") if t.assignee_id == owner.user_id]
    client = signed_in(owner.email)
    said = " ".join(client.get(f"/approvals/{task.id}").text.split())
    assert "<caption>Pay and leave processed accurately changed</caption>" in said
    assert "<del>$4,850,000.00</del></td><td><ins>$4,900,000.00</ins>" in said
    assert "Metric payroll-accuracy" not in said


def test_a_refused_event_says_why_in_one_sentence(world: World, signed_in: Client) -> None:
    agreement = world.create()
    pm = world.who(C, Role.PROGRAM_MANAGER)
    draft = world.version(agreement)
    commands.edit_draft(
        world.session,
        actor=pm,
        agreement_id=agreement.id or 0,
        number=1,
        expected_lock_version=draft.lock_version,
        metrics=[],
        now=world.tick(),
    )
    client = signed_in(_email(world, C, Role.PROGRAM_MANAGER))
    lock = LOCK.search(client.get(f"/slas/{agreement.id}").text)
    assert lock is not None
    answer = _post(
        client,
        f"/slas/{agreement.id}/versions/1/events/submit_for_review",
        {"lock_version": lock[1]},
    )
    assert answer.status_code == 409
    said = " ".join(answer.text.split())
    # The guard's own reason, in a sentence people say; not the API's code words.
    assert (
        "Version 1 cannot be submitted for review yet: the version has no metrics; add at "
        "least one." in said
    )
    assert "submit_for_review now" not in said
    assert "Not done" not in said
    assert _state(world, agreement) == "draft"


def test_the_version_page_shows_state_hash_and_approvals(world: World, signed_in: Client) -> None:
    agreement = world.create()
    world.to_approval(agreement)
    world.complete(world.open_tasks(agreement, "approval")[0], "approved")
    client = signed_in(_email(world, C, Role.FUNCTIONAL_LEAD))
    page = client.get(f"/slas/{agreement.id}/versions/1")
    assert page.status_code == 200
    version = world.version(agreement)
    assert version.content_hash in page.text
    approvals = page.text.split('id="approvals-title"', 1)[1].split("</section>", 1)[0]
    assert "<strong>approved</strong>" in approvals
    assert "waiting" in approvals
    assert f'href="/slas/{agreement.id}/versions/1/export.yaml"' in page.text
    assert "payroll-accuracy" in page.text
    # Each metric names the party responsible for it; a term with no entries is a dash.
    row = re.search(r"payroll-accuracy · quality</small></th>(.*?)</tr>", page.text, re.S)
    assert row is not None
    assert row[1].strip().endswith("<td>provider</td>")
    assert '<th scope="row">unit prices</th><td>—</td>' in page.text
    assert client.get(f"/slas/{agreement.id}/versions/7").status_code == 404


def test_the_export_is_the_versions_yaml(world: World, signed_in: Client) -> None:
    agreement = _revised(world)
    client = signed_in(_email(world, P, Role.PROGRAM_MANAGER))
    answer = client.get(f"/slas/{agreement.id}/versions/2/export.yaml")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/yaml")
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="{agreement.key}-v2.yaml"'
    )
    document = yaml.safe_load(answer.text)
    targets = {m["key"]: m["target"] for m in document["metrics"]}
    assert targets["payroll-accuracy"] == 99.5
    assert set(targets) == {m["key"] for m in world.version(agreement, 2).metrics}


def test_a_stranger_gets_not_found_everywhere(world: World, signed_in: Client) -> None:
    agreement = world.create()
    world.to_active(agreement)
    outsider = outsider_of_another_organisation(world)
    client = signed_in(outsider.email)
    base = f"/slas/{agreement.id}"
    for path in (
        base,
        f"{base}/versions/1",
        f"{base}/versions/1/diff",
        f"{base}/versions/1/export.yaml",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert agreement.key not in answer.text
    for path in (
        f"{base}/versions/1/events/terminate/confirm",
        f"{base}/versions/1/events/terminate",
        f"{base}/revisions",
    ):
        answer = _post(client, path, {"lock_version": "1", "comment": "x"})
        assert answer.status_code == 404, path
        assert agreement.key not in answer.text
    assert agreement.key not in client.get("/slas").text
    assert _state(world, agreement) == "active"
