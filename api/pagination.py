"""Cursor pagination: `?limit=&cursor=` in, `{items, next_cursor}` out."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from workflow.errors import InvalidInput
from workflow.queries.common import Slice

T = TypeVar("T")

LimitQuery = Annotated[int, Query(ge=1, le=500, description="page size (max 500)")]
CursorQuery = Annotated[
    str | None,
    Query(max_length=1000, description="next_cursor of the previous page; empty: the first page"),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(position: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    """The position after which the next page starts, or None for the first page (no cursor,
    or an empty one: clients building `?cursor={next_cursor}` send that on the first call)."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError:
        position = None
    if not isinstance(position, list):
        raise InvalidInput("invalid cursor", [{"field": "cursor", "message": "not a cursor"}])
    return position


def page(found: Slice[T]) -> Page[T]:
    """A query's slice as the API's page, its next position turned into an opaque cursor."""
    after = found.next_after
    return Page(items=found.items, next_cursor=encode_cursor(after) if after else None)
