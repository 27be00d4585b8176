"""Editing a draft through the pages over HTTP: terms, metrics, the catalogue, conflicts."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import col, select

from api.pages.draft_forms import METRIC_FIELDS, TERM_FIELDS, text
from states import Role
from tests.api.pages.conftest import CSRF_FIELD, Client, outsider_of_another_organisation
from tests.catalog_workbooks import FMCF9, FMCF9_NAME
from tests.helpers import C, P, World
from workflow import commands
from workflow.models import Agreement, AgreementVersion, AuditEvent, CatalogMeasure

LOCK = re.compile(r'name="lock_version" value="(\d+)"')


def _email(world: World, side: Any, role: Role) -> str:
    return world.who(side, role).email


def _edit(agreement: Agreement, number: int = 1) -> str:
    return f"/slas/{agreement.id}/versions/{number}/edit"


def _form(client: TestClient, path: str) -> tuple[str, str]:
    """The CSRF token and lock_version of the edit page at `path`."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    token, lock = CSRF_FIELD.search(page.text), LOCK.search(page.text)
    assert token is not None
    assert lock is not None
    return token[1], lock[1]


def _post(client: TestClient, path: str, data: dict[str, str], page: str) -> Any:
    token, lock = _form(client, page)
    return client.post(
        path, data={"lock_version": lock, **data, "csrf_token": token}, follow_redirects=False
    )


def _version(world: World, agreement: Agreement, number: int = 1) -> AgreementVersion:
    return world.version(agreement, number)


def _metric(version: AgreementVersion, key: str) -> dict[str, Any]:
    return next(m for m in version.metrics if m["key"] == key)


def _terms_form(version: AgreementVersion, **changes: str) -> dict[str, str]:
    """Every term field as the page fills it, with `changes` over it."""
    return {
        **{name: text(version.terms.get(name)) for name, _l, _h in TERM_FIELDS},
        **changes,
    }


def _metric_form(metric: dict[str, Any], **changes: str) -> dict[str, str]:
    return {**{name: text(metric.get(name)) for name, _l in METRIC_FIELDS}, **changes}


def _audits(world: World, agreement: Agreement, action: str) -> list[dict[str, Any]]:
    world.session.rollback()
    events = world.session.exec(
        select(AuditEvent)
        .where(AuditEvent.agreement_id == agreement.id, AuditEvent.action == action)
        .order_by(col(AuditEvent.id))
    ).all()
    return [json.loads(e.body) for e in events]


def test_a_term_is_saved_and_audited(world: World, signed_in: Client) -> None:
    agreement = world.create()
    client = signed_in(_email(world, C, Role.PROGRAM_MANAGER))
    path = _edit(agreement)
    page = client.get(path)
    assert page.status_code == 200
    assert 'id="t-annual_cost"' in page.text
    assert 'value="4850000.00"' in page.text
    assert '<label for="t-annual_cost">Annual cost' in page.text
    before = _version(world, agreement)
    lock = before.lock_version

    saved = _post(
        client,
        f"{path}/terms",
        _terms_form(before, annual_cost="5100000.50", time_zone="America/Denver", reporting=""),
        path,
    )

    assert saved.status_code == 303
    assert saved.headers["location"] == f"{path}#terms"
    after = _version(world, agreement)
    assert after.terms["annual_cost"] == "5100000.50"
    assert after.terms["time_zone"] == "America/Denver"
    assert "reporting" not in after.terms  # an emptied field unsets the term
    assert after.terms["service_hours"] == before.terms["service_hours"]
    assert after.lock_version == lock + 1
    (event,) = _audits(world, agreement, "version.edited")
    changes = event["data"]["changes"]["terms"]
    assert changes["annual_cost"] == {"from": "4850000.00", "to": "5100000.50"}
    assert set(changes) == {"annual_cost", "time_zone", "reporting"}
    shown = client.get(path)
    assert "Saved the terms of version 1." in shown.text
    assert 'value="5100000.50"' in shown.text


