"""Every outbox topic renders to a safe, humane email: text first, HTML last, one Message-ID."""

from __future__ import annotations

import copy
from datetime import date
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from importlib.resources import files
from typing import Any

import pytest

from notifications.render import (
    ENV,
    Reason,
    RecipientInfo,
    Rendered,
    RenderError,
    UnknownTopicError,
    build_message,
    long_date,
    message_id_for,
    render,
    short_date,
)
from notifications.topics import TASK_ASKS, TOPICS
from states import MACHINES, MachineSpec
from tests.workflow.test_compliance_report import report
from workflow.compliance import RemedyPolicy
from workflow.compliance.closing import closing_in
from workflow.queries.periods import FinalReportData, results_of

BASE = "https://accord.example.gov"
AGREEMENT = {"id": 7, "key": "SLA-2026-0001", "title": "Payroll hosting"}
VERSION = {"id": 12, "number": 2, "modification_number": 1, "state": "joint_review"}
TASK = {
    "id": 41,
    "kind": "review",
    "title": "Review the draft (customer)",
    "detail": "",
    "side": "customer",
    "role": "functional_lead",
    "due_on": "2026-03-13",
    "assignee_id": 5,
}
SLA_LINK = f"{BASE}/slas/7"
TASK_LINK = f"{BASE}/tasks/41"
ANN = RecipientInfo("Ann Lee", "ann@example.com", Reason.ASSIGNEE)


EXTENSION = {
    "id": 4,
    "current_end": "2026-12-31",
    "new_end_date": "2027-06-30",
    "reason": "The new system is late.",
    "requested_side": "customer",
}


def _transition(
    event: str, source: str, dest: str, actor: str = "Dana Diaz", comment: str | None = None
) -> dict[str, Any]:
    """The payload `workflow.effects.apply_transition` writes."""
    return {
        "agreement": AGREEMENT,
        "version": {**VERSION, "state": dest},
        "event": event,
        "from_state": source,
        "to_state": dest,
        "actor": actor,
        "comment": comment,
    }


def _approval(outcome: str, comment: str | None) -> dict[str, Any]:
    task = {**TASK, "kind": "approval", "side": "provider", "role": "business_owner"}
    return {
        "agreement": AGREEMENT,
        "version": VERSION,
        "task": {**task, "title": "Approve the version"},
        "outcome": outcome,
        "actor": "Erin Ede",
        "comment": comment,
    }


def period_report_payload() -> dict[str, Any]:
    """The payload `workflow.commands.periods` writes when a report becomes final: data only."""
    full = report(RemedyPolicy.SERVICE_CREDITS)
    july = closing_in(full, date(2027, 7, 1), date(2027, 7, 31))
    return {
        "agreement": AGREEMENT,
        "version": {"id": None, "number": None, "modification_number": None, "state": None},
        "period": {
            "label": "2027-07",
            "first_day": "2027-07-01",
            "last_day": "2027-07-31",
            "state": "final",
            "round": 1,
        },
        "content_hash": "c0ffee" * 10 + "abcd",
        "amendment": None,
        "totals": results_of(july)["totals"],
        **FinalReportData(report=july, trend=full).payload(),
    }


def _proposal(state: str) -> dict[str, Any]:
    """A proposal as `workflow.subjects.proposal` announces it: the provider excuses a miss."""
    return {
        "agreement": AGREEMENT,
        "version": {"id": None, "number": None, "modification_number": None, "state": None},
        "proposal": {
            "id": 5,
            "kind": "excusal",
            "state": state,
            "summary": "excuse incident.resolution in 2027-07, charged to the customer",
            "proposer_side": "provider",
            "counterpart_side": "customer",
            "changes": [
                {
                    "what": "incident.resolution in 2027-07",
                    "before": "counts as a miss (if the window missed)",
                    "after": "excused, charged to the customer: tickets arrived late",
                }
            ],
        },
    }


PERIOD_REF = {
    "label": "2026-11",
    "first_day": "2026-11-01",
    "last_day": "2026-11-30",
    "state": "final",
    "round": 1,
}


def _corrective(event: str, to_state: str, comment: str | None = None) -> dict[str, Any]:
    """The payload `workflow.subjects.corrective_action_effects` writes for each step."""
    return {
        "agreement": AGREEMENT,
        "version": {"id": None, "number": None, "modification_number": None, "state": None},
        "period": PERIOD_REF,
        "corrective_action": {
            "id": 3,
            "metric_key": "invoice-payment-timeliness",
            "window": "2026-11",
            "side": "provider",
            "state": to_state,
            "root_cause": "Invoices keyed after the cut-off",
            "actions": [
                {"description": "Monitor the nightly batch", "owner_id": 5, "due_on": "2026-12-11"}
            ],
            "target_date": "2026-12-31",
        },
        "event": event,
        "to_state": to_state,
        "actor": "Dana Diaz",
        "comment": comment,
    }


