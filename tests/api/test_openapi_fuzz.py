"""Every API operation, fuzzed from the OpenAPI document (schemathesis, in process).

For each operation hypothesis generates requests from its declared parameters and body, valid
ones and invalid ones, sent with an administrator's and with a stakeholder's bearer token, on
both databases. Every answer must be one the document declares: no 5xx, a declared status,
the declared content type, a body matching the declared schema (a problem for every error),
and an invalid request refused with a 4xx.

`ACCORD_FUZZ_EXAMPLES` sets the examples per operation and mode (default 4 in `make test`,
derandomized so that the run is repeatable; a nightly run sets e.g. 200 and draws fresh
random examples each time).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from states import Role
from tests.api.conftest import Api
from tests.helpers import C

DEFAULT_EXAMPLES = 4
EXAMPLES = int(os.environ.get("ACCORD_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))
NIGHTLY = EXAMPLES != DEFAULT_EXAMPLES

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@dataclass
class Fuzzed:
    """What one run sent, and what went wrong."""

    operations: int = 0
    requests: int = 0
    failures: dict[str, str] = field(default_factory=dict)


Operation = APIOperation[Any, Any, Any, Any]


def _fuzz(operation: Operation, mode: GenerationMode, caller: dict[str, str], run: Fuzzed) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not NIGHTLY,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Case[Any]) -> None:
        run.requests += 1
        case.call_and_validate(headers=caller, checks=CHECKS)

    try:
        send()
    except (Exception, FailureGroup) as failure:  # record it and go on with the others
        run.failures[f"{operation.label} ({mode.value})"] = str(failure)[:2000]


def _takes_input(operation: Operation) -> bool:
    # Every operation has the Authorization header; the caller's token replaces it.
    return bool(len(operation.path_parameters) or len(operation.query) or len(operation.body))


# The suite's 300 s per test fits the default; a nightly run gets 10 s per example (40 took 220 s).
@pytest.mark.timeout(max(300, EXAMPLES * 10))
@pytest.mark.parametrize("role", ["administrator", "stakeholder"])
def test_every_answer_is_declared_and_none_is_a_server_error(api: Api, role: str) -> None:
    caller = api.admin if role == "administrator" else api.auth(C, Role.PROGRAM_MANAGER)
    api.world.create()  # so that small ids sometimes name something real
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    run = Fuzzed()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document itself is valid
        operation = result.ok()
        run.operations += 1
        _fuzz(operation, GenerationMode.POSITIVE, caller, run)
        if _takes_input(operation):  # else nothing invalid can be sent
            _fuzz(operation, GenerationMode.NEGATIVE, caller, run)
    print(f"fuzzed {run.operations} operations with {run.requests} requests as {role}")
    assert run.operations >= 40
    assert run.requests >= run.operations * 2
    assert not run.failures, "\n\n".join(f"{k}:\n{v}" for k, v in run.failures.items())
