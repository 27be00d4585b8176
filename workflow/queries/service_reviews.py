"""Quarterly service reviews as people see them, with their agenda and minutes."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, select

from states import TaskState
from workflow.access import Actor
from workflow.calendar import local_date
from workflow.errors import NotFound
from workflow.models import ChronicMiss, PeriodException, ReportingPeriod, ServiceReview, Task
from workflow.queries.agreements import visible_agreement
from workflow.queries.common import Person, View, people


class AgendaItem(View):
    """One thing the next service review must discuss, from wherever it arose.

    `kind` says what it is (`dispute_exception`, `chronic_miss`, `corrective_action`), `link`
    the page where it is followed up, `since` the day it arose, `item_id` the exception's or
    chronic miss's id (recording the minutes closes those).
    """

    kind: str
    title: str
    link: str
    since: date
    item_id: int | None = None


def service_review_agenda(session: Session, agreement_id: int) -> list[AgendaItem]:
    """What the agreement's next service review discusses, oldest first: open dispute
    exceptions, chronic misses and open corrective actions."""
    items: list[AgendaItem] = [
        *_exception_items(session, agreement_id),
        *_chronic_miss_items(session, agreement_id),
    ]
    rows = session.exec(
        select(Task, ReportingPeriod.period)
        .join(ReportingPeriod, col(ReportingPeriod.id) == Task.period_id, isouter=True)
        .where(
            Task.agreement_id == agreement_id,
            Task.kind == "corrective_action",
            Task.state == TaskState.OPEN,
        )
        .order_by(col(Task.created_at), col(Task.id))
    ).all()
    for task, period in rows:
        link = f"/slas/{agreement_id}/periods/{period}" if period else f"/tasks/{task.id}"
        items.append(
            AgendaItem(
                kind="corrective_action",
                title=f"{task.title} ({task.side}, due {task.due_on})",
                link=link,
                since=local_date(task.created_at),
            )
        )
    return sorted(items, key=lambda i: i.since)


def _exception_items(session: Session, agreement_id: int) -> list[AgendaItem]:
    rows = session.exec(
        select(PeriodException, ReportingPeriod.period)
        .join(ReportingPeriod, col(ReportingPeriod.id) == PeriodException.period_id)
        .where(PeriodException.agreement_id == agreement_id, PeriodException.state == "open")
        .order_by(col(PeriodException.raised_at), col(PeriodException.id))
    ).all()
    return [
        AgendaItem(
            kind="dispute_exception",
            title=f"{e.metric_key} in {period}, accepted with an exception: {e.reason}"[:500],
            link=f"/slas/{agreement_id}/periods/{period}",
            since=local_date(e.raised_at),
            item_id=e.id,
        )
        for e, period in rows
    ]


def _chronic_miss_items(session: Session, agreement_id: int) -> list[AgendaItem]:
    return [
        AgendaItem(
            kind="chronic_miss",
            title=(
                f"{m.metric_key} missed {len(m.windows)} windows in a row "
                f"({m.windows[0]} to {m.windows[-1]})"
                if m.windows
                else f"{m.metric_key}: chronic miss"
            ),
            link=f"/slas/{agreement_id}/periods/{m.windows[-1]}"
            if m.windows
            else f"/slas/{agreement_id}",
            since=local_date(m.detected_at),
            item_id=m.id,
        )
        for m in session.exec(
            select(ChronicMiss)
            .where(
                ChronicMiss.agreement_id == agreement_id,
                col(ChronicMiss.state).in_(("open", "on_agenda")),
            )
            .order_by(col(ChronicMiss.detected_at), col(ChronicMiss.id))
        ).all()
    ]


class ActionItemView(View):
    task_id: int
    description: str
    owner: Person | None
    due_on: date
    state: str


class ServiceReviewView(View):
    id: int
    quarter: str
    first_day: date
    last_day: date
    state: str
    due_on: date | None  # of its open tasks
    task_ids: list[int]
    held_on: date | None
    attendees: list[Person]
    decisions: list[str]
    action_items: list[ActionItemView]
    agenda: list[AgendaItem]
    recorded_by: Person | None
    recorded_at: datetime | None


def list_service_reviews(
    session: Session, actor: Actor, agreement_id: int
) -> list[ServiceReviewView]:
    """The agreement's reviews, newest first; an open one shows today's agenda."""
    visible_agreement(session, actor, agreement_id)
    reviews = session.exec(
        select(ServiceReview)
        .where(ServiceReview.agreement_id == agreement_id)
        .order_by(col(ServiceReview.first_day).desc())
    ).all()
    return _views(session, agreement_id, list(reviews))


def service_review_detail(
    session: Session, actor: Actor, agreement_id: int, review_id: int
) -> ServiceReviewView:
    visible_agreement(session, actor, agreement_id)
    review = session.get(ServiceReview, review_id)
    if review is None or review.agreement_id != agreement_id:
        raise NotFound("no such service review")
    return _views(session, agreement_id, [review])[0]


def _views(
    session: Session, agreement_id: int, reviews: list[ServiceReview]
) -> list[ServiceReviewView]:
    ids = [r.id for r in reviews]
    tasks = session.exec(
        select(Task).where(col(Task.service_review_id).in_(ids)).order_by(col(Task.id))
    ).all()
    who = people(
        session,
        [u for r in reviews for u in (*r.attendees, r.recorded_by_id)]
        + [t.assignee_id for t in tasks],
    )
    live = (
        service_review_agenda(session, agreement_id)
        if any(r.state == "open" for r in reviews)
        else []
    )
    views = []
    for r in reviews:
        own = [t for t in tasks if t.service_review_id == r.id]
        meeting = [t for t in own if t.kind == "service_review"]
        open_due = [t.due_on for t in meeting if t.state == TaskState.OPEN]
        # Never held, and its tasks ended with the agreement (expired or terminated).
        state = (
            "cancelled"
            if r.state == "open"
            and meeting
            and all(t.state == TaskState.CANCELLED for t in meeting)
            else r.state
        )
        views.append(
            ServiceReviewView(
                id=r.id or 0,
                quarter=r.quarter,
                first_day=r.first_day,
                last_day=r.last_day,
                state=state,
                due_on=min(open_due) if open_due else None,
                task_ids=[t.id for t in meeting if t.id is not None],
                held_on=r.held_on,
                attendees=[who[u] for u in r.attendees if u in who],
                decisions=list(r.decisions),
                action_items=[
                    ActionItemView(
                        task_id=t.id or 0,
                        description=t.detail,
                        owner=who.get(t.assignee_id or 0),
                        due_on=t.due_on,
                        state=t.state,
                    )
                    for t in own
                    if t.kind == "action_item"
                ],
                agenda=live
                if state == "open"
                else [AgendaItem.model_validate(a) for a in r.agenda],
                recorded_by=who.get(r.recorded_by_id or 0),
                recorded_at=r.recorded_at,
            )
        )
    return views
