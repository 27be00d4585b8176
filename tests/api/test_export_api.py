"""GET …/versions/{n}/export and POST …/versions/{n}/import over HTTP."""

from __future__ import annotations

import yaml

from states import Role
from tests.api.conftest import Api
from tests.helpers import T0, C, P
from workflow import commands
from workflow.content import Content
from workflow.models import Agreement

YAML = {"Content-Type": "application/yaml"}


def _url(agreement: Agreement, number: int, action: str) -> str:
    return f"/api/v1/slas/{agreement.id}/versions/{number}/{action}"


def _outsider(api: Api) -> dict[str, str]:
    """A user whose organisation is party to no agreement."""
    session = api.world.session
    org = commands.create_organization(session, actor=None, name="Third Agency", now=T0)
    user = commands.create_user(
        session,
        actor=None,
        email="someone@third.example",
        name="Some One",
        organization_id=org.id,  # type: ignore[arg-type]
        now=T0,
    )
    _, token = commands.create_token(session, actor=None, user_id=user.id, now=T0)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


def test_export_answers_yaml_in_the_example_shape(api: Api) -> None:
    agreement = api.world.create()
    response = api.client.get(_url(agreement, 1, "export"), headers=api.auth(P, Role.PMO_TEAM))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/yaml"
    assert response.headers["etag"] == '"1"'
    assert f'filename="{agreement.key}-v1.yaml"' in response.headers["content-disposition"]
    document = yaml.safe_load(response.text)
    assert (document["agreement"], document["version"], document["state"]) == (
        agreement.key,
        1,
        "draft",
    )
    assert document["customer"] == "Department of Examples"
    assert document["stakeholders"] == api.world.document["stakeholders"]
    assert len(document["metrics"]) == 15


def test_export_is_404_to_non_parties_and_for_unknown_versions(api: Api) -> None:
    agreement = api.world.create()
    outsider = api.client.get(_url(agreement, 1, "export"), headers=_outsider(api))
    assert outsider.status_code == 404
    assert outsider.headers["content-type"] == "application/problem+json"
    missing = api.client.get(_url(agreement, 7, "export"), headers=api.auth(C, Role.PMO_LEAD))
    assert missing.status_code == 404
    assert api.client.get(_url(agreement, 1, "export")).status_code == 401


def test_import_an_export_into_a_draft_with_if_match(api: Api) -> None:
    source = api.world.create()
    target = api.world.create(content=Content(), title="An empty draft")
    headers = api.auth(C, Role.FUNCTIONAL_LEAD)
    exported = api.client.get(_url(source, 1, "export"), headers=headers)
    etag = api.client.get(_url(target, 1, "export"), headers=headers).headers["etag"]
    response = api.client.post(
        _url(target, 1, "import"),
        content=exported.text,
        headers={**headers, **YAML, "If-Match": etag},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["content_hash"] == yaml.safe_load(exported.text)["content_hash"]
    assert (body["key"], body["number"], body["state"], body["lock_version"]) == (
        target.key,
        1,
        "draft",
        2,
    )
    assert response.headers["etag"] == '"2"'


def test_import_takes_lock_version_as_a_query_parameter_too(api: Api) -> None:
    agreement = api.world.create()
    headers = api.auth(P, Role.TECHNICAL_LEAD)
    text = api.client.get(_url(agreement, 1, "export"), headers=headers).text
    response = api.client.post(
        _url(agreement, 1, "import") + "?lock_version=1", content=text, headers={**headers, **YAML}
    )
    assert response.status_code == 200
    stale = api.client.post(
        _url(agreement, 1, "import") + "?lock_version=1", content=text, headers={**headers, **YAML}
    )
    assert stale.status_code == 409
    assert stale.json()["current_lock_version"] == 2


def test_import_needs_the_lock_version_it_read(api: Api) -> None:
    agreement = api.world.create()
    headers = api.auth(C, Role.PROGRAM_MANAGER)
    text = api.client.get(_url(agreement, 1, "export"), headers=headers).text
    response = api.client.post(_url(agreement, 1, "import"), content=text, headers=headers)
    assert response.status_code == 428
    assert "lock_version" in response.json()["detail"]
    bad_etag = api.client.post(
        _url(agreement, 1, "import"), content=text, headers={**headers, "If-Match": "abc"}
    )
    assert bad_etag.status_code == 422
    assert bad_etag.json()["errors"][0]["field"] == "If-Match"


def test_bad_yaml_is_a_422_problem(api: Api) -> None:
    agreement = api.world.create()
    response = api.client.post(
        _url(agreement, 1, "import") + "?lock_version=1",
        content="terms: [unclosed\n",
        headers={**api.auth(C, Role.PROGRAM_MANAGER), **YAML},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["detail"].startswith("not valid YAML")
    assert problem["errors"][0]["field"] == "body"


def test_unknown_keys_and_bad_metrics_are_422(api: Api) -> None:
    agreement = api.world.create()
    headers = {**api.auth(C, Role.PROGRAM_MANAGER), **YAML}
    unknown = api.client.post(
        _url(agreement, 1, "import") + "?lock_version=1", content="budget: 5\n", headers=headers
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [{"field": "budget", "message": "not allowed"}]
    bad = api.client.post(
        _url(agreement, 1, "import") + "?lock_version=1",
        content="metrics:\n  - {key: x}\n",
        headers=headers,
    )
    assert bad.status_code == 422
    assert "metrics.0.name" in {e["field"] for e in bad.json()["errors"]}


def test_import_only_into_a_draft(api: Api) -> None:
    agreement = api.world.create()
    headers = api.auth(C, Role.PROGRAM_MANAGER)
    text = api.client.get(_url(agreement, 1, "export"), headers=headers).text
    api.world.fire(agreement, "submit_for_review", api.world.who(C, Role.PROGRAM_MANAGER))
    lock = api.world.version(agreement).lock_version
    response = api.client.post(
        _url(agreement, 1, "import") + f"?lock_version={lock}",
        content=text,
        headers={**headers, **YAML},
    )
    assert response.status_code == 409
    assert response.json()["current_state"] == "joint_review"


def test_import_is_404_to_non_parties(api: Api) -> None:
    agreement = api.world.create()
    text = api.client.get(
        _url(agreement, 1, "export"), headers=api.auth(C, Role.PROGRAM_MANAGER)
    ).text
    response = api.client.post(
        _url(agreement, 1, "import") + "?lock_version=1",
        content=text,
        headers={**_outsider(api), **YAML},
    )
    assert response.status_code == 404


def test_import_refuses_other_media_types(api: Api) -> None:
    agreement = api.world.create()
    response = api.client.post(
        _url(agreement, 1, "import") + "?lock_version=1",
        content=b"--x--",
        headers={**api.auth(C, Role.PROGRAM_MANAGER), "Content-Type": "multipart/form-data"},
    )
    assert response.status_code == 415


def test_the_openapi_document_describes_both_endpoints(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    export = paths["/api/v1/slas/{sla_id}/versions/{number}/export"]["get"]
    assert "application/yaml" in export["responses"]["200"]["content"]
    imported = paths["/api/v1/slas/{sla_id}/versions/{number}/import"]["post"]
    assert "application/yaml" in imported["requestBody"]["content"]
