"""Recording a quarterly service review's minutes: the joint meeting is done, its decisions are
on record and each action item becomes a task for its owner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from states import Role, Side, SideRef, TaskState, TaskTemplate
from workflow.access import Actor
from workflow.calendar import local_date
from workflow.command import Command, command
from workflow.engine import complete
from workflow.errors import Conflict, Forbidden, InvalidInput, NotFound
from workflow.models import ChronicMiss, PeriodException, ServiceReview, Task
from workflow.permissions import lock_version
from workflow.queries.service_reviews import AgendaItem, service_review_agenda
from workflow.subjects.version import VersionSubject, announce_tasks
from workflow.transaction import flush

MAX_TEXT = 2000


@dataclass(frozen=True)
class ActionItemInput:
    description: str
    owner_id: int
    due_on: date


@dataclass(frozen=True)
class Minutes:
    held_on: date
    attendees: Sequence[int]
    decisions: Sequence[str]
    action_items: Sequence[ActionItemInput]


def record_minutes(
    session: Session,
    *,
    actor: Actor,
    agreement_id: int,
    review_id: int,
    minutes: Minutes,
    now: datetime,
) -> ServiceReview:
    """Either Program Manager (or their delegate) records what the review decided: 403 for
    anyone else, 409 once recorded, 422 naming every bad field."""
    with command(session) as tx:
        review, subject, held = _lock_review(tx, actor, agreement_id, review_id, now)
        holders = _stakeholder_roles(subject)
        _check(minutes, holders, review, local_date(now))
        agenda = service_review_agenda(session, agreement_id)
        review.state = "held"
        review.held_on = minutes.held_on
        review.attendees = list(dict.fromkeys(minutes.attendees))
        review.decisions = [d.strip() for d in minutes.decisions]
        review.agenda = [item.model_dump(mode="json") for item in agenda]
        review.recorded_by_id = actor.user_id
        review.recorded_at = now
        session.add(review)
        on_behalf_of = held.assignee_id if held.assignee_id != actor.user_id else None
        # One joint meeting: its minutes complete each side's task of it.
        for task in [t for t in subject.tasks if _meeting_of(t, review)]:
            behalf = on_behalf_of if task.id == held.id else None
            complete(subject, task, "done", actor, behalf, comment="minutes recorded", now=now)
        items = _open_action_items(subject, review, minutes, holders, now)
        closed = _close_agenda(session, agreement_id, review, agenda, now)
        tx.audit(
            action="service_review.minutes_recorded",
            now=now,
            agreement_id=agreement_id,
            version_id=subject.version.id,
            actor_id=actor.user_id,
            on_behalf_of_id=on_behalf_of,
            data={
                "service_review_id": review.id,
                "quarter": review.quarter,
                "held_on": minutes.held_on.isoformat(),
                "attendees": review.attendees,
                "decisions": review.decisions,
                "agenda": review.agenda,
                "closed": closed,
                "action_items": [
                    {"task_id": t.id, "owner_id": t.assignee_id, "due_on": t.due_on.isoformat()}
                    for t in items
                ],
            },
        )
    return review


def _close_agenda(
    session: Session,
    agreement_id: int,
    review: ServiceReview,
    agenda: Sequence[AgendaItem],
    now: datetime,
) -> dict[str, list[int]]:
    """The review covered its agenda: the dispute exceptions and chronic misses on it are
    closed by it (open corrective actions follow their own plan)."""
    ids = {
        kind: [i.item_id for i in agenda if i.kind == kind and i.item_id is not None]
        for kind in ("dispute_exception", "chronic_miss")
    }
    for exception in session.exec(
        select(PeriodException).where(
            PeriodException.agreement_id == agreement_id,
            col(PeriodException.id).in_(ids["dispute_exception"]),
        )
    ):
        exception.state, exception.closed_at = "closed", now
        exception.closed_by_review_id = review.id
        session.add(exception)
    for miss in session.exec(
        select(ChronicMiss).where(
            ChronicMiss.agreement_id == agreement_id, col(ChronicMiss.id).in_(ids["chronic_miss"])
        )
    ):
        miss.state = "closed"
        session.add(miss)
    return {kind: sorted(found) for kind, found in ids.items() if found}


def _meeting_of(task: Task, review: ServiceReview) -> bool:
    return (
        task.service_review_id == review.id
        and task.kind == "service_review"
        and task.state == TaskState.OPEN
    )


def _lock_review(
    tx: Command, actor: Actor, agreement_id: int, review_id: int, now: datetime
) -> tuple[ServiceReview, VersionSubject, Task]:
    """The review, the version its tasks are on (locked) and the task the actor holds."""
    session = tx.session
    meeting = session.exec(
        select(Task.version_id).where(
            Task.agreement_id == agreement_id,
            Task.service_review_id == review_id,
            Task.kind == "service_review",
        )
    ).first()
    if meeting is None:
        raise NotFound("no such service review")
    agreement, version, calendars = lock_version(session, agreement_id, actor, version_id=meeting)
    review = session.exec(
        select(ServiceReview)
        .where(ServiceReview.id == review_id)
        .execution_options(populate_existing=True)
    ).one()
    subject = VersionSubject(tx, agreement, version, now=now, calendars=calendars)
    if review.state != "open":
        raise Conflict(f"the service review of {review.quarter} is already {review.state}")
    subject.load_grants(actor.user_id, local_date(now))
    principals = {actor.user_id, *subject.delegators(actor.user_id, local_date(now))}
    held = [t for t in subject.tasks if _meeting_of(t, review) and t.assignee_id in principals]
    if not held:
        raise Forbidden("only a Program Manager holding this service review (or their delegate)")
    return review, subject, held[0]


def _stakeholder_roles(subject: VersionSubject) -> dict[int, tuple[Side, Role]]:
    """Each stakeholder's (first) role on the agreement: what their action items are filed as."""
    roles: dict[int, tuple[Side, Role]] = {}
    for (side, role), user_id in sorted(subject.assignments.items()):
        roles.setdefault(user_id, (side, role))
    return roles