CORRECTIVE_LINK = f"{BASE}/corrective-actions/3"
CORRECTIVE_FACTS = ["invoice-payment-timeliness", "2026-11", "provider", "Dana Diaz"]

# topic -> (payload, the link the email points to, facts both parts must state)
EXAMPLES: dict[str, tuple[dict[str, Any], str, list[str]]] = {
    "corrective_action.plan_submitted": (
        _corrective("submit_plan", "plan_submitted"),
        CORRECTIVE_LINK,
        [
            *CORRECTIVE_FACTS,
            "Invoices keyed after the cut-off",
            "Monitor the nightly batch",
            "Thursday 31 December 2026",
            "accepts the plan or asks for rework",
        ],
    ),
    "corrective_action.plan_accepted": (
        _corrective("accept_plan", "in_progress"),
        CORRECTIVE_LINK,
        [*CORRECTIVE_FACTS, "in progress", "reports completion"],
    ),
    "corrective_action.rework_requested": (
        _corrective("request_rework", "open", comment="Name the root cause, not the symptom"),
        CORRECTIVE_LINK,
        [*CORRECTIVE_FACTS, "back for rework", "Name the root cause, not the symptom"],
    ),
    "corrective_action.completion_reported": (
        _corrective("report_completion", "completed", comment="Monitoring is live"),
        CORRECTIVE_LINK,
        [*CORRECTIVE_FACTS, "Monitoring is live", "confirms closure"],
    ),
    "corrective_action.closed": (
        _corrective("confirm_closure", "closed"),
        CORRECTIVE_LINK,
        [*CORRECTIVE_FACTS, "closed it"],
    ),
    "chronic_miss.detected": (
        {
            "agreement": AGREEMENT,
            "version": {"id": None, "number": None, "modification_number": None, "state": None},
            "period": PERIOD_REF,
            "metric_key": "invoice-payment-timeliness",
            "windows": ["2026-09", "2026-10", "2026-11"],
            "threshold": 3,
        },
        f"{SLA_LINK}/periods/2026-11",
        [
            "invoice-payment-timeliness",
            "2026-09, 2026-10, 2026-11",
            "3 consecutive misses",
            "Executive Sponsors",
            "service review",
        ],
    ),
    "period.escalated": (
        {
            "agreement": AGREEMENT,
            "version": {"id": None, "number": None, "modification_number": None, "state": None},
            "period": {**PERIOD_REF, "state": "escalated", "round": 2},
            "trigger": "rounds",
            "dispute_rounds": 2,
            "rounds_allowed": 2,
            "business_days_allowed": 15,
        },
        f"{SLA_LINK}/periods/2026-11",
        ["2026-11", "after 2 dispute rounds", "2 rounds or 15 business days", "decide"],
    ),
    "period.dispute_decided": (
        {
            "agreement": AGREEMENT,
            "version": {"id": None, "number": None, "modification_number": None, "state": None},
            "period": {**PERIOD_REF, "state": "disputed", "round": 2},
            "decision": "sustained",
            "sponsors": [
                {"side": "customer", "decision": "sustained", "comment": "Reload the 28th."},
                {"side": "provider", "decision": "sustained", "comment": "Agreed."},
            ],
        },
        f"{SLA_LINK}/periods/2026-11",
        [
            "Sponsors sustained",
            "back to the provider",
            "Reload the 28th.",
            "provider Executive Sponsor",
        ],
    ),
    "task.assigned": (
        {"agreement": AGREEMENT, "version": VERSION, "task": TASK},
        TASK_LINK,
        [
            "SLA-2026-0001",
            "Review the draft (customer)",
            "Customer Functional Lead (you)",
            "Friday 13 March 2026",
            "accept it or request changes",
        ],
    ),
    "review.requested": (
        _transition("submit_for_review", "draft", "joint_review"),
        SLA_LINK,
        ["Dana Diaz", "version 2 (modification 1)", "joint review"],
    ),
    "changes.requested": (
        _transition("request_changes", "joint_review", "draft", comment="Raise it to 99.9%."),
        SLA_LINK,
        ["Dana Diaz requested changes", "Raise it to 99.9%.", "rework"],
    ),
    "gap_analysis.opened": (
        _transition("complete_review", "joint_review", "gap_analysis", actor="Accord"),
        SLA_LINK,
        ["gap analysis has begun", "resolved"],
    ),
    "rework.requested": (
        _transition("request_rework", "gap_analysis", "draft", comment="The LCCE is stale."),
        SLA_LINK,
        ["back from gap analysis to draft", "The LCCE is stale.", "Dana Diaz"],
    ),
    "approval.requested": (
        _transition("submit_for_approval", "gap_analysis", "approval"),
        SLA_LINK,
        ["submitted version 2 (modification 1)", "for approval", "Business Owners"],
    ),
    "version.approved": (
        _approval("approved", None),
        SLA_LINK,
        ["Erin Ede", "provider Business Owner", "approved version 2"],
    ),
    "version.approved_with_conditions": (
        _approval("approved_with_conditions", "Add a disaster-recovery test by June."),
        SLA_LINK,
        ["Erin Ede", "on conditions", "Add a disaster-recovery test by June.", "follow-up task"],
    ),
    "version.rejected": (
        _transition("reject", "approval", "draft", actor="Erin Ede", comment="Too costly."),
        SLA_LINK,
        ["Erin Ede did not accept", "Too costly.", "back in draft"],
    ),
    "version.activated": (
        _transition("activate", "approval", "active", actor="Accord"),
        SLA_LINK,
        ["now in force", "version 2 (modification 1)"],
    ),
    "version.superseded": (
        _transition("supersede", "active", "superseded", actor="Accord"),
        SLA_LINK,
        ["replaced by a later version", "no longer in force"],
    ),
    "version.withdrawn": (
        _transition("withdraw", "gap_analysis", "withdrawn", comment="A new contract replaces it."),
        SLA_LINK,
        ["Dana Diaz withdrew", "A new contract replaces it.", "will not come into force"],
    ),
    "version.expired": (
        _transition("expire", "active", "expired", actor="Accord"),
        SLA_LINK,
        ["period of performance", "has expired"],
    ),
    "agreement.terminated": (
        _transition("terminate", "active", "terminated", actor="Erin Ede", comment="Retired."),
        SLA_LINK,
        ["Erin Ede terminated", "Retired.", "no longer in force"],
    ),
    "task.reminder": (
        {
            "agreement": AGREEMENT,
            "version": VERSION,
            "task": TASK,
            "step": "before:2",
            "due_on": "2026-03-13",
            "business_days_overdue": 0,
        },
        TASK_LINK,
        ["due in 2 business days", "Friday 13 March 2026", "Review the draft (customer)"],
    ),
    "task.escalated": (
        {
            "agreement": AGREEMENT,
            "version": VERSION,
            "task": TASK,
            "escalated_to_role": "program_manager",
            "side": "customer",
            "business_days_overdue": 3,
            "holder": {"name": "Pat Park", "email": "pat@example.com"},
        },
        TASK_LINK,
        [
            "3 business days overdue",
            "escalated to the customer Program Manager",
            "Customer Program Manager: Pat Park <pat@example.com>",
            "Friday 13 March 2026",
            "follow up with the customer Functional Lead",
        ],
    ),
    "delegation.started": (
        {
            "delegation_id": 3,
            "delegator": "Bo Chen",
            "delegate": "Ann Lee",
            "starts_on": "2026-03-02",
            "ends_on": "2026-03-06",
        },
        f"{BASE}/tasks",
        ["Bo Chen has delegated", "to Ann Lee", "Monday 2 March 2026", "Friday 6 March 2026"],
    ),
    "extension.requested": (
        {
            **_transition("request", "proposed", "requested"),
            "extension": EXTENSION,
        },
        SLA_LINK,
        [
            "Dana Diaz asks both Business Owners",
            "Thursday 31 December 2026",
            "Wednesday 30 June 2027",
            "The new system is late.",
        ],
    ),
    "extension.rejected": (
        {
            **_transition("reject", "requested", "rejected", actor="Erin Ede", comment="No."),
            "extension": EXTENSION,
        },
        SLA_LINK,
        ["Erin Ede did not approve", "still ends on Thursday 31 December 2026", "No."],
    ),
    "account.invitation": (
        {
            "account": {"name": "Ann Lee", "email": "ann@x.example", "organization": "Acme"},
            "invited_by": "Ada Admin",
            "token": "tok-123",
            "expires_at": "2026-03-09T14:00:00+00:00",
        },
        f"{BASE}/account/links/tok-123",
        ["Ada Admin invited you", "ann@x.example", "Monday 9 March 2026", "works once"],
    ),
    "account.password_reset": (
        {
            "account": {"name": "Ann Lee", "email": "ann@x.example", "organization": "Acme"},
            "invited_by": None,
            "token": "tok-456",
            "expires_at": "2026-03-02T15:00:00+00:00",
        },
        f"{BASE}/account/links/tok-456",
        ["reset the password", "ann@x.example", "did not ask for it"],
    ),
    "agreement.renewal_upcoming": (
        {"agreement": AGREEMENT, "version": VERSION, "period_end": "2026-12-31", "days_before": 90},
        SLA_LINK,
        ["ends in 90 days", "Thursday 31 December 2026", "start a revision"],
    ),
    "annual_review.due": (
        {
            "agreement": AGREEMENT,
            "version": VERSION,
            "task": {
                **TASK,
                "kind": "annual_review",
                "role": "business_owner",
                "title": "Annual review of the SLA",
            },
        },
        TASK_LINK,
        ["annual review", "Friday 13 March 2026", "Customer Business Owner (you)"],
    ),
    "service_review.due": (
        {
            "agreement": AGREEMENT,
            "version": VERSION,
            "task": {
                **TASK,
                "kind": "service_review",
                "side": "provider",
                "role": "program_manager",
                "title": "Quarterly service review",
            },
        },
        TASK_LINK,
        ["quarterly service review", "Friday 13 March 2026", "Provider Program Manager (you)"],
    ),
    "period.final": (
        period_report_payload(),
        f"{SLA_LINK}/periods/2027-07",
        [
            "results of 2027-07",
            "the report is now final",
            "31 July 2027",
            "c0ffee",
            "amendments",
            "incident.resolution",
        ],
    ),
    "period.amended": (
        {**period_report_payload(), "amendment": 2},
        f"{SLA_LINK}/periods/2027-07",
        ["2027-07", "corrected by amendment 2", "stays on record", "incident.resolution"],
    ),
    "proposal.made": (
        {**_proposal("open"), "actor": "Erin Ede", "comment": None},
        f"{BASE}/proposals/5",
        ["Erin Ede (provider) proposes", "customer accepts", "in 2027-07", "counts as a miss"],
    ),
    "proposal.decided": (
        {**_proposal("rejected"), "actor": "Ann Lee", "comment": "Our data was on time."},
        f"{BASE}/proposals/5",
        ["was rejected by Ann Lee", "Our data was on time.", "Nothing changed."],
    ),
    "digest.daily": (
        {
            "items": [
                {
                    "topic": "task.assigned",
                    "subject": "[SLA-2026-0001] Review the draft",
                    "summary": "You have a new task on SLA-2026-0001.",
                    "link": "/tasks/41",
                },
                {
                    "topic": "version.activated",
                    "subject": "[SLA-2026-0002] Version 1 is in force",
                    "summary": "Every approval was given.",
                    "link": f"{BASE}/slas/9",
                },
            ]
        },
        f"{BASE}/tasks",
        [
            "2 updates",
            "[SLA-2026-0001] Review the draft",
            "You have a new task on SLA-2026-0001.",
            TASK_LINK,
            f"{BASE}/slas/9",
            "Every approval was given.",
        ],
    ),
}