def test_invalid_terms_show_field_errors_and_store_nothing(world: World, signed_in: Client) -> None:
    agreement = world.create()
    client = signed_in(_email(world, P, Role.PROGRAM_MANAGER))
    path = _edit(agreement)
    before = _version(world, agreement)
    terms, lock = dict(before.terms), before.lock_version

    answer = _post(
        client,
        f"{path}/terms",
        _terms_form(
            before,
            annual_cost="lots",
            currency="dollars",
            at_risk_percent="120",
            service_hours="Mon-Sun 24h",
        ),
        path,
    )

    assert answer.status_code == 422
    text = unescape(answer.text)
    assert 'id="t-annual_cost-error"' in text
    assert 'id="t-currency-error"' in text
    # In plain language, saying what to enter (issue 11, defect 6).
    assert "a three-letter currency code, such as USD" in text
    assert "enter an amount, such as 4850000.00" in text
    assert 'id="t-at_risk_percent-error"' in text
    assert "must be at most 100" in text
    assert "Input should" not in text
    assert 'aria-describedby="t-annual_cost-error"' in text
    # What was typed stays in the form.
    assert 'value="lots"' in text
    assert 'value="Mon-Sun 24h"' in text
    after = _version(world, agreement)
    assert (after.terms, after.lock_version) == (terms, lock)
    assert _audits(world, agreement, "version.edited") == []

    # A period ending before it starts is named at the end date.
    order = _post(
        client,
        f"{path}/terms",
        _terms_form(before, period_start="2027-01-01", period_end="2026-01-01"),
        path,
    )
    assert order.status_code == 422
    assert 'id="t-period_end-error"' in order.text
    assert "period_end must not be before period_start" in order.text


