"""Who may call what (api.md, Conventions), route by route, for five kinds of caller.

Every route under /api/v1 has an entry in ROUTES, keyed by (method, path template) as the app
declares it; a route without one fails `test_every_api_route_has_an_entry`. Each entry lists one
or more cases (an event route has one per event), and each case the status expected for:

    no token, a revoked token, a stranger (organisation party to nothing here), a party user
    without the needed role, and the caller with the right role (or an administrator)

in that order. api.md: missing or bad token 401; authenticated but not allowed 403; a resource
of an agreement the caller's organisation is not party to 404 (its existence is not revealed);
the right role gets the route's success status. `None` means nobody may (an automatic event).
Refused calls must write nothing, and a stranger's 200 must not name any agreement.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.app import create_app
from states import Role, Side
from tests.api.route_world import (
    ADMIN,
    ANONYMOUS,
    BYSTANDER,
    DEC_1,
    PERIOD,
    REVOKED,
    STRANGER,
    C,
    P,
    Persona,
    RouteWorld,
    Target,
    populate,
)
from tests.catalog_workbooks import hr_workbook
from tests.conftest import _truncate_all
from tests.helpers import make_world
from workflow import commands
from workflow.commands.calendar_jobs import run_calendar
from workflow.commands.extensions import request_extension
from workflow.commands.sign_in import set_passwords
from workflow.content import dump_metrics, dump_terms
from workflow.corrective_plan import Plan, PlannedAction
from workflow.db import make_engine
from workflow.example import example_content
from workflow.models import CorrectiveAction, ServiceReview

API = "/api/v1"
PM, BO, ES = Role.PROGRAM_MANAGER, Role.BUSINESS_OWNER, Role.EXECUTIVE_SPONSOR
FL, TL = Role.FUNCTIONAL_LEAD, Role.TECHNICAL_LEAD
PMO_TEAM = Role.PMO_TEAM
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
AUTH_REFUSALS = {401, 403, 404}


@dataclass(frozen=True)
class Call:
    """One request's path parameters and body."""

    path: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    files: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


Build = Callable[[RouteWorld], Target]
Fill = Callable[[RouteWorld, Target], Call]


@dataclass(frozen=True)
class Case:
    label: str
    target: Build
    fill: Fill
    lacking: Persona  # a caller who can see the target but lacks what the route needs
    allowed: Persona | None  # None: nobody may (the event happens automatically)
    # anonymous, revoked token, stranger, lacking, allowed
    statuses: tuple[int, int, int, int, int | None]


# Targets ------------------------------------------------------------------------------------
def nothing(_rw: RouteWorld) -> Target:
    return Target(0)


def draft(rw: RouteWorld) -> Target:
    return rw.draft()


def joint_review(rw: RouteWorld) -> Target:
    return rw.joint_review()


def gap_analysis(rw: RouteWorld) -> Target:
    return rw.gap_analysis()


def ready_for_approval(rw: RouteWorld) -> Target:
    return rw.ready_for_approval()


def approval(rw: RouteWorld) -> Target:
    return rw.approval()


def active(rw: RouteWorld) -> Target:
    return rw.active()


def period_open(rw: RouteWorld) -> Target:
    return rw.period("open")


def period_submitted(rw: RouteWorld) -> Target:
    return rw.period("submitted")


def period_disputed(rw: RouteWorld) -> Target:
    return rw.period("disputed")


def period_final(rw: RouteWorld) -> Target:
    return rw.period("final")


def proposal(rw: RouteWorld) -> Target:
    return rw.proposal()


def excused(rw: RouteWorld) -> Target:
    return rw.proposal(accepted=True)


def _action_in(rw: RouteWorld, state: str) -> Target:
    """A final November whose invoice-payment-timeliness action has reached `state`."""
    target = rw.period("final")
    rw.session.rollback()
    action_id = rw.session.exec(
        select(CorrectiveAction.id).where(
            CorrectiveAction.agreement_id == target.sla_id,
            CorrectiveAction.metric_key == "invoice-payment-timeliness",
        )
    ).one()
    assert action_id is not None
    steps: list[tuple[str, tuple[Side, Role], dict[str, Any]]] = [
        ("submit_plan", (P, PM), {"plan": _action_plan(rw)}),
        ("accept_plan", (C, PM), {}),
        ("report_completion", (P, PM), {"comment": "done"}),
    ]
    reached = {"open": 0, "plan_submitted": 1, "in_progress": 2, "completed": 3}[state]
    for event, (side, role), kw in steps[:reached]:
        commands.fire_corrective_action_event(
            rw.session,
            actor=rw.driver.who(side, role),
            action_id=action_id,
            event=event,
            now=DEC_1,
            **kw,
        )
    rw.session.rollback()
    return Target(target.sla_id, ids={"action": action_id})