EVIL = "<script>alert(1)</script> {{ 7*7 }}\r\nBcc: evil@example.com"


def _render(topic: str, payload: dict[str, Any], recipient: RecipientInfo = ANN) -> Rendered:
    return render(topic, payload, recipient, base_url=BASE)


def _parse(message: EmailMessage) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def _html_escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- every topic ------------------------------------------------------------------------


def test_every_topic_has_an_example_and_templates() -> None:
    assert set(EXAMPLES) == set(TOPICS)
    names = {p.name for p in files("notifications").joinpath("templates").iterdir()}
    expected = {f"{t}.{ext}" for t in TOPICS for ext in ("txt", "html")}
    assert expected <= names
    shared = {"layout.txt", "layout.html", "_macros.txt", "_macros.html"}
    assert names - expected == shared, "a template that belongs to no topic"


@pytest.mark.parametrize("spec", MACHINES, ids=lambda spec: spec.name)
def test_every_transition_announces_a_known_topic(spec: MachineSpec) -> None:
    assert {t.topic for t in spec.transitions if t.topic} <= set(TOPICS)


def test_metrics_are_named_in_emails_and_rows_queued_before_names_keep_their_key() -> None:
    name = "Commercial invoices paid within 30 calendar days after receipt"
    named = _corrective("submit_plan", "plan_submitted")
    named["corrective_action"] = {**named["corrective_action"], "metric_name": name}
    rendered = _render("corrective_action.plan_submitted", named)
    assert name in rendered.subject
    assert "invoice-payment-timeliness" not in rendered.text
    chronic = {**EXAMPLES["chronic_miss.detected"][0], "metric_name": name}
    rendered = _render("chronic_miss.detected", chronic)
    assert rendered.summary.startswith(name)
    assert "invoice-payment-timeliness" not in rendered.text
    # An outbox row written before payloads carried names still renders, with the key.
    old = _render("chronic_miss.detected", EXAMPLES["chronic_miss.detected"][0])
    assert old.summary.startswith("invoice-payment-timeliness")


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_every_topic_renders_both_parts_with_link_and_facts(topic: str) -> None:
    payload, link, facts = EXAMPLES[topic]
    rendered = _render(topic, payload)
    assert rendered.subject.strip()
    assert "\n" not in rendered.subject
    assert "\r" not in rendered.subject
    assert rendered.link == link
    assert rendered.summary
    assert "\n" not in rendered.summary
    assert rendered.text.startswith("Hello Ann Lee,")
    assert rendered.html.startswith("<!DOCTYPE html>")
    assert f'href="{link}"' in rendered.html
    assert link in rendered.text
    assert rendered.summary in rendered.text
    for fact in facts:
        assert fact.lower() in rendered.text.lower(), fact
        assert _html_escaped(fact).lower() in rendered.html.lower(), fact
    if topic.startswith("account."):  # about the account: no task, no agreement
        assert "because an account on Accord has this email address" in rendered.text
    else:
        assert "You receive this because the task is assigned to you." in rendered.text


