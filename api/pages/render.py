"""Rendering pages: the template environment, the shared context, redirects and flashes."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from api.pages import signing
from api.pages.csrf import FIELD, HEADER, csrf_token, set_anonymous_cookie
from api.pages.session import secure_cookies
from notifications import formats

TEMPLATE_DIR = Path(__file__).parent / "templates"
FLASH_COOKIE = "accord_flash"
_FLASH_PURPOSE = "flash"

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def show(value: Any) -> str:
    """A term or metric value as text: nested mappings and lists flattened, missing as a dash."""
    if value is None or value == "" or value == {} or value == []:
        return "—"
    if isinstance(value, dict):
        return "; ".join(f"{str(k).replace('_', ' ')}: {show(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(show(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _when(value: dt.datetime) -> Markup:
    """A moment in the business time zone, named, machine-readable in its element."""
    return Markup('<time datetime="{}">{}</time>').format(value.isoformat(), formats.moment(value))


def _on(value: dt.date | dt.datetime) -> Markup:
    """A day ('Thu 10 Dec 2026'), machine-readable in its element."""
    if isinstance(value, dt.datetime):
        value = formats.local_moment(value).date()
    return Markup('<time datetime="{}">{}</time>').format(value.isoformat(), formats.day(value))


def _metric_name(key: str, metrics: Mapping[str, Any]) -> str:
    """A metric's name from `metrics` (key → name, or key → content), else its key."""
    known = metrics.get(key)
    if isinstance(known, Mapping):
        known = known.get("name")
    return str(known) if known else key


def _term(name: str, value: Any, terms: dict[str, Any]) -> str:
    shown = formats.term(name, value, terms)
    return shown if shown is not None else show(value)


_ENV.filters.update(
    show=show,
    when=_when,
    on=_on,
    money=formats.money,
    figure=formats.figure,
    measured=formats.measured,
    words=formats.words,
    metric_name=_metric_name,
)
_ENV.globals.update(term_value=_term, zone_name=formats.zone_name)
TEMPLATES = Jinja2Templates(env=_ENV)

# Pages show people's agreements: never cached, never framed, scripts only from /static.
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


@dataclass(frozen=True)
class Flash:
    """A one-time message shown on the page after a redirect: `success`, `info` or `error`."""

    kind: str
    text: str


def is_htmx(request: Request) -> bool:
    """An htmx request wants a fragment, not a whole page."""
    return request.headers.get("HX-Request") == "true"


def _protect(response: Response) -> None:
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)


def _read_flash(request: Request) -> Flash | None:
    raw = signing.unsign(_FLASH_PURPOSE, request.cookies.get(FLASH_COOKIE))
    if raw is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        return Flash(str(data["kind"]), str(data["text"]))
    except (ValueError, KeyError, TypeError):
        return None


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page (or, for htmx, a fragment) with what every template may use: `user` (the
    PageUser or None), `csrf_token`, `csrf_field`/`csrf_header` names, `flash`, `section`."""
    flash = _read_flash(request)
    shared: dict[str, Any] = {
        "user": getattr(request.state, "page_user", None),
        "csrf_token": csrf_token(request),
        "csrf_field": FIELD,
        "csrf_header": HEADER,
        "flash": flash,
        "section": "",
    }
    response = TEMPLATES.TemplateResponse(
        request, template, {**shared, **(context or {})}, status_code=status_code, headers=headers
    )
    _protect(response)
    set_anonymous_cookie(request, response)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(url: str, *, flash: Flash | None = None) -> RedirectResponse:
    """See other (303): after a POST the browser GETs `url`, so a reload never re-posts."""
    response = RedirectResponse(url, status_code=303)
    _protect(response)
    if flash is not None:
        # Unpadded: "=" would make the cookie value a quoted string.
        payload = base64.urlsafe_b64encode(json.dumps(flash.__dict__).encode()).decode()
        payload = payload.rstrip("=")
        response.set_cookie(
            FLASH_COOKIE,
            signing.sign(_FLASH_PURPOSE, payload),
            max_age=60,
            httponly=True,
            samesite="lax",
            secure=secure_cookies(),
            path="/",
        )
    return response
