"""Request dependencies: the session, the caller, the clock and idempotency keys."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.idempotency import is_idempotent
from workflow.access import Actor
from workflow.commands.admin import LAST_USE_PRECISION, hash_token, record_token_use
from workflow.errors import Forbidden, InvalidInput
from workflow.models import ApiToken, IdempotencyRecord, User
from workflow.settings import get_settings
from workflow.transaction import IdempotencyClaim, claim_idempotency


# The engine and the clock are async: they do no I/O, and a sync dependency costs a trip to
# the threadpool and back on every request.
async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


@contextmanager
def request_session(engine: Engine) -> Iterator[Session]:
    """One session per request. Commands commit or roll back inside their own frame
    (`workflow.command`); whatever else a failed request left open is rolled back here, so
    routes never clean up after themselves."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise


def get_session(engine: EngineDep) -> Iterator[Session]:
    with request_session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def get_now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


NowDep = Annotated[datetime, Depends(get_now)]


_tokens = ApiToken.__table__  # type: ignore[attr-defined]
_users = User.__table__  # type: ignore[attr-defined]
# Built once: every API request runs it, and building an ORM statement and a `User` model
# cost more than the indexed lookup itself. No cache of the answer: a revoked or expired
# token, or a deactivated person, is refused on the very next request.
TOKEN_HOLDER = (
    sa.select(
        _users.c.id,
        _users.c.organization_id,
        _users.c.is_admin,
        _users.c.name,
        _users.c.email,
        _users.c.auditor_scope,
        _tokens.c.id.label("token_id"),
        _tokens.c.last_used_at,
    )
    .select_from(_tokens.join(_users, _users.c.id == _tokens.c.user_id))
    .where(
        _tokens.c.token_hash == sa.bindparam("token_hash"),
        _tokens.c.revoked_at.is_(None),
        sa.or_(_tokens.c.expires_at.is_(None), _tokens.c.expires_at > sa.bindparam("now")),
        _users.c.is_active.is_(True),
    )
)


async def bearer_token(authorization: Annotated[str | None, Header()] = None) -> str:
    """The bearer token sent, or 401 before anything reads the database."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "send Authorization: Bearer <token>")
    return token.strip()


BearerDep = Annotated[str, Depends(bearer_token)]


def authenticate(
    request: Request, session: Session, token: str, now: datetime, *, read_only: bool = False
) -> Actor:
    """The holder of a live token of an active account, or 401. `read_only`: the request only
    reads, so its queries go on in this transaction (one snapshot, one connection checkout)."""
    row = session.connection().execute(TOKEN_HOLDER, {"token_hash": hash_token(token), "now": now})
    holder = row.first()
    if holder is None:
        raise HTTPException(401, "the token is unknown, revoked or expired")
    actor = Actor(
        holder.id,
        holder.organization_id,
        holder.is_admin,
        holder.name,
        holder.email,
        holder.auditor_scope,
    )
    if not read_only:
        session.rollback()  # end the read so a command can open its own write transaction
    if holder.last_used_at is None or holder.last_used_at <= now - LAST_USE_PRECISION:
        record_token_use(session, token_id=holder.token_id, now=now)
    request.state.user_id = actor.user_id  # for the request's log line
    return actor


def get_actor(request: Request, token: BearerDep, session: SessionDep, now: NowDep) -> Actor:
    return authenticate(request, session, token, now)


ActorDep = Annotated[Actor, Depends(get_actor)]


def require_admin(actor: ActorDep) -> Actor:
    if not actor.is_admin:
        raise Forbidden("only an administrator may do this")
    return actor


AdminDep = Annotated[Actor, Depends(require_admin)]


class IdempotentReplay(Exception):
    """The same key and body were seen before: answer with the first response."""

    def __init__(self, status_code: int, body: str) -> None:
        self.status_code = status_code
        self.body = body


async def _request_hash(request: Request) -> str:
    body = await request.body()
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


async def idempotency(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> None:
    """Replay a stored response, or claim the key for the command (api/idempotency.py)."""
    if not idempotency_key:
        return
    request_hash = await _request_hash(request)
    ttl = timedelta(hours=get_settings().idempotency_ttl_hours)
    record = session.exec(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == actor.user_id,
            IdempotencyRecord.key == idempotency_key,
        )
    ).first()
    session.rollback()
    # A record without a response was left by an older release that stored it separately:
    # its command may not have happened, so it is replaced like an expired one.
    if (
        record is not None
        and record.created_at > now - ttl
        and record.status_code is not None
        and record.response_body is not None
    ):
        if record.request_hash != request_hash:
            raise InvalidInput(
                "this Idempotency-Key was used for a different request",
                [{"field": "Idempotency-Key", "message": "reused with another body or path"}],
            )
        raise IdempotentReplay(record.status_code, record.response_body)
    route = request.scope.get("route")
    if not is_idempotent(getattr(route, "endpoint", None)):
        # Its command would wait for a response nobody stores: refuse before it runs.
        raise RuntimeError(f"{request.url.path} takes Idempotency-Key without @idempotent")
    replaces = record.id if record is not None else None
    status_code = getattr(route, "status_code", None) or 200
    claim_idempotency(
        session,
        IdempotencyClaim(
            actor.user_id, idempotency_key, request_hash, replaces, status_code, created_at=now
        ),
    )


IdempotencyDep = Depends(idempotency)