@pytest.mark.parametrize(
    "topic", sorted(t for t in TOPICS if t != "digest.daily" and not t.startswith("account."))
)
def test_subjects_name_the_agreement_or_the_people(topic: str) -> None:
    subject = _render(topic, EXAMPLES[topic][0]).subject
    assert "SLA-2026-0001" in subject or "Bo Chen delegates tasks to Ann Lee" in subject


def test_the_task_assigned_subject_says_what_the_kind_asks() -> None:
    subjects = set()
    for kind, ask in TASK_ASKS.items():
        rendered = _render(
            "task.assigned", {**EXAMPLES["task.assigned"][0], "task": {**TASK, "kind": kind}}
        )
        assert rendered.subject == (
            f"[SLA-2026-0001] {ask.subject}: Payroll hosting, due Fri 13 Mar 2026"
        )
        assert ask.request in rendered.text
        subjects.add(rendered.subject)
    assert len(subjects) == len(TASK_ASKS) == 18
    unknown = _render(
        "task.assigned",
        {**EXAMPLES["task.assigned"][0], "task": {**TASK, "kind": "a_kind_added_later"}},
    )
    assert unknown.subject.startswith("[SLA-2026-0001] New task:")


def test_a_task_detail_such_as_a_condition_is_shown() -> None:
    task = {**TASK, "kind": "follow_up", "detail": "Condition of approval by Erin: <DR test>"}
    rendered = _render("task.assigned", {"agreement": AGREEMENT, "version": VERSION, "task": task})
    assert "Condition of approval by Erin: <DR test>" in rendered.text
    assert "Condition of approval by Erin: &lt;DR test&gt;" in rendered.html


