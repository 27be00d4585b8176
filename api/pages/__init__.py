"""Server-rendered pages for people: sign-in, approvals, tasks, agreements.

`install(app)` mounts them with their static files and error pages. Every unsafe request to a
page must carry the CSRF token (`api.pages.csrf`); every page but sign-in needs a session
(`api.pages.session.PageUserDep`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from api.pages import (
    admin,
    agreements,
    approvals,
    audit,
    auth,
    drafts,
    gaps,
    handlers,
    home,
    reports,
    tasks,
    versions,
)
from api.pages.csrf import verify_csrf

STATIC_DIR = Path(__file__).parent.parent / "static"

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)
for _module in (
    audit,
    auth,
    home,
    approvals,
    tasks,
    agreements,
    reports,
    admin,
    drafts,
    gaps,
    versions,
):
    router.include_router(_module.router)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    handlers.install(app)
