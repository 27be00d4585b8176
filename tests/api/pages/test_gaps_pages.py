"""The gap analysis page over HTTP: gaps, resolve and add forms, finishing gap analysis, what-if."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from states import Role
from tests.api.pages.conftest import CSRF_FIELD, PASSWORD, Client
from tests.helpers import C, P, World
from tests.proposals import accept
from tests.workflow.test_compliance_report import local, o
from tests.workflow.test_compliance_sql import as_stored, store
from tests.workflow.test_what_if import OBSERVATIONS, VERSION
from workflow import commands
from workflow.commands.sign_in import set_passwords
from workflow.models import Agreement, Gap, Proposal

CORE = "core-app-availability"  # requires 99.9, the provider can deliver 99.5: a computed gap
POSTING = "payroll-posting-timeliness"  # requires 99, capability 98: the other computed gap
POSTING_NAME = "Payroll postings within 2 government work days of receipt of files"
OUTSIDER = "oscar.outsider@elsewhere.example"


def _path(agreement: Agreement, number: int = 1) -> str:
    return f"/slas/{agreement.id}/versions/{number}/gaps"


def _post(client: TestClient, agreement: Agreement, action: str, data: dict[str, Any]) -> Any:
    token = CSRF_FIELD.search(client.get(_path(agreement)).text)
    assert token is not None
    return client.post(
        _path(agreement) + action, data={**data, "csrf_token": token[1]}, follow_redirects=False
    )


def _gaps(world: World, agreement: Agreement) -> dict[str, Gap]:
    world.session.rollback()
    rows = world.session.exec(
        select(Gap).where(Gap.agreement_id == agreement.id).order_by(col(Gap.id))
    ).all()
    return {g.metric_key: g for g in rows}


def _in_gap_analysis(world: World) -> Agreement:
    """The example SLA in gap analysis, with two low months of core availability measured."""
    agreement = world.create()
    assert agreement.id is not None
    store(
        world.session,
        agreement.id,
        [o(CORE, local(2026, 9, 15, 12), 99.0), o(CORE, local(2026, 10, 15, 12), 99.95)],
    )
    world.session.commit()
    world.to_gap_analysis(agreement)
    return agreement


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


def test_the_page_lists_gaps_metrics_and_tasks(world: World, signed_in: Client) -> None:
    agreement = _in_gap_analysis(world)
    client = signed_in(world.who(C, Role.PROGRAM_MANAGER).email)
    page = client.get(_path(agreement))
    assert page.status_code == 200, page.text
    text = page.text
    assert "gap analysis" in text
    # Both computed gaps, with severity and source; the measured miss joins the core one.
    for gap in _gaps(world, agreement).values():
        assert f'id="gap-{gap.id}"' in text
        assert f'action="{_path(agreement)}/{gap.id}/resolve"' in text
    assert set(_gaps(world, agreement)) == {CORE, POSTING}
    assert "computed" in text
    assert "severity" in text
    assert "missed the requirement 99.9 percent in 1 of the last 6 months" in text
    # Requirement vs capability vs measured for the core metric, at the metric's precision
    # (its target 99.5: one decimal) and the actuals one finer.
    row = text.split(f'id="metric-{CORE}"')[1].split("</tr>")[0]
    assert "<td>99.9%</td>" in row
    assert "<td>99.5%</td>" in row
    assert "2026-09: 99.00%" in row
    assert "2026-10: 99.95%" in row
    assert "No measurements in the last windows." in text  # the other metrics
    # The gap-analysis tasks are listed; the customer PM holds none of them.
    assert "Confirm the customer&#39;s requirements" in text
    assert "Confirm the provider&#39;s capabilities" in text
    assert "/tasks/" not in text.split('id="gap-tasks"')[1].split("</table>")[0]
    assert f'action="{_path(agreement)}/submit"' in text  # either side's Program Manager
    assert "style-src 'self' 'unsafe-inline'" in page.headers["content-security-policy"]


def test_target_adjusted_needs_an_agreed_target_then_is_stored(
    world: World, signed_in: Client
) -> None:
    agreement = _in_gap_analysis(world)
    gap = _gaps(world, agreement)[POSTING]
    client = signed_in(world.who(C, Role.FUNCTIONAL_LEAD).email)

    refused = _post(client, agreement, f"/{gap.id}/resolve", {"resolution": "target_adjusted"})
    assert refused.status_code == 422
    assert "The gap was not resolved" in refused.text
    assert f'id="agreed-target-{gap.id}-error"' in refused.text
    assert "required for target_adjusted" in refused.text
    assert _gaps(world, agreement)[POSTING].resolution is None

    bad = _post(
        client,
        agreement,
        f"/{gap.id}/resolve",
        {"resolution": "target_adjusted", "agreed_target": "ninety"},
    )
    assert bad.status_code == 422
    assert "must be a number" in bad.text
    unjustified = _post(client, agreement, f"/{gap.id}/resolve", {"resolution": "waived"})
    assert unjustified.status_code == 422
    assert f'id="note-{gap.id}-error"' in unjustified.text
    assert "a waiver needs its justification" in unjustified.text

    done = _post(
        client,
        agreement,
        f"/{gap.id}/resolve",
        {"resolution": "target_adjusted", "agreed_target": "98.5", "note": "meet halfway"},
    )
    # An agreed target moves the provider's figure too: it is proposed to the provider.
    assert done.status_code == 303, done.text
    world.session.rollback()
    proposal = world.session.exec(select(Proposal)).one()
    assert done.headers["location"] == f"/proposals/{proposal.id}"
    shown = client.get(done.headers["location"]).text
    # The flash names the metric, not its key.
    assert f"You proposed to resolve the gap in {POSTING_NAME} as target adjusted" in shown
    assert _gaps(world, agreement)[POSTING].resolution is None
    accept(world, proposal)
    stored = _gaps(world, agreement)[POSTING]
    assert (stored.resolution, stored.agreed_target, stored.resolution_note) == (
        "target_adjusted",
        98.5,
        "meet halfway",
    )
    shown = client.get(_path(agreement)).text
    assert "agreed target 98.5" in shown
    assert f'action="{_path(agreement)}/{gap.id}/resolve"' not in shown

    # The same form again (a double submit) changes nothing and says so.
    again = _post(
        client,
        agreement,
        f"/{gap.id}/resolve",
        {"resolution": "waived", "note": "no"},
    )
    assert again.status_code == 303
    assert "Nothing more to do" in client.get(_path(agreement)).text
    assert _gaps(world, agreement)[POSTING].resolution == "target_adjusted"


def test_add_a_gap_by_hand(world: World, signed_in: Client) -> None:
    agreement = _in_gap_analysis(world)
    client = signed_in(world.who(P, Role.TECHNICAL_LEAD).email)
    empty = _post(
        client,
        agreement,
        "",
        {"metric_key": "fbwt-difference", "severity": "low", "description": ""},
    )
    assert empty.status_code == 422
    assert 'id="add-description-error"' in empty.text
    added = _post(
        client,
        agreement,
        "",
        {
            "metric_key": "fbwt-difference",
            "severity": "high",
            "description": "reconciliation tooling is not in place yet",
        },
    )
    assert added.status_code == 303, added.text
    gap = _gaps(world, agreement)["fbwt-difference"]
    assert (gap.source, gap.severity, gap.resolution) == ("manual", "high", None)
    shown = client.get(_path(agreement)).text
    assert (
        "Gap added to Fund Balance with Treasury dollar difference, customer vs Treasury reports "
        "(high)." in shown
    )
    title = shown.split(f'id="gap-{gap.id}-title">', 1)[1].split("<", 1)[0]
    assert title == "Fund Balance with Treasury dollar difference, customer vs Treasury reports"
    assert "reconciliation tooling is not in place yet" in shown


def test_finishing_gap_analysis_from_the_page(world: World, signed_in: Client) -> None:
    agreement = _in_gap_analysis(world)
    provider_pm = signed_in(world.who(P, Role.PROGRAM_MANAGER).email)

    # Too early: open gaps and tasks; refused on the page with the reasons.
    early = _post(provider_pm, agreement, "/submit", {})
    assert early.status_code == 409
    # One plain sentence from the guards' own reasons, not the API's "cannot … now: …".
    refusal = early.text.split('id="refusal">', 1)[1].split("</div>", 1)[0]
    assert " ".join(refusal.split()) == (
        "<p>Version 1 cannot be submitted for approval yet: every gap must be resolved before "
        "approval; gap-analysis tasks are still open.</p>"
    )
    assert "submit_for_approval" not in refusal
    assert world.version(agreement).state == "gap_analysis"

    for gap in _gaps(world, agreement).values():
        answer = _post(
            provider_pm,
            agreement,
            f"/{gap.id}/resolve",
            {"resolution": "provider_commits", "note": "capacity added"},
        )
        assert answer.status_code == 303
    holders = {
        "confirm_requirements": world.who(C, Role.FUNCTIONAL_LEAD),
        "confirm_capabilities": world.who(P, Role.TECHNICAL_LEAD),
    }
    for kind, who in holders.items():
        client = signed_in(who.email)
        (task,) = world.open_tasks(agreement, kind)
        page = client.get(_path(agreement)).text
        assert f'action="{_path(agreement)}/tasks/{task.id}"' in page
        done = _post(client, agreement, f"/tasks/{task.id}", {})
        assert done.status_code == 303, done.text
        assert "Done: Confirm" in client.get(_path(agreement)).text
        twice = _post(client, agreement, f"/tasks/{task.id}", {})
        assert twice.status_code == 303
        assert "was already done" in client.get(_path(agreement)).text
    for task in world.open_tasks(agreement, "lcce_review"):
        client = signed_in(world.actor_by_id(task.assignee_id).email)
        assert _post(client, agreement, f"/tasks/{task.id}", {}).status_code == 303
    assert not world.open_tasks(agreement, "confirm_requirements")

    page = provider_pm.get(_path(agreement)).text
    assert "Every gap is resolved." in page
    assert f'action="{_path(agreement)}/submit"' in page
    submitted = _post(provider_pm, agreement, "/submit", {})
    assert submitted.status_code == 303, submitted.text
    assert submitted.headers["location"] == f"/slas/{agreement.id}"
    assert world.version(agreement).state == "approval"
    after = provider_pm.get(_path(agreement)).text
    assert "Finish gap analysis" not in after
    assert "/resolve" not in after


def test_what_if_shows_both_targets_with_hand_computed_statuses(
    world: World, signed_in: Client
) -> None:
    agreement = world.create()
    assert agreement.id is not None
    as_stored(world, agreement, [VERSION])
    store(world.session, agreement.id, OBSERVATIONS)
    world.session.commit()
    client = signed_in(world.who(C, Role.FUNCTIONAL_LEAD).email)

    plain = client.get(_path(agreement))
    assert plain.status_code == 200
    assert f'action="{_path(agreement)}#what-if"' in plain.text
    assert "No gaps" in plain.text
    assert 'id="what-if-table"' not in plain.text

    page = client.get(_path(agreement), params={"metric": "availability", "target": "99.7"})
    assert page.status_code == 200, page.text
    table = page.text.split('id="what-if-table"')[1].split("</table>")[0]
    rows = re.findall(r'<tr><th scope="row">(\d{4}-\d\d)</th>(.*?)</tr>', table)
    statuses = {label: re.findall(r'class="status status-(\w+)"', cells) for label, cells in rows}
    assert statuses == {
        "2027-01": ["met", "warning"],
        "2027-02": ["warning", "missed"],
        "2027-03": ["no_data", "no_data"],
        "2027-04": ["missed", "missed"],
        "2027-05": ["missed", "missed"],
    }
    assert "Current target 99.5" in table
    assert "Proposed target 99.7" in table
    assert '<td id="credits-now">$1,000.00</td>' in table
    assert '<td id="credits-proposed">$1,500.00</td>' in table
    # The chart: bars and both target lines, email-safe (tables, no script, no svg).
    chart = page.text.split('class="table-wrap chart"')[1].split("</section>")[0]
    assert "Current target ≥ 99.5 u" in chart
    assert "proposed ≥ 99.7 u" in chart
    assert 'bgcolor="#0052CC"' in chart
    assert 'bgcolor="#172B4D"' in chart
    assert "2027-04: actual 99.2 u; current target: missed; proposed target: missed" in chart
    assert "<svg" not in chart
    assert "<script" not in chart

    looser = client.get(_path(agreement), params={"metric": "availability", "target": "99"})
    assert '<td id="credits-proposed">$500.00</td>' in looser.text

    for params, message in [
        ({"metric": "availability", "target": "lots"}, "as a number"),
        ({"metric": "nothing-such", "target": "1"}, "has no metric nothing-such"),
    ]:
        wrong = client.get(_path(agreement), params=params)
        assert wrong.status_code == 200
        assert message in wrong.text


def test_what_if_without_measurements_says_so(world: World, signed_in: Client) -> None:
    agreement = world.create()
    client = signed_in(world.who(P, Role.PROGRAM_MANAGER).email)
    page = client.get(_path(agreement), params={"metric": CORE, "target": "99.9"})
    assert page.status_code == 200
    assert "No measurements" in page.text
    assert f"no observations of {CORE} are recorded" in page.text
    assert "No gaps" in page.text  # a draft: nothing computed yet


def test_strangers_get_404_and_roles_without_manage_gaps_are_refused(
    world: World, signed_in: Client, engine: Engine
) -> None:
    agreement = _in_gap_analysis(world)
    gap = _gaps(world, agreement)[CORE]

    # A party's PMO Lead sees the page but may not resolve: the refusal is on the page.
    pmo = signed_in(world.who(P, Role.PMO_LEAD).email)
    refused = _post(
        pmo, agreement, f"/{gap.id}/resolve", {"resolution": "waived", "note": "not needed"}
    )
    assert refused.status_code == 403
    assert "The gap was not resolved" in refused.text
    assert 'role="alert"' in refused.text
    added = _post(pmo, agreement, "", {"metric_key": CORE, "severity": "low", "description": "x"})
    assert added.status_code == 403
    assert _gaps(world, agreement)[CORE].resolution is None
    assert set(_gaps(world, agreement)) == {CORE, POSTING}

    # Someone of an organisation party to nothing: 404 for the page and its forms.
    stranger = signed_in(_outsider(world))
    assert stranger.get(_path(agreement)).status_code == 404
    token = CSRF_FIELD.search(stranger.get("/tasks").text)
    assert token is not None
    resolve = stranger.post(
        f"{_path(agreement)}/{gap.id}/resolve",
        data={"resolution": "waived", "note": "x", "csrf_token": token[1]},
        follow_redirects=False,
    )
    assert resolve.status_code == 404
    assert _gaps(world, agreement)[CORE].resolution is None