def _action_plan(rw: RouteWorld) -> Plan:
    due = DEC_1.date() + timedelta(days=10)
    owner = rw.driver.who(P, TL).user_id
    return Plan("batch job down", (PlannedAction("monitor it", owner, due),), due)


def action_open(rw: RouteWorld) -> Target:
    return _action_in(rw, "open")


def action_plan_submitted(rw: RouteWorld) -> Target:
    return _action_in(rw, "plan_submitted")


def action_in_progress(rw: RouteWorld) -> Target:
    return _action_in(rw, "in_progress")


def action_completed(rw: RouteWorld) -> Target:
    return _action_in(rw, "completed")


def token(rw: RouteWorld) -> Target:
    return rw.throwaway_token()


def fresh_user(rw: RouteWorld) -> Target:
    """A user of the customer's organisation with no role anywhere, for one cell to change."""
    user = commands.create_user(
        rw.session,
        actor=None,
        email=f"fresh{len(rw.keys)}.{rw.driver.tick().timestamp():.0f}@customer.example",
        name="Fresh Person",
        organization_id=rw.driver.parties.customer_org_id,
        now=rw.driver.tick(),
    )
    assert user.id is not None
    return Target(0, ids={"user_id": user.id})


KNOWN_PASSWORD = "matrix-password-1"


def pm_with_password(rw: RouteWorld) -> Target:
    """The customer's Program Manager with a password the cell knows."""
    set_passwords(
        rw.session,
        actor=None,
        emails=[rw.driver.who(C, PM).email],
        password=KNOWN_PASSWORD,
        now=rw.driver.tick(),
    )
    return Target(0)


def dead_notification(rw: RouteWorld) -> Target:
    return rw.dead_notification()


def extension_requested(rw: RouteWorld) -> Target:
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


def service_review_open(rw: RouteWorld) -> Target:
    """An active agreement whose 2026 Q4 review opened (run on 1 January 2027)."""
    target = rw.active()
    run_calendar(rw.session, now=datetime(2027, 1, 1, 15, tzinfo=UTC))
    review = rw.session.exec(
        select(ServiceReview).where(ServiceReview.agreement_id == target.sla_id)
    ).one()
    rw.session.rollback()
    target.ids["review_id"] = review.id or 0
    return target


# Requests -----------------------------------------------------------------------------------
def bare(_rw: RouteWorld, _t: Target) -> Call:
    return Call()


def sla(_rw: RouteWorld, t: Target) -> Call:
    return Call({"sla_id": t.sla_id})


def version(_rw: RouteWorld, t: Target) -> Call:
    return Call({"sla_id": t.sla_id, "number": t.number})


def event(name: str, **body: Any) -> Fill:
    def fill(_rw: RouteWorld, t: Target) -> Call:
        return Call({"sla_id": t.sla_id, "number": t.number, "event": name}, json=body)

    return fill


def period_event(name: str, **body: Any) -> Fill:
    def fill(_rw: RouteWorld, t: Target) -> Call:
        return Call({"sla_id": t.sla_id, "period": PERIOD, "event": name}, json=body)

    return fill


def corrective_action(_rw: RouteWorld, t: Target) -> Call:
    return Call({"action_id": t.ids["action"]})


def action_event(name: str, **body: Any) -> Fill:
    def fill(rw: RouteWorld, t: Target) -> Call:
        if name == "submit_plan":
            plan = _action_plan(rw)
            body.update(
                root_cause=plan.root_cause,
                actions=[a.stored() for a in plan.actions],
                target_date=str(plan.target_date),
            )
        return Call({"action_id": t.ids["action"], "event": name}, json=body)

    return fill


def period(_rw: RouteWorld, t: Target) -> Call:
    return Call({"sla_id": t.sla_id, "period": PERIOD})


def extension(_rw: RouteWorld, t: Target) -> Call:
    return Call({"sla_id": t.sla_id, "extension_id": t.ids["extension_id"]})


def extension_request(_rw: RouteWorld, t: Target) -> Call:
    return Call(
        {"sla_id": t.sla_id}, json={"new_end_date": "2028-03-31", "reason": "successor contract"}
    )


def extension_rejection(_rw: RouteWorld, t: Target) -> Call:
    return Call(
        {"sla_id": t.sla_id, "extension_id": t.ids["extension_id"]},
        json={"comment": "re-compete instead"},
    )


def review(_rw: RouteWorld, t: Target) -> Call:
    return Call({"sla_id": t.sla_id, "review_id": t.ids["review_id"]})


def minutes(rw: RouteWorld, t: Target) -> Call:
    people = [rw.driver.who(C, PM).user_id, rw.driver.who(P, PM).user_id]
    return Call(
        {"sla_id": t.sla_id, "review_id": t.ids["review_id"]},
        json={"held_on": "2026-11-30", "attendees": people, "decisions": ["keep going"]},
    )


def amendment(_rw: RouteWorld, t: Target) -> Call:
    return Call({"sla_id": t.sla_id, "period": PERIOD}, json={"reason": "late AR data"})


