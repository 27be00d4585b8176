"""Canonical JSON and hashing: one byte-exact form for anything we hash."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# One encoder for every call: `json.dumps` with these options builds a new one each time,
# which cost as much as encoding a small audit event's data.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
)


def canonical_json(value: Any) -> str:
    return _CANONICAL.encode(value)


def sha256_hex(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def content_hash(terms: dict[str, Any], metrics: list[dict[str, Any]]) -> str:
    """What approvals bind to: the exact terms and metrics of a version."""
    return sha256_hex("accord.content.v1", canonical_json({"terms": terms, "metrics": metrics}))
