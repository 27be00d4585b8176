"""The OpenAPI document declares what the API answers: every error as a problem, ids bounded to
their columns, every list a page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from sqlalchemy import create_engine

from api.app import create_app
from api.problems import PROBLEM_JSON
from api.types import INT32_MAX
from tests.api.conftest import Api
from tests.api.flows import PM, create_sla
from tests.helpers import C

COMMON = {"401", "403", "404", "409", "422", "429", "500"}
WITH_BODY = {"400", "413", "415"}
NEEDS_LOCK_VERSION = {
    ("patch", "/api/v1/slas/{sla_id}/versions/{number}"),
    ("post", "/api/v1/slas/{sla_id}/versions/{number}/import"),
    ("post", "/api/v1/slas/{sla_id}/versions/{number}/metrics:from-catalog"),
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    # The document does not depend on the database: an empty in-memory one will do.
    engine = create_engine("sqlite://")
    try:
        return create_app(engine).openapi()
    finally:
        engine.dispose()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        if path.startswith("/api/v1/"):
            for method, operation in operations.items():
                yield method, path, operation


def test_every_operation_declares_its_errors_as_problems(document: dict[str, Any]) -> None:
    operations = list(_operations(document))
    assert len(operations) >= 45
    for method, path, operation in operations:
        responses = operation["responses"]
        errors = {status for status in responses if status[0] in "45"}
        expected = COMMON | (WITH_BODY if "requestBody" in operation else set())
        if (method, path) in NEEDS_LOCK_VERSION:
            expected.add("428")
        assert errors == expected, (method, path, sorted(errors ^ expected))
        for status in errors:
            content = responses[status]["content"]
            assert content == {
                PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
            }, (method, path, status)


def test_fastapis_validation_schema_is_replaced_by_problem(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    problem = schemas["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert {"errors", "current_state", "allowed_events"} <= set(problem["properties"])


def test_ids_are_bounded_to_a_32_bit_column(document: dict[str, Any]) -> None:
    bounded = 0
    for method, path, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            name, schema = parameter["name"], parameter["schema"]
            if not (name.endswith("_id") or name in ("number", "against")):
                continue
            if "metrics:from-catalog" in path or "/catalog" in path or "measurements" in path:
                continue  # the upload work's routers (see the report)
            integer = next(s for s in schema.get("anyOf", [schema]) if s.get("type") == "integer")
            assert (integer.get("minimum"), integer.get("maximum")) == (1, INT32_MAX), (
                method,
                path,
                name,
            )
            bounded += 1
    assert bounded >= 35


def test_every_list_is_a_page_with_limit_and_cursor(document: dict[str, Any]) -> None:
    periods = document["paths"]["/api/v1/slas/{sla_id}/periods"]["get"]
    in_url = {p["name"] for p in periods["parameters"] if p["in"] in ("path", "query")}
    assert in_url == {"sla_id", "limit", "cursor"}
    answer = periods["responses"]["200"]["content"]["application/json"]["schema"]
    page = document["components"]["schemas"][answer["$ref"].rsplit("/", 1)[1]]
    assert set(page["properties"]) == {"items", "next_cursor"}
    for method, path, operation in _operations(document):
        if method != "get":
            continue
        schema = operation["responses"]["200"]["content"].get("application/json", {})
        assert schema.get("schema", {}).get("type") != "array", (path, "a bare array")


def test_real_problems_match_the_declared_schema(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    # The Problem schema, with the components its references point into.
    problem = {**document["components"]["schemas"]["Problem"], "components": document["components"]}
    sla = create_sla(api)
    answers = [
        api.client.get("/api/v1/me"),  # 401
        api.client.get("/api/v1/users", headers=api.auth(C, PM)),  # 403
        api.client.get(f"/api/v1/slas/{sla['id'] + 1}", headers=api.auth(C, PM)),  # 404
        api.client.post(
            f"/api/v1/slas/{sla['id']}/versions/1/events/activate", headers=api.auth(C, PM)
        ),  # 409
        api.client.get(f"/api/v1/slas/{2**31}", headers=api.auth(C, PM)),  # 422
        api.client.patch(f"/api/v1/slas/{sla['id']}/versions/1", json={}, headers=api.auth(C, PM)),
    ]
    assert [a.status_code for a in answers] == [401, 403, 404, 409, 422, 428]
    for answer in answers:
        assert answer.headers["content-type"] == PROBLEM_JSON
        jsonschema_rs.validate(problem, answer.json())