def test_two_people_saving_from_the_same_read_the_second_sees_the_conflict(
    world: World, signed_in: Client
) -> None:
    agreement = world.create()
    path = _edit(agreement)
    first = signed_in(_email(world, C, Role.PROGRAM_MANAGER))
    second = signed_in(_email(world, P, Role.PROGRAM_MANAGER))
    token_1, lock = _form(first, path)
    token_2, lock_2 = _form(second, path)
    assert lock == lock_2
    stored = _version(world, agreement)

    saved = first.post(
        f"{path}/terms",
        data={
            **_terms_form(stored, payment_terms="Net 45"),
            "lock_version": lock,
            "csrf_token": token_1,
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    late = second.post(
        f"{path}/terms",
        data={
            **_terms_form(stored, payment_terms="Net 15", billing_frequency="monthly"),
            "lock_version": lock,
            "csrf_token": token_2,
        },
        follow_redirects=False,
    )

    assert late.status_code == 409
    text = unescape(late.text)
    assert "someone else saved this version first" in text
    # Their values are kept; what is stored now is shown beside the field that differs.
    assert 'value="Net 15"' in text
    assert 'value="monthly"' in text
    assert "Now stored: <strong>Net 45</strong>" in text
    assert f'name="lock_version" value="{int(lock) + 1}"' in text
    after = _version(world, agreement)
    assert after.terms["payment_terms"] == "Net 45"
    assert after.terms["billing_frequency"] == "quarterly"

    # A second click on Save of what is already stored changes nothing and says so.
    again = first.post(
        f"{path}/terms",
        data={
            **_terms_form(stored, payment_terms="Net 45"),
            "lock_version": lock,
            "csrf_token": token_1,
        },
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert len(_audits(world, agreement, "version.edited")) == 1


def test_a_metric_is_edited_inline(world: World, signed_in: Client) -> None:
    agreement = world.create()
    client = signed_in(_email(world, C, Role.FUNCTIONAL_LEAD))
    path = _edit(agreement)
    key = "proper-payments"
    opened = client.get(f"{path}?metric={key}")
    assert f'id="metric-{key}-form"' in opened.text
    assert '<label for="m-target">Target' in opened.text
    metric = _metric(_version(world, agreement), key)

    saved = _post(
        client,
        f"{path}/metrics/{key}",
        _metric_form(metric, target="99.7", warning="99.9", service_credit_percent="2"),
        f"{path}?metric={key}",
    )

    assert saved.status_code == 303, saved.text
    after = _metric(_version(world, agreement), key)
    assert (after["target"], after["warning"], after["service_credit_percent"]) == (99.7, 99.9, 2)
    assert after["name"] == metric["name"]
    (event,) = _audits(world, agreement, "version.edited")
    assert event["data"]["changes"]["metrics_changed"][key]["target"] == {
        "from": 99.5,
        "to": 99.7,
    }

    # A warning on the wrong side of the target: shown at the warning, nothing stored.
    wrong = _post(
        client,
        f"{path}/metrics/{key}",
        _metric_form(after, warning="90", name=""),
        f"{path}?metric={key}",
    )
    assert wrong.status_code == 422
    assert 'id="m-name-error"' in wrong.text
    assert 'value="90"' in wrong.text
    assert _metric(_version(world, agreement), key) == after


def test_a_target_change_in_a_revision_needs_who_drove_it_and_why(
    world: World, signed_in: Client
) -> None:
    agreement = world.create()
    world.to_active(agreement)
    assert agreement.id is not None
    commands.start_revision(
        world.session,
        actor=world.who(C, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,
        now=world.tick(),
    )
    client = signed_in(_email(world, P, Role.PROGRAM_MANAGER))
    path = _edit(agreement, 2)
    key = "core-app-availability"
    page = f"{path}?metric={key}"
    opened = client.get(page)
    # Resolving the gap with "provider commits" raised the active target to the requirement.
    assert "target in the active version: 99.9" in opened.text
    metric = _metric(_version(world, agreement, 2), key)

    missing = _post(client, f"{path}/metrics/{key}", _metric_form(metric, target="99.95"), page)
    assert missing.status_code == 422
    assert 'id="m-reason-error"' in missing.text
    assert "say who drove it (customer or provider) and why" in missing.text
    assert 'value="99.95"' in missing.text
    assert _metric(_version(world, agreement, 2), key)["target"] == 99.9

    saved = _post(
        client,
        f"{path}/metrics/{key}",
        _metric_form(
            metric, target="99.95", driven_by="customer", reason="payroll runs need more uptime"
        ),
        page,
    )
    assert saved.status_code == 303
    after = _metric(_version(world, agreement, 2), key)
    assert after["target"] == 99.95
    assert after["target_change"] == {
        "driven_by": "customer",
        "reason": "payroll runs need more uptime",
    }
    assert _metric(_version(world, agreement, 1), key)["target"] == 99.9


def test_a_metric_is_added_and_removed_after_a_confirmation(
    world: World, signed_in: Client
) -> None:
    agreement = world.create()
    client = signed_in(_email(world, C, Role.PROGRAM_MANAGER))
    path = _edit(agreement)
    count = len(_version(world, agreement).metrics)
    new = {
        "key": "ticket-response",
        "name": "Tickets answered within 4 hours",
        "category": "support",
        "responsible_party": "provider",
        "unit": "percent",
        "direction": "higher_is_better",
        "target": "95",
        "window": "month",
        "aggregation": "mean",
    }

    duplicate = _post(client, f"{path}/metrics", {**new, "key": "proper-payments"}, path)
    assert duplicate.status_code == 422
    assert 'id="a-key-error"' in duplicate.text
    assert "duplicate metric keys" in duplicate.text
    assert '<details id="add-metric" open>' in duplicate.text
    assert 'value="Tickets answered within 4 hours"' in duplicate.text

    added = _post(client, f"{path}/metrics", new, path)
    assert added.status_code == 303
    version = _version(world, agreement)
    assert len(version.metrics) == count + 1
    assert _metric(version, "ticket-response")["target"] == 95

    confirm = client.get(f"{path}/metrics/ticket-response/remove")
    assert confirm.status_code == 200
    assert "Remove Tickets answered within 4 hours from" in confirm.text
    token = CSRF_FIELD.search(confirm.text)
    lock = LOCK.search(confirm.text)
    assert token is not None
    assert lock is not None
    data = {"csrf_token": token[1], "lock_version": lock[1]}
    removed = client.post(
        f"{path}/metrics/ticket-response/remove", data=data, follow_redirects=False
    )
    assert removed.status_code == 303
    assert all(m["key"] != "ticket-response" for m in _version(world, agreement).metrics)
    twice = client.post(f"{path}/metrics/ticket-response/remove", data=data, follow_redirects=False)
    assert twice.status_code == 303
    assert "already removed" in client.get(path).text
    (event,) = _audits(world, agreement, "version.edited")[-1:]
    assert event["data"]["changes"]["metrics_removed"] == ["ticket-response"]


def test_a_catalogue_measure_is_found_and_added(world: World, signed_in: Client) -> None:
    commands.import_catalog(
        world.session, actor=None, filename=FMCF9_NAME, content=FMCF9.read_bytes(), now=world.now
    )
    agreement = world.create()
    client = signed_in(_email(world, C, Role.PROGRAM_MANAGER))
    path = _edit(agreement)
    assert "No measures found" in client.get(f"{path}?q=no-such-measure-anywhere").text
    found = client.get(f"{path}?q=FFM.100.030.0011")
    assert found.status_code == 200
    assert "&lt;60 days" in found.text
    assert "&lt; 60 days" in found.text
    world.session.rollback()
    measure = world.session.exec(
        select(CatalogMeasure).where(CatalogMeasure.measure_id == "FFM.100.030.0011")
    ).one()
    assert f'value="{measure.id}"' in found.text
    count = len(_version(world, agreement).metrics)

    page = f"{path}?q=FFM.100.030.0011"
    added = _post(
        client, f"{path}/catalog", {"measure_id": str(measure.id), "q": "FFM.100.030.0011"}, page
    )

    assert added.status_code == 303, added.text
    assert added.headers["location"] == f"{path}?q=FFM.100.030.0011#metrics"
    version = _version(world, agreement)
    assert len(version.metrics) == count + 1
    metric = version.metrics[-1]
    assert (metric["key"], metric["target"], metric["unit"]) == ("ffm.100.030.0011", 60, "days")
    assert metric["direction"] == "lower_is_better"
    assert [
        e["data"]["catalog_key"]
        for e in _audits(world, agreement, "version.metric_added_from_catalog")
    ] == [measure.key]

    # A measure whose target is "TBD" needs one: the form says so at the target field.
    world.session.rollback()
    tbd = world.session.exec(
        select(CatalogMeasure).where(col(CatalogMeasure.target_problem).is_not(None))
    ).first()
    assert tbd is not None
    q = tbd.measure_id
    refused = _post(client, f"{path}/catalog", {"measure_id": str(tbd.id), "q": q}, f"{path}?q={q}")
    assert refused.status_code == 422
    assert f'id="c{tbd.id}-target-error"' in refused.text
    assert len(_version(world, agreement).metrics) == count + 1


def test_only_a_draft_is_editable_and_a_stranger_gets_not_found(
    world: World, signed_in: Client
) -> None:
    agreement = world.create()
    world.to_joint_review(agreement)
    client = signed_in(_email(world, C, Role.PROGRAM_MANAGER))
    path = _edit(agreement)
    refused = client.get(path)
    assert refused.status_code == 409
    assert "Only a draft can be edited" in refused.text
    assert "Version 1 is joint review" in refused.text
    token = CSRF_FIELD.search(refused.text)
    assert token is not None
    before = _version(world, agreement)
    terms = dict(before.terms)
    posted = client.post(
        f"{path}/terms",
        data={"csrf_token": token[1], "lock_version": str(before.lock_version), "currency": "EUR"},
        follow_redirects=False,
    )
    assert posted.status_code == 409
    assert "Only a draft can be edited" in posted.text
    assert _version(world, agreement).terms == terms

    outsider = outsider_of_another_organisation(world)
    draft = world.create()
    stranger = signed_in(outsider.email)
    for url in (_edit(draft), f"{_edit(draft)}/metrics/proper-payments/remove"):
        answer = stranger.get(url)
        assert answer.status_code == 404, url
        assert draft.key not in answer.text
    token = CSRF_FIELD.search(stranger.get("/tasks").text)
    assert token is not None
    posted = stranger.post(
        f"{_edit(draft)}/terms",
        data={"csrf_token": token[1], "lock_version": "1", "currency": "EUR"},
    )
    assert posted.status_code == 404


def test_a_metric_saved_meanwhile_shows_what_is_stored_beside_the_typed_values(
    world: World, signed_in: Client
) -> None:
    agreement = world.create()
    key = "prompt-payment"
    page = f"{_edit(agreement)}?metric={key}"
    first = signed_in(_email(world, C, Role.PROGRAM_MANAGER))
    second = signed_in(_email(world, P, Role.FUNCTIONAL_LEAD))
    token_1, lock = _form(first, page)
    token_2, _ = _form(second, page)
    metric = _metric(_version(world, agreement), key)
    action = f"{_edit(agreement)}/metrics/{key}"

    saved = first.post(
        action,
        data={**_metric_form(metric, target="99.8"), "lock_version": lock, "csrf_token": token_1},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    late = second.post(
        action,
        data={
            **_metric_form(metric, name="Prompt payments", capability="99"),
            "lock_version": lock,
            "csrf_token": token_2,
        },
        follow_redirects=False,
    )

    assert late.status_code == 409
    assert f'id="metric-{key}-form"' in late.text  # the row stays open with their values
    assert 'value="Prompt payments"' in late.text
    assert "Now stored: <strong>99.8</strong>" in late.text
    stored = _metric(_version(world, agreement), key)
    assert (stored["target"], stored["name"], stored["capability"]) == (
        99.8,
        metric["name"],
        99.5,
    )


def test_the_next_step_says_what_the_draft_still_needs(world: World, signed_in: Client) -> None:
    agreement = world.create()
    client = signed_in(_email(world, C, Role.PROGRAM_MANAGER))
    path = _edit(agreement)
    ready = client.get(path).text
    assert "Next step: joint review" in ready
    assert f"/slas/{agreement.id}/versions/1/events/submit_for_review/confirm" in ready

    unset = _post(
        client,
        f"{path}/terms",
        _terms_form(_version(world, agreement), period_end=""),
        path,
    )
    assert unset.status_code == 303
    waiting = client.get(path).text
    step = waiting.split('id="next-step"', 1)[1].split("</section>", 1)[0]
    assert "disabled" in step
    assert "The period of performance is not set" in step
    assert "/events/submit_for_review/confirm" not in step
