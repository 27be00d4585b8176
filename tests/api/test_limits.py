"""The request-body limit: a body over it is a problem+json 413, however it is sent (both DBs).

A body that declares its length is refused before it is read; one sent in chunks is refused
when the limit is passed, even where FastAPI reads the body itself (it would make the error
a 400 of its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from states import Role
from tests.api.conftest import Api
from tests.helpers import P

LIMIT = 1_048_576  # ACCORD_MAX_BODY_BYTES's default, which the test app keeps


def _chunked(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """A generator body: httpx sends it with Transfer-Encoding: chunked, no Content-Length."""
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _assert_413(reply: Any) -> None:
    assert reply.status_code == 413, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    body = reply.json()
    assert body.pop("request_id") == reply.headers["x-request-id"]
    assert body == {
        "type": "/problems/too-large",
        "title": "Request body too large",
        "status": 413,
        "detail": f"the request body exceeds {LIMIT} bytes",
    }


def test_a_chunked_json_body_over_the_limit_is_413(api: Api) -> None:
    agreement = api.world.create()
    observation = (
        b'{"metric": "payroll-accuracy", "observed_at": "2026-10-05T10:00:00Z", "value": 1},'
    )
    body = b'{"observations": [' + observation * (LIMIT // len(observation) + 1) + b"{}]}"
    reply = api.client.post(
        f"/api/v1/slas/{agreement.id}/measurements",
        content=_chunked(body),
        headers={**api.auth(P, Role.PMO_TEAM), "Content-Type": "application/json"},
    )
    _assert_413(reply)


def test_a_chunked_json_body_within_the_limit_is_read(api: Api) -> None:
    agreement = api.world.create()
    observation = (
        b'{"metric": "payroll-accuracy", "observed_at": "2026-10-05T10:00:00Z", "value": 1}'
    )
    body = b'{"observations": [' + observation + b"]}"
    reply = api.client.post(
        f"/api/v1/slas/{agreement.id}/measurements",
        content=_chunked(body, 7),
        headers={**api.auth(P, Role.PMO_TEAM), "Content-Type": "application/json"},
    )
    assert reply.status_code == 202, reply.text
    assert reply.json()["accepted"] == 1


def test_a_chunked_multipart_upload_over_the_limit_is_413(api: Api) -> None:
    boundary = "accord-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="big.xlsx"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        + b"x" * (LIMIT + 1)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    reply = api.client.post(
        "/api/v1/catalog/import",
        content=_chunked(body),
        headers={**api.admin, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    _assert_413(reply)
