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
    account,
    admin,
    admin_outbox,
    admin_people,
    admin_tokens,
    agreements,
    approvals,
    approvals_bulk,
    audit,
    auth,
    corrective_actions,
    draft_metrics,
    drafts,
    excusals,
    extensions,
    gaps,
    governance,
    handlers,
    home,
    notifications,
    period_changes,
    proposals,
    reports,
    task_links,
    tasks,
    tasks_bulk,
    versions,
)
from api.pages.csrf import verify_csrf
from api.safe_input import SafeForm, SafeUrl

STATIC_DIR = Path(__file__).parent.parent / "static"

router = APIRouter(dependencies=[SafeUrl, Depends(verify_csrf)], include_in_schema=False)
# Sign-in and the draft editor show a NUL character as a field error of their own form; every
# other form is refused with the 422 page naming the field.
_OWN_FIELD_ERRORS = (account, auth, drafts, draft_metrics)
for _module in (
    audit,
    auth,
    account,
    home,
    approvals_bulk,  # before approvals: /approvals/bulk is not a task id
    approvals,
    proposals,
    tasks_bulk,  # before tasks: /tasks/bulk is not a task id
    tasks,
    task_links,
    agreements,
    reports,
    period_changes,
    excusals,
    corrective_actions,
    admin,
    admin_people,
    admin_tokens,
    admin_outbox,
    drafts,
    draft_metrics,
    gaps,
    versions,
    governance,
    extensions,
    notifications,
):
    _checks = [] if _module in _OWN_FIELD_ERRORS else [SafeForm]
    router.include_router(_module.router, dependencies=_checks)


def install(app: FastAPI) -> None:
    app.include_router(router)
    # RFC 8058 one-click unsubscribe: posted by mail providers without any CSRF token; the
    # signed token in the path is the proof (api/pages/notifications.py).
    app.include_router(notifications.one_click, dependencies=[SafeUrl])
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    handlers.install(app)