@pytest.mark.parametrize(
    ("step", "overdue", "subject", "sentence"),
    [
        (
            "before:2",
            0,
            "Reminder: Review the draft (customer) is due Fri 13 Mar 2026",
            "is due in 2 business days, on Friday 13 March 2026",
        ),
        (
            "before:1",
            0,
            "Reminder: Review the draft (customer) is due Fri 13 Mar 2026",
            "is due in 1 business day, on",
        ),
        ("due", 0, "Due today: Review the draft (customer)", "is due today, Friday 13 March 2026"),
        (
            "overdue:4",
            4,
            "Overdue by 4 business days: Review the draft (customer)",
            "it was due on Friday 13 March 2026, 4 business days ago",
        ),
    ],
)
def test_reminders_say_how_soon_or_how_late(
    step: str, overdue: int, subject: str, sentence: str
) -> None:
    payload = {**EXAMPLES["task.reminder"][0], "step": step, "business_days_overdue": overdue}
    rendered = _render("task.reminder", payload)
    assert rendered.subject == f"[SLA-2026-0001] {subject}"
    assert sentence in rendered.text
    escalates = "escalated to the side's Program Manager after 3 business days"
    assert (escalates in rendered.text) is step.startswith("overdue")


@pytest.mark.parametrize("step", ["soon", "before:", "before:0", "overdue:x", "due:1", ""])
def test_an_unknown_reminder_step_is_refused(step: str) -> None:
    payload = {**EXAMPLES["task.reminder"][0], "step": step}
    with pytest.raises(RenderError, match="reminder step"):
        _render("task.reminder", payload)


def test_an_overdue_reminder_never_escalates_a_task_to_its_own_role() -> None:
    task = {**TASK, "kind": "service_review", "role": "program_manager"}
    payload = {**EXAMPLES["task.reminder"][0], "task": task, "step": "overdue:2"}
    text = _render("task.reminder", payload).text
    assert "escalated to the side's Executive Sponsor after 10 business days." in text
    assert "Program Manager after" not in text


def test_a_late_renewal_reminder_says_how_many_days_really_remain() -> None:
    payload = {**EXAMPLES["agreement.renewal_upcoming"][0], "days_remaining": 1}
    rendered = _render("agreement.renewal_upcoming", payload)
    assert rendered.subject == "[SLA-2026-0001] Ends in 1 day: Payroll hosting"
    assert "ends in 1 day, on Thursday 31 December 2026" in rendered.text