def _check(
    minutes: Minutes, holders: dict[int, tuple[Side, Role]], review: ServiceReview, today: date
) -> None:
    errors: list[dict[str, str]] = []
    if minutes.held_on > today:
        errors.append({"field": "held_on", "message": "cannot be in the future"})
    elif minutes.held_on < review.first_day:
        errors.append({"field": "held_on", "message": f"before the quarter ({review.first_day})"})
    if not minutes.attendees:
        errors.append({"field": "attendees", "message": "name at least one attendee"})
    for i, user_id in enumerate(minutes.attendees):
        if user_id not in holders:
            errors.append({"field": f"attendees.{i}", "message": "not a stakeholder of this SLA"})
    for i, text in enumerate(minutes.decisions):
        errors.extend(_text_errors(f"decisions.{i}", text))
    for i, item in enumerate(minutes.action_items):
        errors.extend(_text_errors(f"action_items.{i}.description", item.description))
        if item.owner_id not in holders:
            errors.append(
                {"field": f"action_items.{i}.owner_id", "message": "not a stakeholder of this SLA"}
            )
        if item.due_on < minutes.held_on:
            errors.append(
                {"field": f"action_items.{i}.due_on", "message": "before the review was held"}
            )
    if errors:
        raise InvalidInput("invalid minutes", errors)


def _text_errors(field: str, text: str) -> list[dict[str, str]]:
    if not text.strip():
        return [{"field": field, "message": "required"}]
    if len(text) > MAX_TEXT:
        return [{"field": field, "message": f"at most {MAX_TEXT} characters"}]
    return []


def _open_action_items(
    subject: VersionSubject,
    review: ServiceReview,
    minutes: Minutes,
    holders: dict[int, tuple[Side, Role]],
    now: datetime,
) -> list[Task]:
    tasks = []
    for item in minutes.action_items:
        side, role = holders[item.owner_id]
        template = TaskTemplate(
            "action_item",
            SideRef(side.value),
            role,
            0,
            escalation_roles=tuple(
                r for r in (Role.PROGRAM_MANAGER, Role.EXECUTIVE_SPONSOR) if r is not role
            ),
        )
        description = item.description.strip()
        task = subject.new_task(
            template,
            side,
            title=_title(description, review),
            detail=description,
            now=now,
            due_on=item.due_on,
            version_id=subject.version.id,
            cycle=subject.version.cycle,
            service_review_id=review.id,
        )
        task.assignee_id = item.owner_id  # the named owner, whoever else shares the role
        tasks.append(task)
    subject.session.add_all(tasks)
    subject.add_tasks(tasks)
    if tasks:
        flush(subject.session)
        announce_tasks(subject, tasks, now)
    return tasks


def _title(description: str, review: ServiceReview) -> str:
    first_line = description.splitlines()[0]
    short = first_line if len(first_line) <= 200 else first_line[:199] + "…"
    return f"Action item ({review.quarter} service review): {short}"