def patch_terms(_rw: RouteWorld, t: Target) -> Call:
    return Call(
        {"sla_id": t.sla_id, "number": t.number},
        json={"lock_version": t.lock_version, "terms": {"payment_terms": "Net 30"}},
    )


def yaml_import(rw: RouteWorld, t: Target) -> Call:
    exported = rw.client.get(
        f"{API}/slas/{t.sla_id}/versions/{t.number}/export",
        headers=rw.auth((C, PM)),
    )
    assert exported.status_code == 200, exported.text
    return Call(
        {"sla_id": t.sla_id, "number": t.number},
        content=exported.content,
        headers={"Content-Type": "application/yaml", "If-Match": f'"{t.lock_version}"'},
    )


def from_catalog(rw: RouteWorld, t: Target) -> Call:
    return Call(
        {"sla_id": t.sla_id, "number": t.number},
        json={
            "measure_id": rw.catalog_measure(),
            "lock_version": t.lock_version,
            "key": "onboarding-timeliness",
            "target": 0.95,
        },
    )


def what_if(_rw: RouteWorld, t: Target) -> Call:
    return Call(
        {"sla_id": t.sla_id, "number": t.number},
        params={"metric": "proper-payments", "target": 99.0},
    )


def diff(_rw: RouteWorld, t: Target) -> Call:
    return Call({"sla_id": t.sla_id, "number": t.number}, params={"against": 1})


def new_gap(_rw: RouteWorld, t: Target) -> Call:
    return Call(
        {"sla_id": t.sla_id, "number": t.number},
        json={
            "metric_key": "proper-payments",
            "description": "the provider measures monthly only",
            "severity": "low",
        },
    )


def resolve(_rw: RouteWorld, t: Target) -> Call:
    return Call({"gap_id": t.gap_id}, json={"resolution": "provider_commits", "note": "capacity"})


def task(_rw: RouteWorld, t: Target) -> Call:
    return Call({"task_id": t.task_id})


def accept_review(_rw: RouteWorld, t: Target) -> Call:
    return Call({"task_id": t.task_id}, json={"outcome": "accepted"})


def create_sla(rw: RouteWorld, _t: Target) -> Call:
    content = example_content(rw.driver.document)
    parties = rw.driver.parties
    payload = {
        "title": "Matrix agreement",
        "customer_org_id": parties.customer_org_id,
        "provider_org_id": parties.provider_org_id,
        "terms": dump_terms(content.terms),
        "metrics": dump_metrics(content.metrics),
        "stakeholders": [
            {"side": s.side.value, "role": s.role.value, "user_id": s.user_id}
            for s in parties.stakeholders()
        ],
    }
    return Call(json=payload)


def stakeholders(rw: RouteWorld, t: Target) -> Call:
    body = {
        "stakeholders": [
            {"side": s.side.value, "role": s.role.value, "user_id": s.user_id}
            for s in rw.driver.parties.stakeholders()
        ]
    }
    return Call({"sla_id": t.sla_id}, json=body)


def observations(_rw: RouteWorld, t: Target) -> Call:
    row = {"metric": "proper-payments", "observed_at": "2026-11-20T12:00:00Z", "value": 99.9}
    return Call({"sla_id": t.sla_id}, json={"observations": [row]})


NOVEMBER_12 = "2026-11-12T05:00:00Z"  # proper-payments' November reading


def correction(_rw: RouteWorld, t: Target) -> Call:
    row = {
        "metric": "proper-payments",
        "observed_at": NOVEMBER_12,
        "value": 99.7,
        "reason": "the full file",
    }
    return Call({"sla_id": t.sla_id}, json={"corrections": [row]})


def observation(_rw: RouteWorld, t: Target) -> Call:
    return Call(
        {"sla_id": t.sla_id}, params={"metric": "proper-payments", "observed_at": NOVEMBER_12}
    )


def csv_upload(_rw: RouteWorld, t: Target) -> Call:
    return Call(
        {"sla_id": t.sla_id},
        content=b"metric,observed_at,value\nproper-payments,2026-11-20T12:00:00Z,99.9\n",
        headers={"Content-Type": "text/csv"},
    )


def excusal(_rw: RouteWorld, t: Target) -> Call:
    body = {
        "metric": "proper-payments",
        "window": PERIOD,
        "party": "customer",
        "reason": "the customer's data arrived late",
    }
    return Call({"sla_id": t.sla_id}, json=body)


def proposal_id(_rw: RouteWorld, t: Target) -> Call:
    return Call({"proposal_id": t.ids["proposal_id"]})


def decision(comment: str | None = None) -> Fill:
    def fill(_rw: RouteWorld, t: Target) -> Call:
        return Call({"proposal_id": t.ids["proposal_id"]}, json={"comment": comment})

    return fill


def excusal_id(_rw: RouteWorld, t: Target) -> Call:
    return Call({"excusal_id": t.ids["excusal_id"]})


