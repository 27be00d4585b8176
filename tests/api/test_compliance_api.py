"""The compliance report over HTTP (JSON, CSV, HTML) and excusals, on both databases."""

from __future__ import annotations

import csv
import io

from pydantic import TypeAdapter

from states import Role
from tests.api.conftest import Api
from tests.api.flows import outsider
from tests.helpers import C, P
from tests.workflow.test_compliance_report import NOW, OBSERVATIONS, PERIOD, V1, V2
from tests.workflow.test_compliance_sql import as_stored, store
from workflow.compliance import (
    Attribution,
    ComplianceReport,
    Excusal,
    RemedyPolicy,
    compliance_report,
)
from workflow.models import Agreement

REPORT = "/api/v1/slas/{}/reports/compliance?from=2027-05-01&to=2027-08-31"


def _agreement(api: Api) -> Agreement:
    agreement = api.world.create()
    assert agreement.id is not None
    as_stored(api.world, agreement, [V1, V2])
    store(api.world.session, agreement.id, OBSERVATIONS)
    api.clock[0] = NOW
    return agreement


def _excuse(api: Api, agreement: Agreement, reason: str, by: Role = Role.BUSINESS_OWNER) -> int:
    """The provider proposes the excusal; when proposed, the customer's Program Manager
    accepts it (it counts only then)."""
    response = api.client.post(
        f"/api/v1/slas/{agreement.id}/excusals",
        json={
            "metric": "incident.resolution",
            "window": "2027-05",
            "party": "customer",
            "reason": reason,
        },
        headers=api.auth(P, by),
    )
    if response.status_code == 202:
        assert response.json()["state"] == "open"
        proposal_id = response.json()["proposal_id"]
        accepted = api.client.post(
            f"/api/v1/proposals/{proposal_id}/accept",
            json={},
            headers=api.auth(C, Role.PROGRAM_MANAGER),
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["state"] == "accepted"
    return response.status_code


def test_json_report_with_an_excusal(api: Api) -> None:
    agreement = _agreement(api)
    reason = '=HYPERLINK("http://evil.example")'
    assert _excuse(api, agreement, reason, Role.PMO_TEAM) == 403
    assert _excuse(api, agreement, reason) == 202
    assert _excuse(api, agreement, "again") == 409
    response = api.client.get(
        REPORT.format(agreement.id), headers=api.auth(C, Role.FUNCTIONAL_LEAD)
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    expected = compliance_report(
        [V1, V2],
        OBSERVATIONS,
        [Excusal("incident.resolution", "2027-05", Attribution.CUSTOMER, reason)],
        PERIOD,
        remedy_policy=RemedyPolicy.SERVICE_CREDITS,
        now=NOW,
    )
    assert response.json() == TypeAdapter(ComplianceReport).dump_python(expected, mode="json")
    may = response.json()["metrics"][1]["windows"][0]
    assert (may["status"], may["excusal"]["party"]) == ("excused", "customer")
    assert response.json()["totals"]["credits"] == "1600.00"  # July 1000 (capped) + Q3 600


def test_csv_neutralises_formulas_and_html_shows_the_grid(api: Api) -> None:
    agreement = _agreement(api)
    assert _excuse(api, agreement, "=2+3") == 202
    url = REPORT.format(agreement.id)
    headers = api.auth(C, Role.PROGRAM_MANAGER)
    as_csv = api.client.get(url + "&format=csv", headers=headers)
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == 14
    may = next(r for r in rows if r["metric"] == "incident.resolution" and r["window"] == "2027-05")
    assert (may["status"], may["actual"], may["excused_to"]) == ("excused", "9.6", "customer")
    assert may["excusal_reason"] == "'=2+3"
    by_accept = api.client.get(url, headers={**headers, "Accept": "text/csv"})
    assert by_accept.text == as_csv.text
    html = api.client.get(url, headers={**headers, "Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html")
    assert "2027-Q3" in html.text
    assert "excused" in html.text


def test_not_found_and_bad_dates(api: Api) -> None:
    agreement = _agreement(api)
    headers = api.auth(C, Role.PROGRAM_MANAGER)
    url = f"/api/v1/slas/{agreement.id}/reports/compliance"
    stranger = outsider(api)
    assert api.client.get(REPORT.format(agreement.id), headers=stranger).status_code == 404
    assert api.client.get(REPORT.format(999_999), headers=headers).status_code == 404
    for query in (
        "?from=2027-13-01&to=2027-08-31",
        "?from=2027-05-01",
        "?from=2027-08-01&to=2027-05-01",
    ):
        response = api.client.get(url + query, headers=headers)
        assert response.status_code == 422, query
    excusal = {"metric": "availability", "window": "2027-05", "party": "nobody", "reason": "x"}
    refused = api.client.post(
        f"/api/v1/slas/{agreement.id}/excusals",
        json=excusal,
        headers=api.auth(P, Role.BUSINESS_OWNER),
    )
    assert refused.status_code == 422
    not_party = api.client.post(
        f"/api/v1/slas/{agreement.id}/excusals",
        json={**excusal, "party": "provider"},
        headers=stranger,
    )
    assert not_party.status_code == 404
