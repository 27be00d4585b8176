"""Administration pages: organisations, users and their API tokens, delegations, the outbox.

Administrators only; everyone else gets a 403 page. Every change goes through the command
behind the matching API route (api/routers/admin.py, api/routers/notifications.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy import func
from sqlmodel import Session, col, select

from api.deps import NowDep, SessionDep
from api.pages.errors import PageError
from api.pages.render import Flash, redirect, render
from api.pages.session import PageUser, PageUserDep
from api.types import INT32_MAX, Id, parse_id
from workflow import commands
from workflow.calendar import local_date
from workflow.commands.notifications import retry_notification
from workflow.commands.sign_in import set_passwords
from workflow.errors import Conflict, DomainError, InvalidInput
from workflow.models import ApiToken, Delegation, Organization, OutboxMessage, User
from workflow.models.records import OUTBOX_STATES
from workflow.queries.common import people
from workflow.queries.notifications import list_notifications, notification_detail
from workflow.queries.parties import list_organizations, list_users

router = APIRouter(prefix="/admin")

PAGE_SIZE = 100
# Organisations fill the user form's choice; far more than any deployment has.
ORG_CHOICES = 1000

NameField = Annotated[str, Form(max_length=200)]
Text = Annotated[str, Form(max_length=320)]
PasswordField = Annotated[str, Form(max_length=1000)]
After = Annotated[int | None, Query(ge=0, le=INT32_MAX)]


def admin_user(user: PageUserDep) -> PageUser:
    if not user.actor.is_admin:
        raise PageError(403, "Not allowed", "Only an administrator may open the admin pages.")
    return user


AdminDep = Annotated[PageUser, Depends(admin_user)]


def field_errors(exc: DomainError) -> dict[str, str]:
    """A refusal as messages by form field; `form` holds what belongs to no single field."""
    if isinstance(exc, InvalidInput) and exc.errors:
        return {e.get("field", "form"): e.get("message", exc.message) for e in exc.errors}
    return {"form": exc.message}


def _count(session: Session, model: Any, *where: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def _after(after: int | None) -> list[Any] | None:
    return [after] if after is not None else None


@router.get("")
def overview(request: Request, user: AdminDep, session: SessionDep, now: NowDep) -> Response:
    today = local_date(now)
    counts = {
        "organizations": _count(session, Organization),
        "users": _count(session, User),
        "tokens": _count(session, ApiToken, col(ApiToken.revoked_at).is_(None)),
        "delegations": _count(
            session, Delegation, col(Delegation.revoked_at).is_(None), Delegation.ends_on >= today
        ),
        "pending": _count(session, OutboxMessage, OutboxMessage.status == "pending"),
        "dead": _count(session, OutboxMessage, OutboxMessage.status == "dead"),
    }
    session.rollback()
    return render(request, "admin/overview.html", {"section": "admin", "counts": counts})


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
    orgs = list_organizations(session, limit=PAGE_SIZE, after=_after(after))
    session.rollback()
    return render(
        request,
        "admin/organizations.html",
        {
            "section": "admin",
            "organizations": orgs.items,
            "next_after": orgs.next_after[0] if orgs.next_after else None,
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
        session.rollback()
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
    users = list_users(session, limit=PAGE_SIZE, after=_after(after))
    orgs = list_organizations(session, limit=ORG_CHOICES, after=None).items
    # UserView leaves out whether the account is active; the admin list shows it.
    ids = [u.id for u in users.items]
    active = dict(session.exec(select(User.id, User.is_active).where(col(User.id).in_(ids))).all())
    session.rollback()
    return render(
        request,
        "admin/users.html",
        {
            "section": "admin",
            "users": users.items,
            "active": active,
            "org_names": {o.id: o.name for o in orgs},
            "organizations": orgs,
            "next_after": users.next_after[0] if users.next_after else None,
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
        session.rollback()
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


def _user(session: Session, user_id: int) -> User:
    found = session.get(User, user_id)
    if found is None:
        raise PageError(404, "Not found", "There is no such user. Start again from Users.")
    return found


def _user_page(
    request: Request,
    session: Session,
    user_id: int,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    shown = _user(session, user_id)
    org = session.get(Organization, shown.organization_id)
    tokens = session.exec(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(col(ApiToken.id).desc())
    ).all()
    context = {
        "section": "admin",
        "shown": shown,
        "organization": org.name if org else "—",
        "has_password": shown.password_hash is not None,
        "tokens": list(tokens),
        "errors": errors or {},
    }
    session.rollback()
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
    shown = _user(session, user_id)
    email = shown.email
    session.rollback()
    if password != confirm:
        errors = {"confirm": "The two passwords differ; type the same password twice."}
        return _user_page(request, session, user_id, errors=errors, status_code=422)
    try:
        set_passwords(session, actor=user.actor, emails=[email], password=password, now=now)
    except InvalidInput as exc:
        session.rollback()
        return _user_page(request, session, user_id, errors=field_errors(exc), status_code=422)
    return redirect(
        f"/admin/users/{user_id}",
        flash=Flash("success", f"Password set for {email}; their open sessions were ended."),
    )


# API tokens


@router.post("/users/{user_id}/tokens")
def create_token(
    request: Request,
    user_id: Id,
    user: AdminDep,
    session: SessionDep,
    now: NowDep,
    name: NameField = "",
) -> Response:
    """The token's text is on this answer only: it is not stored, so no redirect can show it."""
    shown = _user(session, user_id)
    owner = {"id": user_id, "name": shown.name, "email": shown.email}
    session.rollback()
    token, plain = commands.create_token(
        session, actor=user.actor, user_id=user_id, name=name.strip(), now=now
    )
    return render(
        request,
        "admin/token_created.html",
        {"section": "admin", "owner": owner, "token": token, "plain": plain},
        status_code=201,
    )


