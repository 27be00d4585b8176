"""What-if over HTTP, on both databases: the dataset and figures of tests/workflow/test_what_if."""

from __future__ import annotations

from states import Role
from tests.api.conftest import Api
from tests.api.flows import outsider
from tests.helpers import C, P
from tests.workflow.test_compliance_sql import as_stored, store
from tests.workflow.test_what_if import OBSERVATIONS, VERSION


def _url(sla_id: int, query: str, number: int = 1) -> str:
    return f"/api/v1/slas/{sla_id}/versions/{number}/what-if?{query}"


def test_what_if_over_http(api: Api) -> None:
    agreement = api.world.create()
    assert agreement.id is not None
    as_stored(api.world, agreement, [VERSION])
    empty = api.client.get(
        _url(agreement.id, "metric=availability&target=99.7"), headers=api.auth(P, Role.PMO_TEAM)
    )
    assert empty.status_code == 200
    assert empty.json()["windows"] == []
    assert "no observations" in empty.json()["note"]
    store(api.world.session, agreement.id, OBSERVATIONS)
    response = api.client.get(
        _url(agreement.id, "metric=availability&target=99.7"),
        headers=api.auth(C, Role.FUNCTIONAL_LEAD),
    )
    assert response.status_code == 200
    body = response.json()
    assert [w["status_proposed"] for w in body["windows"]] == [
        "warning",
        "missed",
        "no_data",
        "missed",
        "missed",
    ]
    assert body["windows"][1] == {
        "window": "2027-02",
        "observations": 1,
        "actual": 99.6,
        "status_now": "warning",
        "status_proposed": "missed",
        "credit_now": "0.00",
        "credit_proposed": "500.00",
    }
    assert (body["totals"]["credits_now"], body["totals"]["credits_proposed"]) == (
        "1000.00",
        "1500.00",
    )
    assert (body["target_proposed"], body["warning_proposed"]) == (99.7, 100.0)

    unknown = api.client.get(
        _url(agreement.id, "metric=nope&target=1"), headers=api.auth(C, Role.FUNCTIONAL_LEAD)
    )
    assert unknown.status_code == 422
    bad_target = api.client.get(
        _url(agreement.id, "metric=availability&target=abc"),
        headers=api.auth(C, Role.FUNCTIONAL_LEAD),
    )
    assert bad_target.status_code == 422
    hidden = api.client.get(
        _url(agreement.id, "metric=availability&target=1"), headers=outsider(api)
    )
    assert hidden.status_code == 404
    no_version = api.client.get(
        _url(agreement.id, "metric=availability&target=1", number=7),
        headers=api.auth(C, Role.FUNCTIONAL_LEAD),
    )
    assert no_version.status_code == 404
