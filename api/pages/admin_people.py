"""Administration pages for organisations and users: list, create, a user's page, passwords."""

from __future__ import annotations

from datetime import datetime
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
from workflow.calendar import BUSINESS_TIME_ZONE
from workflow.commands import accounts
from workflow.commands.admin import ROLES, role_named, role_of
from workflow.commands.sign_in import set_passwords
from workflow.errors import Conflict, InvalidInput
from workflow.queries.admin import active_flags, tokens_of
from workflow.queries.parties import list_organizations, list_users

router = APIRouter(prefix="/admin")

# Organisations fill the user form's choice; far more than any deployment has.
ORG_CHOICES = 1000

Text = Annotated[str, Form(max_length=320)]
PasswordField = Annotated[str, Form(max_length=1000)]
RoleField = Annotated[str, Form(max_length=20)]

ROLE_LABELS = {
    "member": "Member (works on the agreements they hold roles in)",
    "admin": "Administrator (opens these pages and manages everyone)",
    "auditor": "Auditor of their organisation (reads its audit trails, changes nothing)",
    "global_auditor": "Global auditor (reads every audit trail and the admin acts)",
}
assert set(ROLE_LABELS) == set(ROLES)


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
            "form": form
            or {"email": "", "name": "", "organization_id": "", "role": "member", "invite": True},
            "roles": ROLE_LABELS,
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
    role: RoleField = "",
    invite: Annotated[bool, Form()] = False,
) -> Response:
    role = role or ("admin" if is_admin else "member")
    form = {
        "email": email,
        "name": name,
        "organization_id": organization_id,
        "role": role,
        "invite": invite,
    }
    try:
        # An unchosen organisation is refused by the command as an unknown one.
        org_id = parse_id(organization_id) or 0
        create = accounts.invite_user if invite else commands.create_user
        created = create(
            session,
            actor=user.actor,
            email=email,
            name=name,
            organization_id=org_id,
            role=role,
            now=now,
        )
    except (InvalidInput, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return _users_page(
            request, session, None, errors=field_errors(exc), form=form, status_code=status
        )
    told = (
        f"{created.name} ({created.email}) is invited: they receive an email with a link to "
        "choose their password (valid 7 days, once)."
        if invite
        else f"{created.name} ({created.email}) created. Send them an invitation to let them "
        "sign in, or create an API token."
    )
    return redirect(f"/admin/users/{created.id}", flash=Flash("success", told))


def user_page(
    request: Request,
    session: Session,
    user_id: int,
    *,
    now: datetime,
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
        "roles": ROLE_LABELS,
        "role": role_named(shown.is_admin, shown.auditor_scope),
        "now": now,
        "zone": BUSINESS_TIME_ZONE,
    }
    return render(request, "admin/user.html", context, status_code=status_code)


@router.get("/users/{user_id}")
def user_detail(
    request: Request, user_id: Id, user: AdminDep, session: SessionDep, now: NowDep
) -> Response:
    return user_page(request, session, user_id, now=now)


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
        return user_page(request, session, user_id, now=now, errors=errors, status_code=422)
    try:
        set_passwords(session, actor=user.actor, emails=[email], password=password, now=now)
    except InvalidInput as exc:
        return user_page(
            request, session, user_id, now=now, errors=field_errors(exc), status_code=422
        )
    return redirect(
        f"/admin/users/{user_id}",
        flash=Flash("success", f"Password set for {email}; their open sessions were ended."),
    )


@router.post("/users/{user_id}/role")
def change_role(
    request: Request,
    user_id: Id,
    user: AdminDep,
    session: SessionDep,
    now: NowDep,
    role: RoleField = "",
) -> Response:
    try:
        changed = commands.set_role(session, actor=user.actor, user_id=user_id, role=role, now=now)
    except (InvalidInput, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return user_page(
            request, session, user_id, now=now, errors=field_errors(exc), status_code=status
        )
    label = ROLE_LABELS[role_of(changed)].split(" (")[0]
    return redirect(
        f"/admin/users/{user_id}", flash=Flash("success", f"{changed.name} is now: {label}.")
    )


@router.post("/users/{user_id}/active")
def change_active(
    request: Request,
    user_id: Id,
    user: AdminDep,
    session: SessionDep,
    now: NowDep,
    active: Annotated[bool, Form()] = False,
) -> Response:
    try:
        changed = commands.set_active(
            session, actor=user.actor, user_id=user_id, active=active, now=now
        )
    except Conflict as exc:
        return user_page(
            request, session, user_id, now=now, errors=field_errors(exc), status_code=409
        )
    told = (
        f"{changed.name} may sign in again."
        if active
        else f"{changed.name} is disabled: no sign-in, no API, no email; their sessions ended."
    )
    return redirect(f"/admin/users/{user_id}", flash=Flash("success", told))


@router.post("/users/{user_id}/invitation")
def send_link(
    request: Request, user_id: Id, user: AdminDep, session: SessionDep, now: NowDep
) -> Response:
    try:
        shown = accounts.reinvite_user(session, actor=user.actor, user_id=user_id, now=now)
    except Conflict as exc:
        return user_page(
            request, session, user_id, now=now, errors=field_errors(exc), status_code=409
        )
    what = "a password reset link" if shown.password_hash else "an invitation"
    return redirect(
        f"/admin/users/{user_id}",
        flash=Flash("success", f"{shown.name} is sent {what}; any older link stops working."),
    )