def test_an_escalation_for_an_unfilled_role_says_so() -> None:
    payload = {**EXAMPLES["task.escalated"][0], "holder": None}
    rendered = _render("task.escalated", payload)
    assert "Escalated to:  Customer Program Manager (not filled)" in rendered.text


@pytest.mark.parametrize(
    ("recipient", "why", "for_line"),
    [
        (ANN, "because the task is assigned to you.", "Customer Functional Lead (you)"),
        (
            RecipientInfo("Ann Lee", "ann@example.com", Reason.DELEGATE, acting_for="Bo Chen"),
            "because you act for Bo Chen while they are away.",
            "Customer Functional Lead: Bo Chen, for whom you act",
        ),
        (
            RecipientInfo("Bo Chen", "bo@example.com", Reason.DELEGATOR, delegate="Ann Lee"),
            "a copy because Ann Lee acts for you while you are away.",
            "Customer Functional Lead (you; Ann Lee acts for you)",
        ),
        (
            RecipientInfo(
                "Cy Dunn",
                "cy@example.com",
                Reason.ROLE_HOLDER,
                side="provider",
                role="business_owner",
            ),
            "because you are the provider Business Owner on SLA-2026-0001.",
            "Customer Functional Lead\n",
        ),
        (
            RecipientInfo("Cy Dunn", "cy@example.com", Reason.ROLE_HOLDER),
            "because you are a stakeholder on SLA-2026-0001.",
            "Customer Functional Lead\n",
        ),
        (
            RecipientInfo(
                "Pat Park",
                "pat@example.com",
                Reason.ESCALATION,
                side="customer",
                role="program_manager",
            ),
            "because overdue tasks on SLA-2026-0001 escalate to the customer Program Manager.",
            "Customer Functional Lead\n",
        ),
        (
            RecipientInfo("Ann Lee", "ann@example.com", Reason.DIGEST),
            "one digest a day because you chose digest delivery.",
            "Customer Functional Lead\n",
        ),
    ],
)
def test_each_email_says_why_the_recipient_gets_it(
    recipient: RecipientInfo, why: str, for_line: str
) -> None:
    rendered = _render("task.assigned", EXAMPLES["task.assigned"][0], recipient)
    assert why in rendered.text
    assert _html_escaped(why) in rendered.html
    assert f"For:           {for_line}" in rendered.text


def test_a_reason_may_be_given_as_its_value_but_must_exist() -> None:
    reason: Any = "delegate"  # as notifications.recipients hands it over
    assert RecipientInfo("A", "a@example.com", reason).reason is Reason.DELEGATE
    with pytest.raises(ValueError, match="'boss'"):
        RecipientInfo("A", "a@example.com", "boss")  # type: ignore[arg-type]


def test_dates_are_unambiguous_and_locale_free() -> None:
    assert long_date("2026-07-03") == "Friday 3 July 2026"
    assert long_date("2026-11-26T15:00:00+00:00") == "Thursday 26 November 2026"
    # A moment is placed on the business calendar first, as on the pages: 03:00 UTC on the
    # 27th is still the 26th in New York.
    assert long_date("2026-11-27T03:00:00+00:00") == "Thursday 26 November 2026"
    assert short_date("2026-03-13") == "Fri 13 Mar 2026"


def test_emails_write_through_the_same_formats_as_the_pages() -> None:
    env = ENV
    template = env.from_string(
        "{{ '4850000'|money }} · {{ 99.69492|measured({'unit': 'percent', 'target': 99.5}) }}"
        " · {{ 99|figure({'unit': 'percent', 'target': 99}) }} · {{ 'gap_analysis'|state_label }}"
        " · {{ '2026-12-03T13:45:00+00:00'|moment }}"
    )
    assert template.render() == (
        "$4,850,000.00 · 99.69% · 99.0% · gap analysis · Thu 3 Dec 2026, 08:45 EST"
    )


def test_the_environment_escapes_html_only() -> None:
    assert ENV.autoescape is not False
    assert callable(ENV.autoescape)
    assert ENV.autoescape("x.html") is True
    assert ENV.autoescape("x.txt") is False
    assert ENV.autoescape("x.html.j2") is True  # anything unknown is escaped


def test_text_is_not_escaped_and_html_is() -> None:
    payload = copy.deepcopy(EXAMPLES["task.assigned"][0])
    payload["agreement"]["title"] = "Pay & Benefits <HR>"
    rendered = _render("task.assigned", payload)
    assert "SLA-2026-0001 — Pay & Benefits <HR>" in rendered.text
    assert "Pay &amp; Benefits &lt;HR&gt;" in rendered.html
    assert "<HR>" not in rendered.html
    assert "Pay & Benefits <HR>" in rendered.subject