def compliance(_rw: RouteWorld, t: Target) -> Call:
    return Call({"sla_id": t.sla_id}, params={"from": "2026-11-01", "to": "2026-11-30"})


def new_org(_rw: RouteWorld, _t: Target) -> Call:
    return Call(json={"name": "Matrix Agency"})


def new_user(rw: RouteWorld, _t: Target) -> Call:
    org = rw.driver.parties.customer_org_id
    return Call(json={"email": "mat@customer.example", "name": "Mat Rix", "organization_id": org})


def bystander_tokens(rw: RouteWorld, _t: Target) -> Call:
    return Call({"user_id": rw.user_id(BYSTANDER)})


def token_id(_rw: RouteWorld, t: Target) -> Call:
    return Call({"token_id": t.ids["token_id"]})


def user_path(_rw: RouteWorld, t: Target) -> Call:
    return Call({"user_id": t.ids["user_id"]})


def make_auditor(_rw: RouteWorld, t: Target) -> Call:
    return Call({"user_id": t.ids["user_id"]}, json={"role": "auditor"})


def password_change(_rw: RouteWorld, _t: Target) -> Call:
    return Call(json={"current_password": KNOWN_PASSWORD, "new_password": "matrix-password-2"})


def delegation(rw: RouteWorld, _t: Target) -> Call:
    # To a colleague who holds no role, so that no other cell's caller gains one.
    body = {"delegate_id": rw.user_id("deputy"), "starts_on": "2026-12-01", "ends_on": "2026-12-31"}
    return Call(json=body)


def notification(_rw: RouteWorld, t: Target) -> Call:
    return Call({"notification_id": t.ids["notification_id"]})


def settings(_rw: RouteWorld, _t: Target) -> Call:
    return Call(json={"mode": "immediate"})


def preferences(_rw: RouteWorld, _t: Target) -> Call:
    return Call(json={"decisions": "digest"})


def workbook(_rw: RouteWorld, _t: Target) -> Call:
    return Call(files={"file": ("hr.xlsx", hr_workbook(), XLSX)})


def measure(rw: RouteWorld, _t: Target) -> Call:
    return Call({"measure_id": rw.catalog_measure()})


# The table ----------------------------------------------------------------------------------
# Shorthands for the statuses of agreement-scoped routes: a stranger gets 404.
def scoped(lacking: int, allowed: int | None) -> tuple[int, int, int, int, int | None]:
    return (401, 401, 404, lacking, allowed)


ADMIN_ONLY = (401, 401, 403, 403)  # + the administrator's success status

EVENTS = f"{API}/slas/{{sla_id}}/versions/{{number}}/events/{{event}}"
PERIOD_EVENTS = f"{API}/slas/{{sla_id}}/periods/{{period}}/events/{{event}}"
ACTION_EVENTS = f"{API}/corrective-actions/{{action_id}}/events/{{event}}"

