"""ETags of versions and the lock_version a write expects, from its body or `If-Match`.

A version's ETag is its lock_version in quotes (`"3"`): strong, so that `If-Match` may use it.
"""

from __future__ import annotations

import re

from fastapi import HTTPException, Response

from workflow.errors import InvalidInput
from workflow.queries.versions import VersionDetail

_TAG = re.compile(r'^(?:W/)?("?)(\d+)\1$')


def etag(lock_version: int) -> str:
    return f'"{lock_version}"'


def with_etag(detail: VersionDetail, response: Response) -> VersionDetail:
    response.headers["ETag"] = etag(detail.lock_version)
    return detail


def expected_lock_version(
    from_body: int | None, if_match: str | None, *, required: bool = False
) -> int | None:
    """The lock_version the client last saw, if it says (both sources agree when both are
    given); `required` refuses a write without one with 428 (see `required_lock_version`)."""
    from_header = _parse(if_match) if if_match is not None else None
    if from_body is not None and from_header is not None and from_body != from_header:
        raise InvalidInput(
            "lock_version and If-Match disagree",
            [{"field": "If-Match", "message": f"names {from_header}, the body {from_body}"}],
        )
    expected = from_body if from_body is not None else from_header
    if expected is None and required:
        raise HTTPException(
            428,
            "send the lock_version you last read, in the body or as If-Match: "
            "the version's ETag, so that nobody overwrites a change they have not seen",
        )
    return expected


def required_lock_version(from_body: int | None, if_match: str | None) -> int:
    """The lock_version a write that must not go ahead blind expects; 428 without one."""
    expected = expected_lock_version(from_body, if_match, required=True)
    assert expected is not None
    return expected


def _parse(if_match: str) -> int:
    match = _TAG.match(if_match.strip())
    if match is None:
        raise InvalidInput(
            "If-Match must be the version's ETag",
            [{"field": "If-Match", "message": 'expected an ETag such as "3"'}],
        )
    return int(match.group(2))
