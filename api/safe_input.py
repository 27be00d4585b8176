"""Input no column can hold, refused before anything reads it: NUL characters anywhere (in the
path, the query, a header, a JSON or form body), and in JSON also lone surrogates (`"\\ud800"`)
and non-finite numbers.

PostgreSQL cannot store NUL in text and SQLite would store it silently; neither driver can
encode a lone surrogate; Python's json module reads `NaN` and `Infinity`, which are not JSON and
mean nothing as a target or a value. All are refused with 422 naming each offending field, the
same on every database.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

NUL = "\x00"
NUL_MESSAGE = "must not contain NUL characters"
NON_FINITE_MESSAGE = "must be a finite number (NaN and Infinity are not JSON)"
SURROGATE_MESSAGE = "must be valid Unicode (a lone surrogate is not)"
_SURROGATE = re.compile("[\ud800-\udfff]")

# A body with thousands of bad values is refused with the first few named.
MAX_ERRORS = 50

Loc = tuple[str | int, ...]


def _printable(key: str) -> str:
    """A name as the problem can show it (JSON cannot carry a lone surrogate)."""
    return key.replace(NUL, "\\u0000").encode("utf-8", "backslashreplace").decode()


def _bad_values(value: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, str):
        if NUL in value:
            yield loc, NUL_MESSAGE
        elif _SURROGATE.search(value):
            yield loc, SURROGATE_MESSAGE
    elif isinstance(value, float):
        if not math.isfinite(value):
            yield loc, NON_FINITE_MESSAGE
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                yield (*loc, _printable(key)), "a member name " + NUL_MESSAGE
            elif _SURROGATE.search(key):
                yield (*loc, _printable(key)), "a member name " + SURROGATE_MESSAGE
            yield from _bad_values(item, (*loc, _printable(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _bad_values(item, (*loc, index))


def _bad_pairs(where: str, pairs: list[tuple[str, Any]]) -> Iterator[tuple[Loc, str]]:
    for name, value in pairs:
        if NUL in name:
            yield (where, _printable(name)), "a parameter name " + NUL_MESSAGE
        elif isinstance(value, str) and NUL in value:
            yield (where, name), NUL_MESSAGE


def _is_json(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _is_form(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media in ("application/x-www-form-urlencoded", "multipart/form-data")


def _has_body_parameter(request: Request) -> bool:
    # Only a body FastAPI reads into a parameter is looked at: a streamed upload (CSV) or a
    # document read by the endpoint itself (YAML) is checked where it is parsed.
    route = request.scope.get("route")
    return isinstance(route, APIRoute) and route.body_field is not None


def _refuse(found: Iterator[tuple[Loc, str]]) -> None:
    errors = []
    for loc, message in found:
        errors.append({"type": "value_error", "loc": loc, "msg": message, "input": None})
        if len(errors) == MAX_ERRORS:
            break
    if errors:
        raise RequestValidationError(errors)


def _url_and_headers(request: Request) -> Iterator[tuple[Loc, str]]:
    yield from _bad_pairs("path", list(request.path_params.items()))
    yield from _bad_pairs("query", request.query_params.multi_items())
    yield from _bad_pairs("header", request.headers.items())


async def refuse_unsafe_input(request: Request) -> None:
    """For the API: the URL, headers and JSON body (already parsed by FastAPI, so not twice)."""
    found = _url_and_headers(request)
    _refuse(found)
    if _has_body_parameter(request) and _is_json(request) and await request.body():
        _refuse(_bad_values(await request.json(), ("body",)))


async def refuse_unsafe_url(request: Request) -> None:
    """For pages: the URL and headers (their forms are checked by `refuse_unsafe_form`)."""
    _refuse(_url_and_headers(request))


async def refuse_unsafe_form(request: Request) -> None:
    """For pages whose forms have no field errors of their own: one 422 page naming the fields."""
    if request.method != "GET" and _is_form(request):
        form = await request.form()
        _refuse(_bad_pairs("form", list(form.multi_items())))


SafeInput = Depends(refuse_unsafe_input)
SafeUrl = Depends(refuse_unsafe_url)
SafeForm = Depends(refuse_unsafe_form)
