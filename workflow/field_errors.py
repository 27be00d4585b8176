"""Validation errors in plain language, for the person who typed the value.

Pydantic's messages are written for programmers ("Input should be a valid number, unable to
parse string as a number"); the pages show these next to the field and the API returns them in
`errors[].message`, so they say what to enter instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_BY_TYPE = {
    "missing": "required",
    "float_parsing": "enter a number, such as 99.5",
    "float_type": "enter a number, such as 99.5",
    "decimal_parsing": "enter an amount, such as 4850000.00",
    "decimal_type": "enter an amount, such as 4850000.00",
    "int_parsing": "enter a whole number",
    "int_type": "enter a whole number",
    "int_from_float": "enter a whole number",
    "bool_parsing": "choose yes or no",
    "date_parsing": "enter a date as YYYY-MM-DD",
    "date_from_datetime_parsing": "enter a date as YYYY-MM-DD",
    "date_type": "enter a date as YYYY-MM-DD",
    "datetime_parsing": "enter a date and time with its offset, such as 2026-11-03T09:00-05:00",
    "finite_number": "enter a finite number",
    "string_type": "enter text",
    "extra_forbidden": "is not a field of this form",
}


def plain(error: Mapping[str, Any]) -> str:
    """One pydantic error (`ValidationError.errors()` item) as a short instruction."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind in _BY_TYPE:
        return _BY_TYPE[kind]
    if kind == "string_too_short":
        return (
            "required"
            if ctx.get("min_length") == 1
            else f"at least {ctx.get('min_length')} characters"
        )
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if kind in ("greater_than_equal", "greater_than"):
        limit = ctx.get("ge", ctx.get("gt"))
        return (
            f"must be at least {limit}"
            if kind == "greater_than_equal"
            else f"must be more than {limit}"
        )
    if kind in ("less_than_equal", "less_than"):
        limit = ctx.get("le", ctx.get("lt"))
        return (
            f"must be at most {limit}"
            if kind == "less_than_equal"
            else f"must be less than {limit}"
        )
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", "one of the choices"))
        return f"choose {expected.replace(chr(39), '').replace('_', ' ')}"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} at once"
    if kind == "decimal_max_places":
        return f"at most {ctx.get('decimal_places')} decimal places"
    if kind == "decimal_max_digits":
        return f"at most {ctx.get('max_digits')} digits"
    if kind == "string_pattern_mismatch":
        loc = error.get("loc") or ()
        if loc and loc[-1] == "key":
            return "lower case letters, digits, '.', '_' or '-', such as ticket-response"
        if loc and loc[-1] == "currency":
            return "a three-letter currency code, such as USD"
        return "is not in the expected form"
    if kind == "value_error":
        return str(error.get("msg", "")).removeprefix("Value error, ")
    return str(error.get("msg", "is not valid"))
