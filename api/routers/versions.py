"""One version of an agreement: read it, edit the draft, fire events, compare versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response
from pydantic import Field

from api.deps import ActorDep, IdempotencyDep, NowDep, SessionDep
from api.idempotency import idempotent
from api.preconditions import expected_lock_version, required_lock_version, with_etag
from api.schemas import Strict
from api.types import Id, LockVersion
from workflow import commands
from workflow.content import Metrics, Terms, dump_metrics
from workflow.queries.versions import VersionDetail, VersionDiff, version_detail, version_diff

router = APIRouter(prefix="/slas/{sla_id}/versions/{number}", tags=["versions"])

IfMatch = Annotated[
    str | None, Header(description='the ETag of the version as last read, e.g. "3"')
]


class VersionPatch(Strict):
    lock_version: LockVersion | None = None
    terms: Terms | None = Field(default=None, description="merged key by key; null unsets")
    metrics: Metrics | None = Field(default=None, description="replaces every metric")


class EventIn(Strict):
    comment: Annotated[str, Field(max_length=4000)] | None = None
    lock_version: LockVersion | None = None


@router.get("")
def get_version(
    sla_id: Id, number: Id, session: SessionDep, actor: ActorDep, now: NowDep, response: Response
) -> VersionDetail:
    """The version's content and the events you may fire now; `ETag` is `"<lock_version>"`."""
    return with_etag(version_detail(session, actor, sla_id, number, now=now), response)


@router.patch("")
def edit_version(
    sla_id: Id,
    number: Id,
    body: VersionPatch,
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    response: Response,
    if_match: IfMatch = None,
) -> VersionDetail:
    """Edit a draft's terms or metrics. Send the lock_version you read (in the body or as
    `If-Match`); without one the answer is 428, with a stale one 409."""
    commands.edit_draft(
        session,
        actor=actor,
        agreement_id=sla_id,
        number=number,
        expected_lock_version=required_lock_version(body.lock_version, if_match),
        # exclude_unset keeps explicit nulls, which unset a term.
        terms=body.terms.model_dump(mode="json", exclude_unset=True) if body.terms else None,
        metrics=dump_metrics(body.metrics) if body.metrics is not None else None,
        now=now,
    )
    return with_etag(version_detail(session, actor, sla_id, number, now=now), response)


@router.post("/events/{event}", dependencies=[IdempotencyDep])
@idempotent
def fire_event(
    sla_id: Id,
    number: Id,
    event: str,
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    response: Response,
    body: EventIn | None = None,
    if_match: IfMatch = None,
) -> VersionDetail:
    """Fire a lifecycle event. 409 names the current state and the events you may fire;
    403 when your role may not fire it."""
    body = body or EventIn()
    commands.fire_event(
        session,
        actor=actor,
        agreement_id=sla_id,
        number=number,
        event=event,
        comment=body.comment,
        expected_lock_version=expected_lock_version(body.lock_version, if_match),
        now=now,
    )
    return with_etag(version_detail(session, actor, sla_id, number, now=now), response)


@router.get("/diff")
def diff_version(
    sla_id: Id, number: Id, session: SessionDep, actor: ActorDep, against: Id | None = None
) -> VersionDiff:
    """What changed in terms and metrics against version `against` (default: the active
    version, else the previous one)."""
    return version_diff(session, actor, sla_id, number, against)