ROUTES: dict[tuple[str, str], list[Case]] = {
    # The caller, organisations, users, tokens, delegations
    ("GET", f"{API}/me"): [
        Case("me", nothing, bare, BYSTANDER, (C, PM), (401, 401, 200, 200, 200))
    ],
    ("POST", f"{API}/organizations"): [
        Case("create", nothing, new_org, (C, PM), ADMIN, (*ADMIN_ONLY, 201))
    ],
    ("GET", f"{API}/organizations"): [
        Case("list", nothing, bare, BYSTANDER, (C, PM), (401, 401, 200, 200, 200))
    ],
    ("POST", f"{API}/users"): [
        Case("create", nothing, new_user, (C, PM), ADMIN, (*ADMIN_ONLY, 201))
    ],
    ("GET", f"{API}/users"): [Case("list", nothing, bare, (C, PM), ADMIN, (*ADMIN_ONLY, 200))],
    ("POST", f"{API}/users/{{user_id}}/tokens"): [
        Case("create", nothing, bystander_tokens, (C, PM), ADMIN, (*ADMIN_ONLY, 201))
    ],
    ("GET", f"{API}/tokens"): [Case("list", nothing, bare, (C, PM), ADMIN, (*ADMIN_ONLY, 200))],
    ("PUT", f"{API}/users/{{user_id}}/role"): [
        Case("role", fresh_user, make_auditor, (C, PM), ADMIN, (*ADMIN_ONLY, 200))
    ],
    ("POST", f"{API}/users/{{user_id}}/disable"): [
        Case("disable", fresh_user, user_path, (C, PM), ADMIN, (*ADMIN_ONLY, 200))
    ],
    ("POST", f"{API}/users/{{user_id}}/enable"): [
        Case("enable", fresh_user, user_path, (C, PM), ADMIN, (*ADMIN_ONLY, 200))
    ],
    ("POST", f"{API}/users/{{user_id}}/invitation"): [
        Case("invite", fresh_user, user_path, (C, PM), ADMIN, (*ADMIN_ONLY, 202))
    ],
    # Only one's own password, proven by the current one: others' guesses are wrong (422).
    ("POST", f"{API}/me/password"): [
        Case(
            "change",
            pm_with_password,
            password_change,
            BYSTANDER,
            (C, PM),
            (401, 401, 422, 422, 204),
        )
    ],
    # Somebody else's token is not revealed to exist: 404, as for a stranger.
    ("DELETE", f"{API}/tokens/{{token_id}}"): [
        Case("revoke own", token, token_id, (C, PM), (C, TL), (401, 401, 404, 404, 204))
    ],
    # A delegate must be a colleague: the stranger's is refused as a bad delegate_id.
    ("POST", f"{API}/delegations"): [
        Case("delegate", nothing, delegation, BYSTANDER, (C, PM), (401, 401, 422, 201, 201))
    ],
    # Agreements
    ("POST", f"{API}/slas"): [
        Case("create", nothing, create_sla, BYSTANDER, (C, PM), (401, 401, 403, 201, 201))
    ],
    ("GET", f"{API}/slas"): [
        Case("list", nothing, bare, BYSTANDER, (C, PM), (401, 401, 200, 200, 200))
    ],
    ("GET", f"{API}/slas/{{sla_id}}"): [
        Case("read", draft, sla, BYSTANDER, (C, PM), scoped(200, 200))
    ],
    ("PUT", f"{API}/slas/{{sla_id}}/stakeholders"): [
        Case("replace", draft, stakeholders, (C, TL), (C, BO), scoped(403, 200))
    ],
    ("POST", f"{API}/slas/{{sla_id}}/revisions"): [
        Case("start_revision", active, sla, (C, TL), (P, PM), scoped(403, 201))
    ],
    ("GET", f"{API}/slas/{{sla_id}}/blockers"): [
        Case("blockers", joint_review, sla, BYSTANDER, (C, PM), scoped(200, 200))
    ],
    # Versions
    ("GET", f"{API}/slas/{{sla_id}}/versions/{{number}}"): [
        Case("read", draft, version, BYSTANDER, (P, TL), scoped(200, 200))
    ],
    ("PATCH", f"{API}/slas/{{sla_id}}/versions/{{number}}"): [
        Case("edit", draft, patch_terms, BYSTANDER, (C, PMO_TEAM), scoped(403, 200))
    ],
    ("POST", EVENTS): [
        Case(
            "submit_for_review",
            draft,
            event("submit_for_review"),
            (C, BO),
            (P, TL),
            scoped(403, 200),
        ),
        Case(
            "request_changes",
            joint_review,
            event("request_changes", comment="targets too low"),
            (C, PM),
            (C, FL),
            scoped(403, 200),
        ),
        Case(
            "complete_review",
            joint_review,
            event("complete_review"),
            (C, FL),
            None,
            scoped(403, None),
        ),
        Case(
            "request_rework",
            gap_analysis,
            event("request_rework", comment="rethink"),
            (C, FL),
            (C, PM),
            scoped(403, 200),
        ),
        Case(
            "submit_for_approval",
            ready_for_approval,
            event("submit_for_approval"),
            (C, BO),
            (P, PM),
            scoped(403, 200),
        ),
        Case(
            "reject",
            approval,
            event("reject", comment="too costly"),
            (C, PM),
            (C, BO),
            scoped(403, 200),
        ),
        Case("activate", approval, event("activate"), (C, BO), None, scoped(403, None)),
        Case(
            "withdraw",
            draft,
            event("withdraw", comment="abandoned"),
            (C, BO),
            (P, PM),
            scoped(403, 200),
        ),
        Case(
            "terminate",
            active,
            event("terminate", comment="ended"),
            (C, PM),
            (P, BO),
            scoped(403, 200),
        ),
        Case("supersede", active, event("supersede"), (C, BO), None, scoped(403, None)),
        Case("expire", active, event("expire"), (C, BO), None, scoped(403, None)),
    ],
    ("GET", f"{API}/slas/{{sla_id}}/versions/{{number}}/diff"): [
        Case("diff", draft, diff, BYSTANDER, (C, PM), scoped(200, 200))
    ],
    # Gaps
    ("GET", f"{API}/slas/{{sla_id}}/versions/{{number}}/gaps"): [
        Case("list", gap_analysis, version, BYSTANDER, (C, PM), scoped(200, 200))
    ],
    ("POST", f"{API}/slas/{{sla_id}}/versions/{{number}}/gaps"): [
        Case("add", gap_analysis, new_gap, (C, PMO_TEAM), (P, TL), scoped(403, 201))
    ],
    ("POST", f"{API}/gaps/{{gap_id}}/resolve"): [
        Case("resolve", gap_analysis, resolve, (P, PMO_TEAM), (P, PM), scoped(403, 200))
    ],
    # Tasks: reading needs only to be a party; completing needs to be the assignee.
    ("GET", f"{API}/tasks"): [
        Case("list", nothing, bare, BYSTANDER, (C, PM), (401, 401, 200, 200, 200))
    ],
    ("GET", f"{API}/tasks/{{task_id}}"): [
        Case("read", joint_review, task, BYSTANDER, (C, FL), scoped(200, 200))
    ],
    ("POST", f"{API}/tasks/{{task_id}}/complete"): [
        Case("complete", joint_review, accept_review, (C, PM), (C, FL), scoped(403, 200))
    ],
    # Audit
    ("GET", f"{API}/slas/{{sla_id}}/audit"): [
        Case("trail", draft, sla, BYSTANDER, (C, PM), scoped(200, 200))
    ],
    ("GET", f"{API}/audit/verify"): [
        Case("verify", nothing, bare, (C, PM), ADMIN, (*ADMIN_ONLY, 200))
    ],
    ("GET", f"{API}/audit/system"): [
        Case("admin acts", nothing, bare, (C, PM), ADMIN, (*ADMIN_ONLY, 200))
    ],
    ("GET", f"{API}/slas/{{sla_id}}/versions/{{number}}/evidence"): [
        Case("evidence", active, version, BYSTANDER, (C, PM), scoped(200, 200))
    ],
    # Export and import
    ("GET", f"{API}/slas/{{sla_id}}/versions/{{number}}/export"): [
        Case("export", draft, version, BYSTANDER, (C, PM), scoped(200, 200))
    ],
    ("POST", f"{API}/slas/{{sla_id}}/versions/{{number}}/import"): [
        Case("import", draft, yaml_import, BYSTANDER, (P, PM), scoped(403, 200))
    ],
    # Notifications
    ("GET", f"{API}/notifications"): [
        Case("list", nothing, bare, (C, PM), ADMIN, (*ADMIN_ONLY, 200))
    ],
    ("GET", f"{API}/notifications/{{notification_id}}"): [
        Case("read", dead_notification, notification, (C, PM), ADMIN, (*ADMIN_ONLY, 200))
    ],
    ("POST", f"{API}/notifications/{{notification_id}}/retry"): [
        Case("retry", dead_notification, notification, (C, PM), ADMIN, (*ADMIN_ONLY, 200))
    ],
    ("GET", f"{API}/me/notification-settings"): [
        Case("read", nothing, bare, BYSTANDER, (C, PM), (401, 401, 200, 200, 200))
    ],
    ("PUT", f"{API}/me/notification-settings"): [
        Case("choose", nothing, settings, BYSTANDER, (C, PM), (401, 401, 200, 200, 200))
    ],
    ("GET", f"{API}/me/notification-preferences"): [
        Case("read", nothing, bare, BYSTANDER, (C, PM), (401, 401, 200, 200, 200))
    ],
    ("PUT", f"{API}/me/notification-preferences"): [
        Case("choose", nothing, preferences, BYSTANDER, (C, PM), (401, 401, 200, 200, 200))
    ],
    # The catalogue: shared by every organisation, imported by administrators.
    ("POST", f"{API}/catalog/import"): [
        Case("import", nothing, workbook, (C, PM), ADMIN, (*ADMIN_ONLY, 200))
    ],
    ("GET", f"{API}/catalog"): [
        Case("browse", nothing, bare, BYSTANDER, (C, PM), (401, 401, 200, 200, 200))
    ],
    ("GET", f"{API}/catalog/{{measure_id}}"): [
        Case("read", nothing, measure, BYSTANDER, (C, PM), (401, 401, 200, 200, 200))
    ],
    ("POST", f"{API}/slas/{{sla_id}}/versions/{{number}}/metrics:from-catalog"): [
        Case("add metric", draft, from_catalog, BYSTANDER, (C, FL), scoped(403, 200))
    ],
    # Measurements and compliance
    ("POST", f"{API}/slas/{{sla_id}}/measurements"): [
        Case("batch", active, observations, (C, BO), (P, PMO_TEAM), scoped(403, 202))
    ],
    ("POST", f"{API}/slas/{{sla_id}}/measurements:csv"): [
        Case("csv", active, csv_upload, (C, BO), (P, TL), scoped(403, 202))
    ],
    # The customer provides none of proper-payments' data: only the provider corrects it.
    ("POST", f"{API}/slas/{{sla_id}}/measurements/corrections"): [
        Case("correct", period_disputed, correction, (C, FL), (P, PM), scoped(403, 200))
    ],
    ("GET", f"{API}/slas/{{sla_id}}/measurements/history"): [
        Case("history", period_open, observation, BYSTANDER, (C, BO), scoped(200, 200))
    ],
    ("POST", f"{API}/slas/{{sla_id}}/excusals"): [
        Case("excuse", period_open, excusal, (C, PMO_TEAM), (P, BO), scoped(403, 202))
    ],
    # Proposals: the other side decides; the proposer (here the provider's PM) never does.
    ("GET", f"{API}/proposals"): [
        Case("list", nothing, bare, BYSTANDER, (C, PM), (401, 401, 200, 200, 200))
    ],
    ("GET", f"{API}/proposals/{{proposal_id}}"): [
        Case("read", proposal, proposal_id, BYSTANDER, (C, PM), scoped(200, 200))
    ],
    ("POST", f"{API}/proposals/{{proposal_id}}/accept"): [
        Case("accept", proposal, decision(), (P, PM), (C, PM), scoped(403, 200))
    ],
    ("POST", f"{API}/proposals/{{proposal_id}}/reject"): [
        Case("reject", proposal, decision("not ours"), (C, TL), (C, FL), scoped(403, 200))
    ],
    ("DELETE", f"{API}/excusals/{{excusal_id}}"): [
        Case("withdraw", excused, excusal_id, (C, PMO_TEAM), (C, PM), scoped(403, 202))
    ],
    ("GET", f"{API}/slas/{{sla_id}}/reports/compliance"): [
        Case("report", period_open, compliance, BYSTANDER, (C, PM), scoped(200, 200))
    ],
    ("GET", f"{API}/slas/{{sla_id}}/versions/{{number}}/what-if"): [
        Case("what-if", period_open, what_if, BYSTANDER, (P, PM), scoped(200, 200))
    ],
    # The reporting cycle: each event belongs to the holder of the period's task.
    ("GET", f"{API}/slas/{{sla_id}}/periods"): [
        Case("list", period_open, sla, BYSTANDER, (C, PM), scoped(200, 200))
    ],
    ("GET", f"{API}/slas/{{sla_id}}/periods/{{period}}"): [
        Case("read", period_open, period, BYSTANDER, (C, PM), scoped(200, 200))
    ],
    ("POST", PERIOD_EVENTS): [
        Case("submit", period_open, period_event("submit"), (C, FL), (P, PM), scoped(403, 200)),
        Case(
            "accept", period_submitted, period_event("accept"), (P, PM), (C, FL), scoped(403, 200)
        ),
        Case(
            "dispute",
            period_submitted,
            period_event("dispute", disputes=[{"metric": "proper-payments", "reason": "late"}]),
            (P, PM),
            (C, FL),
            scoped(403, 200),
        ),
        Case(
            "resubmit",
            period_disputed,
            period_event("resubmit"),
            (C, FL),
            (P, PM),
            scoped(403, 200),
        ),
        Case(
            "accept with exceptions",
            period_submitted,
            period_event(
                "accept_with_exceptions",
                exceptions=[{"metric": "proper-payments", "reason": "still disputed"}],
            ),
            (P, PM),
            (C, FL),
            scoped(403, 200),
        ),
    ],
    ("POST", f"{API}/slas/{{sla_id}}/periods/{{period}}/amendments"): [
        Case("amend", period_final, amendment, (C, BO), (P, PM), scoped(403, 202))
    ],
    # The governance calendar: a Program Manager asks, both Business Owners decide.
    ("POST", f"{API}/slas/{{sla_id}}/extensions"): [
        Case("request", active, extension_request, (C, BO), (P, PM), scoped(403, 201))
    ],
    ("GET", f"{API}/slas/{{sla_id}}/extensions"): [
        Case("list", extension_requested, sla, BYSTANDER, (C, BO), scoped(200, 200))
    ],
    ("GET", f"{API}/slas/{{sla_id}}/extensions/{{extension_id}}"): [
        Case("read", extension_requested, extension, BYSTANDER, (C, BO), scoped(200, 200))
    ],
    ("POST", f"{API}/slas/{{sla_id}}/extensions/{{extension_id}}/approve"): [
        Case("approve", extension_requested, extension, (C, PM), (C, BO), scoped(403, 200))
    ],
    ("POST", f"{API}/slas/{{sla_id}}/extensions/{{extension_id}}/reject"): [
        Case(
            "reject",
            extension_requested,
            extension_rejection,
            (P, PM),
            (P, BO),
            scoped(403, 200),
        )
    ],
    ("GET", f"{API}/slas/{{sla_id}}/service-reviews"): [
        Case("list", service_review_open, sla, BYSTANDER, (P, PM), scoped(200, 200))
    ],
    ("GET", f"{API}/slas/{{sla_id}}/service-reviews/{{review_id}}"): [
        Case("read", service_review_open, review, BYSTANDER, (P, PM), scoped(200, 200))
    ],
    ("POST", f"{API}/slas/{{sla_id}}/service-reviews/{{review_id}}/minutes"): [
        Case("minutes", service_review_open, minutes, (C, BO), (C, PM), scoped(403, 200))
    ],
    # Corrective actions: the owner side plans and reports, the other side decides.
    ("GET", f"{API}/corrective-actions"): [
        Case("list", action_open, bare, BYSTANDER, (C, PM), (401, 401, 200, 200, 200))
    ],
    ("GET", f"{API}/corrective-actions/{{action_id}}"): [
        Case("read", action_open, corrective_action, BYSTANDER, (C, PM), scoped(200, 200))
    ],
    ("POST", ACTION_EVENTS): [
        Case(
            "submit_plan",
            action_open,
            action_event("submit_plan"),
            (C, PM),
            (P, PM),
            scoped(403, 200),
        ),
        Case(
            "accept_plan",
            action_plan_submitted,
            action_event("accept_plan"),
            (P, PM),
            (C, FL),
            scoped(403, 200),
        ),
        Case(
            "request_rework",
            action_plan_submitted,
            action_event("request_rework", comment="say why"),
            (P, PM),
            (C, PM),
            scoped(403, 200),
        ),
        Case(
            "report_completion",
            action_in_progress,
            action_event("report_completion", comment="done"),
            (C, PM),
            (P, PM),
            scoped(403, 200),
        ),
        Case(
            "confirm_closure",
            action_completed,
            action_event("confirm_closure"),
            (P, PM),
            (C, PM),
            scoped(403, 200),
        ),
    ],
}