# --- failing loudly -----------------------------------------------------------------------


def test_an_unknown_topic_is_a_clear_error() -> None:
    with pytest.raises(UnknownTopicError, match=r"'task\.assigend'"):
        _render("task.assigend", {})


@pytest.mark.parametrize(
    ("topic", "path", "field"),
    [
        ("task.assigned", ("task", "due_on"), "due_on"),
        ("task.assigned", ("agreement",), "agreement"),
        ("version.rejected", ("actor",), "actor"),
        ("version.approved", ("task", "role"), "role"),
        ("task.escalated", ("holder",), "holder"),
        ("agreement.renewal_upcoming", ("days_before",), "days_before"),
        ("digest.daily", ("items",), "items"),
    ],
)
def test_a_missing_payload_field_fails_loudly(
    topic: str, path: tuple[str, ...], field: str
) -> None:
    payload = copy.deepcopy(EXAMPLES[topic][0])
    parent = payload
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    with pytest.raises(RenderError, match=field):
        _render(topic, payload)


def test_reserved_names_cannot_come_from_a_payload() -> None:
    payload = {**EXAMPLES["task.assigned"][0], "recipient": {"name": "Mallory"}}
    with pytest.raises(RenderError, match="reserved"):
        _render("task.assigned", payload)


@pytest.mark.parametrize(
    "base_url", ["javascript:alert(1)", "accord.example.gov", "https://x.gov/a b", ""]
)
def test_the_base_url_must_be_http(base_url: str) -> None:
    with pytest.raises(RenderError, match="ACCORD_BASE_URL"):
        render("task.assigned", EXAMPLES["task.assigned"][0], ANN, base_url=base_url)


def test_the_base_url_may_have_a_path_and_a_trailing_slash() -> None:
    rendered = render(
        "task.assigned", EXAMPLES["task.assigned"][0], ANN, base_url="https://x.gov/accord/"
    )
    assert rendered.link == "https://x.gov/accord/tasks/41"


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "//evil.example.com/x", "data:text/html,x"]
)
def test_a_digest_link_must_be_a_path_or_http(link: str) -> None:
    item = {"topic": "x", "subject": "s", "summary": "s", "link": link}
    with pytest.raises(RenderError, match="refusing link"):
        _render("digest.daily", {"items": [item]})


# --- injection ----------------------------------------------------------------------------


def _poisoned(topic: str) -> dict[str, Any]:
    """The example payload with every user-typed string replaced by EVIL."""
    payload = copy.deepcopy(EXAMPLES[topic][0])
    for key in ("actor", "delegator", "delegate"):
        if key in payload:
            payload[key] = EVIL
    if payload.get("comment") is not None or "event" in payload:
        payload["comment"] = EVIL
    if "agreement" in payload:
        payload["agreement"]["title"] = EVIL
    if "task" in payload:
        payload["task"]["title"] = EVIL
        payload["task"]["detail"] = EVIL
    if payload.get("holder"):
        payload["holder"]["name"] = EVIL
    for item in payload.get("items", []):
        item["subject"] = item["summary"] = EVIL
    if "proposal" in payload:
        payload["proposal"]["summary"] = EVIL
        for change in payload["proposal"]["changes"]:
            change["what"] = change["before"] = change["after"] = EVIL
    return payload


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_user_text_renders_inert(topic: str) -> None:
    recipient = RecipientInfo(EVIL, "ann@example.com", Reason.DELEGATE, acting_for=EVIL)
    rendered = _render(topic, _poisoned(topic), recipient)
    assert "<script" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "49" not in rendered.text
    assert "49" not in rendered.html
    assert "{{ 7*7 }}" in rendered.text
    assert "\r" not in rendered.subject
    assert "\n" not in rendered.subject

    message = build_message(
        rendered,
        sender=("Accord", "accord@example.gov"),
        to=[(EVIL, "ann@example.com")],
        cc=[(EVIL, "bo@example.com")],
        message_id=message_id_for(5, 9),
    )
    parsed = _parse(message)
    assert parsed["Bcc"] is None
    assert set(parsed.keys()) == {
        "Subject",
        "From",
        "To",
        "Cc",
        "Message-ID",
        "Auto-Submitted",
        "MIME-Version",
        "Content-Type",
    }
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ann@example.com"]
    assert [a.addr_spec for a in parsed["Cc"].addresses] == ["bo@example.com"]
    assert parsed["To"].addresses[0].display_name == one_line_evil()


def one_line_evil() -> str:
    return "<script>alert(1)</script> {{ 7*7 }} Bcc: evil@example.com"


