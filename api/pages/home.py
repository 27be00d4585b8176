"""The landing redirect, and the sections still to come."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.pages.errors import PageError
from api.pages.render import redirect, render
from api.pages.session import PageUserDep

router = APIRouter()


@router.get("/")
def home(user: PageUserDep) -> Response:
    """Approvers start on their queue, everyone else on their tasks."""
    return redirect("/approvals" if user.viewer.approver else "/tasks")


@router.get("/audit")
def audit(request: Request, user: PageUserDep) -> Response:
    return render(
        request,
        "coming.html",
        {"section": "audit", "title": "Audit", "api": "GET /api/v1/slas/{id}/audit"},
    )


@router.get("/admin")
def admin(request: Request, user: PageUserDep) -> Response:
    if not user.actor.is_admin:
        raise PageError(403, "Not allowed", "Only an administrator may open the admin pages.")
    return render(
        request,
        "coming.html",
        {"section": "admin", "title": "Admin", "api": "GET /api/v1/users, /api/v1/organizations"},
    )
