"""Bounded input types: every integer a client sends fits the database column it is compared
with, so an out-of-range number is refused with 422 naming it instead of failing in the
driver (PostgreSQL INTEGER is 32-bit, SQLite's 64-bit)."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

INT32_MAX = 2**31 - 1

# The id of any row, and a version number: both start at 1.
Id = Annotated[int, Ge(1), Le(INT32_MAX)]

# The lock_version a write expects (versions start at 1).
LockVersion = Annotated[int, Ge(1), Le(INT32_MAX)]


def parse_id(text: str) -> int | None:
    """An id typed into a form, or None when it is not one (not digits, or out of range)."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > len(str(INT32_MAX)):
        return None
    value = int(text)
    return value if 1 <= value <= INT32_MAX else None