def test_a_subject_with_cr_lf_is_flattened_by_build_message() -> None:
    rendered = Rendered(
        subject="Hello\r\nBcc: evil@example.com\n\nbody",
        text="t",
        html="<p>h</p>",
        link=TASK_LINK,
        summary="s",
    )
    parsed = _parse(
        build_message(
            rendered,
            sender=("Accord", "accord@example.gov"),
            to=[("Ann", "ann@example.com")],
            message_id=message_id_for(1, 2),
        )
    )
    assert parsed["Subject"] == "Hello Bcc: evil@example.com body"
    assert parsed["Bcc"] is None


@pytest.mark.parametrize(
    "address", ["ann@example.com\r\nBcc: evil@example.com", "ann@example.com\n", "a b@example.com"]
)
def test_an_address_with_cr_lf_is_refused(address: str) -> None:
    rendered = _render("task.assigned", EXAMPLES["task.assigned"][0])
    with pytest.raises(ValueError, match="address"):
        build_message(
            rendered,
            sender=("Accord", "accord@example.gov"),
            to=[("Ann", address)],
            message_id=message_id_for(1, 2),
        )


def test_a_very_long_title_gives_a_bounded_subject() -> None:
    payload = copy.deepcopy(EXAMPLES["task.assigned"][0])
    payload["agreement"]["title"] = "Payroll " * 100
    subject = _render("task.assigned", payload).subject
    assert len(subject) == 200
    assert subject.endswith("…")


# --- the message --------------------------------------------------------------------------


def _message(outbox_id: int = 12, user_id: int = 34) -> EmailMessage:
    rendered = _render("task.assigned", EXAMPLES["task.assigned"][0])
    return build_message(
        rendered,
        sender=("Accord", "accord@example.gov"),
        to=[("Ann Lee", "ann@example.com")],
        cc=[("Bo Chen", "bo@example.com")],
        message_id=message_id_for(outbox_id, user_id),
    )


def test_the_message_id_is_stable_per_outbox_row_and_recipient() -> None:
    assert message_id_for(12, 34) == "<outbox-12.34@accord.local>"
    assert message_id_for(12) == "<outbox-12@accord.local>"
    assert message_id_for(12, 34, domain="mail.example.gov") == "<outbox-12.34@mail.example.gov>"
    assert _parse(_message())["Message-ID"] == _parse(_message())["Message-ID"]
    assert _parse(_message())["Message-ID"] == "<outbox-12.34@accord.local>"
    assert _parse(_message(user_id=35))["Message-ID"] != _parse(_message())["Message-ID"]
    assert _parse(_message(outbox_id=13))["Message-ID"] != _parse(_message())["Message-ID"]


@pytest.mark.parametrize("bad", ["outbox-1@accord.local", "<a b@x>", "<x@y>\r\nBcc: e@x", "<x>"])
def test_a_malformed_message_id_is_refused(bad: str) -> None:
    rendered = _render("task.assigned", EXAMPLES["task.assigned"][0])
    with pytest.raises(ValueError, match="Message-ID"):
        build_message(
            rendered, sender=("A", "a@example.com"), to=[("B", "b@example.com")], message_id=bad
        )


def test_a_message_needs_a_recipient() -> None:
    rendered = _render("task.assigned", EXAMPLES["task.assigned"][0])
    with pytest.raises(ValueError, match="To"):
        build_message(rendered, sender=("A", "a@example.com"), to=[], message_id="<x@y>")


def test_the_message_is_multipart_alternative_plain_first_html_last() -> None:
    rendered = _render("task.assigned", EXAMPLES["task.assigned"][0])
    parsed = _parse(_message())
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    plain, html = parts
    assert isinstance(plain, EmailMessage)
    assert isinstance(html, EmailMessage)
    assert plain.get_content() == rendered.text
    assert html.get_content().rstrip("\n") == rendered.html.rstrip("\n")
    # A subject that fits on a line only without "Subject: " is folded before its first word
    # by the standard library, which leaves one space in front once the header is unfolded.
    assert parsed["Subject"].lstrip() == rendered.subject
    assert parsed["From"] == "Accord <accord@example.gov>"
    assert parsed["To"] == "Ann Lee <ann@example.com>"
    assert parsed["Cc"] == "Bo Chen <bo@example.com>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Date"] is None  # the sender stamps it


def test_build_message_sets_a_date_when_given() -> None:
    from datetime import UTC, datetime

    rendered = _render("task.assigned", EXAMPLES["task.assigned"][0])
    message = build_message(
        rendered,
        sender=("Accord", "accord@example.gov"),
        to=[("Ann Lee", "ann@example.com")],
        message_id=message_id_for(1, 1),
        date=datetime(2026, 3, 9, 14, 30, tzinfo=UTC),
    )
    assert _parse(message)["Date"] == "Mon, 09 Mar 2026 14:30:00 +0000"
