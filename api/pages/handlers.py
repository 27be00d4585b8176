"""Error answers for the pages: HTML for people, the API's problem+json for everything else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.types import Scope

from api.pages.errors import PageError, SignInRequired
from api.pages.render import is_htmx, redirect, render
from workflow.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotAllowedNow,
    NotFound,
)
from workflow.field_errors import plain

# Paths that answer machines: their errors stay problem+json.
_MACHINE_PREFIXES = ("/api/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc")

_NOT_FOUND = PageError(
    404,
    "Not found",
    "There is nothing here, or nothing your organisation is party to. "
    "Check the address, or start again from the navigation.",
)

Handler = Callable[[Request, Any], Awaitable[Response]]


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(_MACHINE_PREFIXES)


def page_error(request: Request, error: PageError) -> Response:
    return render(
        request,
        "error.html",
        {"title": error.title, "message": error.message},
        status_code=error.status_code,
        headers=error.headers,
    )


def internal_error_page(scope: Scope) -> Response:
    """What a person sees when something failed on our side (the fault is logged)."""
    return page_error(
        Request(scope),
        PageError(
            500,
            "Something went wrong",
            "Something went wrong on our side and it has been logged. Nothing you sent was "
            "half-saved: go back and try again in a moment.",
        ),
    )


def domain_page_error(exc: DomainError) -> PageError:
    """The page a domain refusal becomes when nothing more specific handles it."""
    if isinstance(exc, NotFound):
        return _NOT_FOUND
    if isinstance(exc, Forbidden):
        return PageError(403, "Not allowed", exc.message)
    if isinstance(exc, InvalidInput):
        return PageError(422, "Please check what you entered", exc.message)
    if isinstance(exc, NotAllowedNow | Conflict):
        return PageError(409, "This changed meanwhile", f"{exc.message}. Reload and try again.")
    return PageError(400, "Not possible", exc.message)


def _sign_in_redirect(request: Request, exc: SignInRequired) -> Response:
    url = "/signin?" + urlencode({"next": exc.next_url}) if exc.next_url != "/" else "/signin"
    if is_htmx(request):
        # htmx would swap the sign-in page into a fragment; make it load the whole page.
        return Response(status_code=204, headers={"HX-Redirect": url})
    return redirect(url)


def install(app: FastAPI) -> None:
    """Register the pages' handlers; machine paths keep the handlers installed before."""

    def for_pages(exc_class: type[Exception], on_page: Callable[[Request, Any], Response]) -> None:
        previous: Handler | None = app.exception_handlers.get(exc_class)  # type: ignore[assignment]

        async def handle(request: Request, exc: Any) -> Response:
            if is_page(request) or previous is None:
                return on_page(request, exc)
            return await previous(request, exc)

        app.add_exception_handler(exc_class, handle)

    app.add_exception_handler(PageError, _page_error_handler)
    app.add_exception_handler(SignInRequired, _sign_in_handler)
    for_pages(DomainError, lambda r, e: page_error(r, domain_page_error(e)))
    for_pages(
        HTTPException,
        lambda r, e: (
            page_error(r, _NOT_FOUND)
            if e.status_code == 404
            else page_error(r, PageError(e.status_code, "Not possible", str(e.detail)))
        ),
    )
    for_pages(
        RequestValidationError,
        lambda r, e: page_error(
            r, PageError(422, "Please check what you entered", invalid_fields(e.errors()))
        ),
    )


# Parameter names that are not words a person would recognise.
_FIELD_NAMES = {"q": "search", "task": "chosen tasks", "number": "version number"}


def invalid_fields(errors: Sequence[Mapping[str, Any]]) -> str:
    """Each refused field by its name with what to enter instead, once per field."""
    said: dict[str, str] = {}
    for error in errors:
        names = [part for part in error.get("loc", ()) if isinstance(part, str)]
        field = names[-1] if names and names[-1] not in ("body", "query", "path") else "form"
        field = _FIELD_NAMES.get(field, field.replace("_", " "))
        said.setdefault(field.capitalize(), plain(error))
    return "; ".join(f"{field}: {instruction}" for field, instruction in said.items()) + "."


async def _page_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    return page_error(request, exc)


async def _sign_in_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return _sign_in_redirect(request, exc)