@router.get("/tokens")
def tokens(request: Request, user: AdminDep, session: SessionDep, after: After = None) -> Response:
    stmt = select(ApiToken).order_by(col(ApiToken.id).desc()).limit(PAGE_SIZE + 1)
    if after is not None:
        stmt = stmt.where(col(ApiToken.id) < after)
    rows = list(session.exec(stmt).all())
    shown = rows[:PAGE_SIZE]
    owners = people(session, (t.user_id for t in shown))
    session.rollback()
    return render(
        request,
        "admin/tokens.html",
        {
            "section": "admin",
            "tokens": shown,
            "owners": owners,
            "next_after": shown[-1].id if len(rows) > PAGE_SIZE else None,
        },
    )


def _token(session: Session, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise PageError(404, "Not found", "There is no such token. Start again from API tokens.")
    return token


@router.get("/tokens/{token_id}/revoke")
def confirm_revoke(request: Request, token_id: Id, user: AdminDep, session: SessionDep) -> Response:
    token = _token(session, token_id)
    owners = people(session, [token.user_id])
    session.rollback()
    if token.revoked_at is not None:
        return redirect(
            f"/admin/users/{token.user_id}",
            flash=Flash("info", f"Token {token.prefix}… is already revoked."),
        )
    return render(
        request,
        "admin/revoke_token.html",
        {"section": "admin", "token": token, "owner": owners[token.user_id]},
    )


@router.post("/tokens/{token_id}/revoke")
def revoke_token(token_id: Id, user: AdminDep, session: SessionDep, now: NowDep) -> Response:
    token = _token(session, token_id)
    owner_id, prefix, was_revoked = token.user_id, token.prefix, token.revoked_at is not None
    session.rollback()
    commands.revoke_token(session, actor=user.actor, token_id=token_id, now=now)
    flash = (
        Flash("info", f"Token {prefix}… was already revoked.")
        if was_revoked
        else Flash("success", f"Token {prefix}… revoked: the API refuses it from now on.")
    )
    return redirect(f"/admin/users/{owner_id}", flash=flash)


# Delegations


@router.get("/delegations")
def delegations(
    request: Request, user: AdminDep, session: SessionDep, now: NowDep, after: After = None
) -> Response:
    stmt = select(Delegation).order_by(col(Delegation.id).desc()).limit(PAGE_SIZE + 1)
    if after is not None:
        stmt = stmt.where(col(Delegation.id) < after)
    rows = list(session.exec(stmt).all())
    shown = rows[:PAGE_SIZE]
    names = people(session, [i for d in shown for i in (d.delegator_id, d.delegate_id)])
    session.rollback()
    today = local_date(now)
    return render(
        request,
        "admin/delegations.html",
        {
            "section": "admin",
            "delegations": shown,
            "people": names,
            "status": {d.id: _delegation_status(d, today) for d in shown},
            "next_after": shown[-1].id if len(rows) > PAGE_SIZE else None,
        },
    )


def _delegation_status(delegation: Delegation, today: Any) -> str:
    if delegation.revoked_at is not None:
        return "revoked"
    if delegation.ends_on < today:
        return "ended"
    return "current" if delegation.starts_on <= today else "upcoming"


# The notification outbox


@router.get("/notifications")
def notifications(
    request: Request,
    user: AdminDep,
    session: SessionDep,
    status: Annotated[str, Query(max_length=20)] = "",
    after: After = None,
) -> Response:
    if status and status not in OUTBOX_STATES:
        raise PageError(
            422, "Please check what you entered", "Status is one of pending, sent or dead."
        )
    found = list_notifications(session, status=status or None, limit=PAGE_SIZE, after=_after(after))
    session.rollback()
    return render(
        request,
        "admin/notifications.html",
        {
            "section": "admin",
            "messages": found.items,
            "status": status,
            "states": OUTBOX_STATES,
            "next_after": found.next_after[0] if found.next_after else None,
        },
    )


@router.get("/notifications/{notification_id}/retry")
def confirm_retry(
    request: Request, notification_id: Id, user: AdminDep, session: SessionDep
) -> Response:
    message = notification_detail(session, notification_id)
    session.rollback()
    if message.status != "dead":
        return _not_dead(notification_id, message.status)
    return render(request, "admin/retry.html", {"section": "admin", "message": message})


def _not_dead(notification_id: int, status: str) -> Response:
    # Most often the second click of a double submit: the first one requeued it.
    return redirect(
        "/admin/notifications",
        flash=Flash(
            "info", f"Nothing to retry: notification {notification_id} is {status}, not dead."
        ),
    )


@router.post("/notifications/{notification_id}/retry")
def retry(notification_id: Id, user: AdminDep, session: SessionDep, now: NowDep) -> Response:
    message = notification_detail(session, notification_id)
    session.rollback()
    try:
        retry_notification(session, actor=user.actor, outbox_id=notification_id, now=now)
    except Conflict:
        session.rollback()
        current = notification_detail(session, notification_id).status
        session.rollback()
        return _not_dead(notification_id, current)
    return redirect(
        "/admin/notifications?status=pending",
        flash=Flash(
            "success",
            f"Notification {notification_id} ({message.topic}) is pending again; "
            "people it already reached are not mailed twice.",
        ),
    )
