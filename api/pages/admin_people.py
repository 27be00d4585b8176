"""Administration pages for organisations and users: list, create, a user's page, passwords."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import NowDep, SessionDep
from api.pages.admin import (
    PAGE_SIZE,
    AdminDep,
    After,
    NameField,
    cursor,
    field_errors,
    next_after,
    user_account,
)
from api.pages.render import Flash, redirect, render
from api.types import Id, parse_id
from workflow import commands
from workflow.commands.sign_in import set_passwords
from workflow.errors import Conflict, InvalidInput
from workflow.queries.admin import active_flags, tokens_of
from workflow.queries.parties import list_organizations, list_users

router = APIRouter(prefix="/admin")

# Organisations fill the user form's choice; far more than any deployment has.
ORG_CHOICES = 1000

Text = Annotated[str, Form(max_length=320)]
PasswordField = Annotated[str, Form(max_length=1000)]


# Organisations


def _organizations_page(
    request: Request,
    session: Session,
    after: int | None,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    orgs = list_organizations(session, limit=PAGE_SIZE, after=cursor(after))
    return render(
        request,
        "admin/organizations.html",
        {
            "section": "admin",
            "organizations": orgs.items,
            "next_after": next_after(orgs),
            "errors": errors or {},
            "form": form or {"name": "", "holiday_calendar": "US"},
        },
        status_code=status_code,
    )


@router.get("/organizations")
def organizations(
    request: Request, user: AdminDep, session: SessionDep, after: After = None
) -> Response:
    return _organizations_page(request, session, after)


@router.post("/organizations")
def create_organization(
    request: Request,
    user: AdminDep,
    session: SessionDep,
    now: NowDep,
    name: NameField = "",
    holiday_calendar: Annotated[str, Form(max_length=40)] = "US",
) -> Response:
    form = {"name": name, "holiday_calendar": holiday_calendar.strip()}
    try:
        org = commands.create_organization(
            session, actor=user.actor, name=name, holiday_calendar=form["holiday_calendar"], now=now
        )
    except (InvalidInput, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return _organizations_page(
            request, session, None, errors=field_errors(exc), form=form, status_code=status
        )
    return redirect(
        "/admin/organizations",
        flash=Flash("success", f"Organisation {org.name} created ({org.holiday_calendar})."),
    )


# Users


def _users_page(
    request: Request,
    session: Session,
    after: int | None,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    users = list_users(session, limit=PAGE_SIZE, after=cursor(after))
    orgs = list_organizations(session, limit=ORG_CHOICES, after=None).items
    active = active_flags(session, (u.id for u in users.items))
    return render(
        request,
        "admin/users.html",
        {
            "section": "admin",
            "users": users.items,
            "active": active,
            "org_names": {o.id: o.name for o in orgs},
            "organizations": orgs,
            "next_after": next_after(users),
            "errors": errors or {},
            "form": form or {"email": "", "name": "", "organization_id": "", "is_admin": False},
        },
        status_code=status_code,
    )


@router.get("/users")
def users(request: Request, user: AdminDep, session: SessionDep, after: After = None) -> Response:
    return _users_page(request, session, after)


@router.post("/users")
def create_user(
    request: Request,
    user: AdminDep,
    session: SessionDep,
    now: NowDep,
    email: Text = "",
    name: NameField = "",
    organization_id: Annotated[str, Form(max_length=20)] = "",
    is_admin: Annotated[bool, Form()] = False,
) -> Response:
    form = {"email": email, "name": name, "organization_id": organization_id, "is_admin": is_admin}
    try:
        # An unchosen organisation is refused by the command as an unknown one.
        org_id = parse_id(organization_id) or 0
        created = commands.create_user(
            session,
            actor=user.actor,
            email=email,
            name=name,
            organization_id=org_id,
            is_admin=is_admin,
            now=now,
        )
    except (InvalidInput, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return _users_page(
            request, session, None, errors=field_errors(exc), form=form, status_code=status
        )
    return redirect(
        f"/admin/users/{created.id}",
        flash=Flash(
            "success",
            f"{created.name} ({created.email}) created. Set a password to let them sign in, "
            "or create an API token.",
        ),
    )


def _user_page(
    request: Request,
    session: Session,
    user_id: int,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    shown = user_account(session, user_id)
    context = {
        "section": "admin",
        "shown": shown,
        "organization": shown.organization_name or "—",
        "has_password": shown.has_password,
        "tokens": tokens_of(session, user_id),
        "errors": errors or {},
    }
    return render(request, "admin/user.html", context, status_code=status_code)


@router.get("/users/{user_id}")
def user_detail(request: Request, user_id: Id, user: AdminDep, session: SessionDep) -> Response:
    return _user_page(request, session, user_id)


@router.post("/users/{user_id}/password")
def set_password(
    request: Request,
    user_id: Id,
    user: AdminDep,
    session: SessionDep,
    now: NowDep,
    password: PasswordField = "",
    confirm: PasswordField = "",
) -> Response:
    email = user_account(session, user_id).email
    if password != confirm:
        errors = {"confirm": "The two passwords differ; type the same password twice."}
        return _user_page(request, session, user_id, errors=errors, status_code=422)
    try:
        set_passwords(session, actor=user.actor, emails=[email], password=password, now=now)
    except InvalidInput as exc:
        return _user_page(request, session, user_id, errors=field_errors(exc), status_code=422)
    return redirect(
        f"/admin/users/{user_id}",
        flash=Flash("success", f"Password set for {email}; their open sessions were ended."),
    )
