"""The governance calendar's joint work: extensions of the period of performance and the
quarterly service reviews with their minutes (api.md, Joint accountability)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import Field
from sqlmodel import Session

from api.deps import ActorDep, IdempotencyDep, NowDep, SessionDep
from api.idempotency import idempotent
from api.pagination import Page
from api.schemas import Strict
from api.types import Id
from workflow.access import Actor
from workflow.commands.extensions import decide_extension, request_extension
from workflow.commands.service_reviews import ActionItemInput, Minutes, record_minutes
from workflow.queries.extensions import ExtensionView, extension_detail, list_extensions
from workflow.queries.service_reviews import (
    ServiceReviewView,
    list_service_reviews,
    service_review_detail,
)

router = APIRouter(prefix="/slas/{sla_id}", tags=["governance"])

Text = Annotated[str, Field(max_length=4000)]


class ExtensionIn(Strict):
    new_end_date: date
    reason: Annotated[str, Field(min_length=1, max_length=4000)]


class DecisionIn(Strict):
    comment: Text | None = None


class ActionItemIn(Strict):
    description: Annotated[str, Field(min_length=1, max_length=2000)]
    owner_id: Id
    due_on: date


class MinutesIn(Strict):
    held_on: date
    attendees: Annotated[list[Id], Field(min_length=1, max_length=100)]
    decisions: Annotated[list[Annotated[str, Field(max_length=2000)]], Field(max_length=100)] = (
        Field(default_factory=list)
    )
    action_items: Annotated[list[ActionItemIn], Field(max_length=100)] = Field(default_factory=list)


@router.post("/extensions", status_code=status.HTTP_201_CREATED, dependencies=[IdempotencyDep])
@idempotent
def post_extension(
    sla_id: Id, body: ExtensionIn, session: SessionDep, actor: ActorDep, now: NowDep
) -> ExtensionView:
    """Either Program Manager asks both Business Owners to move the end of the period of
    performance; when both approve, `period_end` is the new date and an expired agreement is
    `active` again (a new version: same content, the next modification number). 422 when the
    new date is not after the current end; 409 while another extension (or a revision) is open."""
    extension = request_extension(
        session,
        actor=actor,
        agreement_id=sla_id,
        new_end_date=body.new_end_date,
        reason=body.reason,
        now=now,
    )
    return extension_detail(session, actor, sla_id, extension.id or 0)


@router.get("/extensions")
def get_extensions(sla_id: Id, session: SessionDep, actor: ActorDep) -> Page[ExtensionView]:
    """Every extension of the agreement, newest first (a handful: one page)."""
    return Page(items=list_extensions(session, actor, sla_id), next_cursor=None)


@router.get("/extensions/{extension_id}")
def get_extension(
    sla_id: Id, extension_id: Id, session: SessionDep, actor: ActorDep
) -> ExtensionView:
    return extension_detail(session, actor, sla_id, extension_id)


@router.post("/extensions/{extension_id}/approve", dependencies=[IdempotencyDep])
@idempotent
def approve_extension(
    sla_id: Id,
    extension_id: Id,
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    body: DecisionIn | None = None,
) -> ExtensionView:
    """A Business Owner approves: the same as completing their `extension_approval` task."""
    return _decide(session, actor, now, sla_id, extension_id, "approved", body)


@router.post("/extensions/{extension_id}/reject", dependencies=[IdempotencyDep])
@idempotent
def reject_extension(
    sla_id: Id,
    extension_id: Id,
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
    body: DecisionIn | None = None,
) -> ExtensionView:
    """A Business Owner rejects, with a comment: the extension ends, nothing changes."""
    return _decide(session, actor, now, sla_id, extension_id, "rejected", body)


def _decide(
    session: Session,
    actor: Actor,
    now: datetime,
    sla_id: int,
    extension_id: int,
    outcome: str,
    body: DecisionIn | None,
) -> ExtensionView:
    decide_extension(
        session,
        actor=actor,
        agreement_id=sla_id,
        extension_id=extension_id,
        outcome=outcome,
        comment=(body or DecisionIn()).comment,
        now=now,
    )
    return extension_detail(session, actor, sla_id, extension_id)


@router.get("/service-reviews")
def get_service_reviews(
    sla_id: Id, session: SessionDep, actor: ActorDep
) -> Page[ServiceReviewView]:
    """The quarterly reviews, newest first, each with its agenda (open dispute exceptions,
    chronic misses, open corrective actions: live while open, as it stood once held)."""
    return Page(items=list_service_reviews(session, actor, sla_id), next_cursor=None)


@router.get("/service-reviews/{review_id}")
def get_service_review(
    sla_id: Id, review_id: Id, session: SessionDep, actor: ActorDep
) -> ServiceReviewView:
    return service_review_detail(session, actor, sla_id, review_id)


@router.post("/service-reviews/{review_id}/minutes", dependencies=[IdempotencyDep])
@idempotent
def post_minutes(
    sla_id: Id,
    review_id: Id,
    body: MinutesIn,
    session: SessionDep,
    actor: ActorDep,
    now: NowDep,
) -> ServiceReviewView:
    """Record the review's minutes (either Program Manager): both review tasks are done and
    each action item becomes a task (kind `action_item`) for its owner, due on its date."""
    record_minutes(
        session,
        actor=actor,
        agreement_id=sla_id,
        review_id=review_id,
        minutes=Minutes(
            held_on=body.held_on,
            attendees=body.attendees,
            decisions=body.decisions,
            action_items=[
                ActionItemInput(i.description, i.owner_id, i.due_on) for i in body.action_items
            ],
        ),
        now=now,
    )
    return service_review_detail(session, actor, sla_id, review_id)
