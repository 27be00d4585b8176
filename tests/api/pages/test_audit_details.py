"""An audit event's data in words: names for ids and keys, formatted values, no raw dumps."""

from __future__ import annotations

from api.pages.audit_details import Detail, Vocabulary, explain, referenced
from api.pages.audit_sentences import action_choices, action_name, sentence

WORDS = Vocabulary(
    people={10: "Sam Okafor (customer Functional Lead)", 16: "Ana Ruiz (provider Program Manager)"},
    organizations={1: "Department of Examples"},
    versions={7: 2},
    metrics={"proper-payments": "Proper payments, excluding customer errors"},
)


def _flat(items: list[Detail]) -> dict[str, str]:
    return {d.label: d.value for d in items}


def test_a_completed_task_says_who_and_what_changed_in_words() -> None:
    data = {
        "task_id": 32,
        "outcome": "accepted",
        "comment": None,
        "before": {
            "id": 32,
            "assignee_id": 10,
            "state": "open",
            "outcome": None,
            "lock_version": 1,
        },
        "after": {
            "id": 32,
            "assignee_id": 10,
            "state": "completed",
            "outcome": "accepted",
            "lock_version": 2,
        },
    }
    said = explain(data, WORDS)
    assert _flat(said.changes) == {"State": "open → completed", "Outcome": "— → accepted"}
    # The rest of the record, without what the changes say already or what is empty.
    assert _flat(said.facts) == {"Task": "32"}


def test_people_versions_metrics_money_days_and_hashes_read_as_people_say_them() -> None:
    data = {
        "assignee_id": 10,
        "attendees": [10, 16],
        "version_id": 7,
        "metric": "proper-payments",
        "customer_org_id": 1,
        "to_state": "gap_analysis",
        "role": "functional_lead",
        "complete": True,
        "due_on": "2026-11-10",
        "results_hash": "f15e76a94b2a9a1ea2ed111a224432c2fc2c84f910f5779808ea97a20682e567",
        "changes": {"terms": {"annual_cost": {"from": "4850000.00", "to": "5092500.00"}}},
    }
    facts = _flat(explain(data, WORDS).facts)
    assert facts["Assigned to"] == "Sam Okafor (customer Functional Lead)"
    assert facts["Attendees"] == (
        "Sam Okafor (customer Functional Lead), Ana Ruiz (provider Program Manager)"
    )
    assert facts["Version"] == "version 2"
    assert facts["Metric"] == "Proper payments, excluding customer errors"
    assert facts["Customer"] == "Department of Examples"
    assert facts["To"] == "gap analysis"
    assert facts["Role"] == "Functional Lead"
    assert facts["Complete"] == "yes"
    assert facts["Due"] == "Tue 10 Nov 2026"
    assert facts["Results hash"] == "f15e76a94b2a…"
    (terms,) = next(d for d in explain(data, WORDS).facts if d.label == "Changes").items
    assert terms.items == [Detail("Annual cost", "$4,850,000.00 → $5,092,500.00")]


def test_a_changed_metric_is_listed_under_its_name() -> None:
    data = {
        "changes": {
            "metrics_added": [],
            "metrics_changed": {"proper-payments": {"target": {"from": 99.5, "to": 99.7}}},
        }
    }
    (changes,) = explain(data, WORDS).facts
    added, changed = changes.items
    assert added == Detail("Metrics added", "none")
    assert changed.items == [
        Detail(
            "Proper payments, excluding customer errors", items=[Detail("Target", "99.5 → 99.7")]
        )
    ]


def test_an_unknown_person_is_still_not_a_bare_number() -> None:
    assert _flat(explain({"owner_id": 99}, WORDS).facts) == {"Owner": "person 99"}


def test_the_ids_to_look_up_are_found_at_any_depth() -> None:
    data = {
        "user_id": 3,
        "organization_id": 1,
        "action_items": [{"owner_id": 16, "task_id": 36}],
        "proposed_by": {"user_id": 12},
    }
    assert referenced(data) == ({3, 16, 12}, {1})


def test_the_action_filter_speaks_words_and_keeps_the_codes() -> None:
    choices = dict(action_choices({"version.submit_for_approval", "task.completed", "gap.added"}))
    assert choices == {
        "version.submit_for_approval": "Submitted a version for approval",
        "task.completed": "Completed a task (reviews, approvals, confirmations)",
        "gap.added": "Raised a gap",
    }
    assert action_name("period.accept_with_exceptions") == (
        "Accepted the results of a period with exceptions"
    )
    assert action_name("corrective_action.submit_plan") == "Submitted a corrective action plan"


def test_sentences_name_metrics_when_their_names_are_known() -> None:
    names = {"proper-payments": "Proper payments"}
    gap = {"gap_id": 5, "metric": "proper-payments", "severity": "high"}
    assert sentence("gap.added", gap, actor="Cy", metrics=names) == (
        "Cy raised a high gap on Proper payments"
    )
    resolved = {"gap_id": 5, "metric": "proper-payments", "resolution": "provider_commits"}
    assert sentence("gap.resolved", resolved, actor="Cy", metrics=names) == (
        "Cy resolved the gap in Proper payments: provider commits"
    )