def _cells() -> Iterator[Any]:
    for (method, template), cases in ROUTES.items():
        for case in cases:
            for who, status in enumerate(case.statuses):
                if status is None:
                    continue
                name = (
                    PERSONA_NAMES[who]
                    if who < 3
                    else _name(case.lacking if who == 3 else case.allowed)
                )
                yield pytest.param(
                    method, template, case, who, id=f"{method} {template} [{case.label}] {name}"
                )


PERSONA_NAMES = (ANONYMOUS, REVOKED, STRANGER)


def _name(persona: Persona | None) -> str:
    if isinstance(persona, tuple):
        side, role = persona
        return f"{side.value} {role.value}"
    return str(persona)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def rw(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RouteWorld]:
    """One world per database for the whole matrix (cells only refuse, or get fresh targets)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("matrix") / "accord.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_database")
    engine = make_engine(url)
    if request.param == "postgresql":
        _truncate_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        driver = make_world(session)
        with TestClient(create_app(engine, clock=lambda: DEC_1)) as client:
            yield populate(client, driver)
    engine.dispose()


def _persona(case: Case, who: int) -> Persona:
    chosen = (ANONYMOUS, REVOKED, STRANGER, case.lacking, case.allowed)[who]
    assert chosen is not None
    return chosen


@pytest.mark.parametrize(("method", "template", "case", "who"), list(_cells()))
def test_who_may_call_what(
    rw: RouteWorld, method: str, template: str, case: Case, who: int
) -> None:
    persona = _persona(case, who)
    expected = case.statuses[who]
    # The caller with the right role may change the target: give them one of their own.
    if who == 4 and method != "GET":
        target = case.target(rw)
    else:
        target = rw.shared(case.target.__name__, lambda: case.target(rw))
    call = case.fill(rw, target)
    before = rw.writes()
    response = rw.client.request(
        method,
        template.format(**call.path),
        json=call.json,
        content=call.content,
        files=call.files,
        params=call.params,
        headers={**rw.auth(persona), **call.headers},
    )
    assert response.status_code == expected, response.text
    if expected in AUTH_REFUSALS:
        assert response.headers["content-type"] == "application/problem+json"
    if expected >= 400:
        assert rw.writes() == before, "a refused call wrote something"
    if persona == STRANGER and expected == 200:
        leaked = [key for key in rw.keys if key in response.text]
        assert not leaked, f"a stranger was shown {leaked}"


def test_every_api_route_has_an_entry() -> None:
    """A route added to the app without a row here fails: each needs its authorisation cases."""
    app = create_app(make_engine("sqlite://"))
    declared = {
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        if route.path and route.path.startswith(f"{API}/")
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert declared - set(ROUTES) == set(), "routes without authorisation cases"
    assert set(ROUTES) - declared == set(), "cases for routes the app no longer has"


# A path naming one of these reaches into an agreement: a stranger must get 404 there.
AGREEMENT_SCOPED = (
    "{sla_id}",
    "{gap_id}",
    "{task_id}",
    "{proposal_id}",
    "{excusal_id}",
    "{action_id}",
)


def test_the_table_keeps_the_conventions() -> None:
    """The expectations themselves follow api.md, so a mistyped row cannot weaken a cell."""
    for (method, template), cases in ROUTES.items():
        for case in cases:
            anonymous, revoked, stranger, lacking, allowed = case.statuses
            where = f"{method} {template} [{case.label}]"
            assert (anonymous, revoked) == (401, 401), where
            if any(param in template for param in AGREEMENT_SCOPED):
                assert stranger == 404, where
            assert case.lacking != case.allowed, where
            if case.allowed is None:
                assert lacking == 403, where  # nobody may: every party user is refused
            else:
                assert allowed is not None
                assert 200 <= allowed < 300, where
            if case.allowed == ADMIN:
                assert (stranger, lacking) == (403, 403), where
