"""The OpenAPI document with every error an operation may answer, as problem+json.

FastAPI declares only the success status and a 422 whose schema (`HTTPValidationError`) is not
what we send. Here every operation of /api/v1 gains the errors of the contract (api.md), each
with the `Problem` schema under `application/problem+json`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.problems import PROBLEM_JSON, Problem

API_PREFIX = "/api/"

# Every API operation: its caller is authenticated, then authorised, may name something that
# is not there (or not theirs), may meet a concurrent change, may send an invalid field, may be
# rate limited, and may meet a fault of ours.
COMMON_ERRORS = {
    401: "no valid bearer token",
    403: "the caller's role or organisation may not do this",
    404: "not found, or of an agreement the caller's organisation is not party to",
    409: "not allowed in the current state, a stale lock_version, or a conflicting change",
    422: "invalid input: `errors` names every offending field",
    429: "too many requests: wait for Retry-After seconds",
    500: "an unexpected fault of ours (logged)",
}
BODY_ERRORS = {
    400: "the body could not be read (e.g. not UTF-8)",
    413: "the request body is over the size limit",
    415: "the body's Content-Type is not one this operation reads",
}
PRECONDITION_ERRORS = {
    428: "send the lock_version you read, in the body or as If-Match",
}
# Operations whose lock_version is optional: they never answer 428.
_OPTIONAL_PRECONDITION = {("post", "/api/v1/slas/{sla_id}/versions/{number}/events/{event}")}

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}}}


def _has_if_match(operation: dict[str, Any]) -> bool:
    return any(
        p.get("in") == "header" and p.get("name", "").lower() == "if-match"
        for p in operation.get("parameters", [])
    )


def errors_of(method: str, path: str, operation: dict[str, Any]) -> dict[int, str]:
    """The error statuses one API operation declares."""
    errors = dict(COMMON_ERRORS)
    if "requestBody" in operation:
        errors.update(BODY_ERRORS)
    if _has_if_match(operation) and (method, path) not in _OPTIONAL_PRECONDITION:
        errors.update(PRECONDITION_ERRORS)
    return errors


def _declare_errors(document: dict[str, Any]) -> None:
    for path, operations in document.get("paths", {}).items():
        if not path.startswith(API_PREFIX):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status, description in errors_of(method, path, operation).items():
                responses[str(status)] = error(description)
            operation["responses"] = dict(sorted(responses.items()))


def build(app: FastAPI) -> dict[str, Any]:
    """The document `/openapi.json` serves (built once)."""
    if app.openapi_schema:
        return app.openapi_schema
    document = FastAPI.openapi(app)  # FastAPI's own document, completed below
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["Problem"] = problem_schema
    _declare_errors(document)
    # Every 422 now refers to Problem: FastAPI's own validation schemas are unused.
    for name in _FASTAPI_VALIDATION:
        schemas.pop(name, None)
    app.openapi_schema = document
    return document


def install(app: FastAPI) -> None:
    app.openapi = lambda: build(app)  # type: ignore[method-assign]
