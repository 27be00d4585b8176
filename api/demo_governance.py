"""The demo's governance calendar: a service review of the active agreement, held, with minutes
whose action items are open tasks of their owners.

The demo's history is eight weeks, usually too short for a quarter to have ended since the
agreement came into force, so the review is the quarter in progress, held early (the calendar
opens it exactly as it would at the next quarter's start); its minutes go through the same
command as the page and the API.
"""

from __future__ import annotations

from datetime import timedelta

from states import Role, Side
from workflow.calendar import local_date
from workflow.commands.governance_tasks import CalendarWork, apply_calendar_work
from workflow.commands.service_reviews import ActionItemInput, Minutes, record_minutes
from workflow.example import LifecycleDriver
from workflow.governance_dates import quarter_start
from workflow.models import Agreement, ServiceReview, Task

C, P = Side.CUSTOMER, Side.PROVIDER


def add_service_review(driver: LifecycleDriver, agreement: Agreement) -> str | None:
    """Open and hold the service review of the quarter in progress; its label (2026-Q4)."""
    assert agreement.id is not None
    version = driver.version(agreement)
    if version.activated_at is None:
        return None
    today = local_date(driver.now)
    next_quarter = quarter_start(quarter_start(today) + timedelta(days=95))
    work = CalendarWork(
        agreement.id,
        version.id or 0,
        agreement.key,
        version.number,
        None,
        quarter=next_quarter,
        first_activated_on=local_date(version.activated_at),
    )
    opened = apply_calendar_work(driver.session, work, driver.tick())
    if not opened:
        return None
    (review_task_ids,) = [a.task_ids for a in opened]
    review_id = _review_of(driver, review_task_ids[0])
    people = [driver.who(side, role).user_id for side, role in _ATTENDEES]
    record_minutes(
        driver.session,
        actor=driver.who(C, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,
        review_id=review_id,
        minutes=Minutes(
            held_on=today,
            attendees=people,
            decisions=[
                "October's proper-payments miss is a data-feed issue: the provider fixes the "
                "feed, the customer sends its payroll cut-off calendar earlier.",
                "Keep monthly reporting; revisit the fbwt-difference target at the annual review.",
            ],
            action_items=[
                ActionItemInput(
                    "Fix the proper-payments data feed and re-run October's figures",
                    driver.who(P, Role.TECHNICAL_LEAD).user_id,
                    today + timedelta(days=21),
                ),
                ActionItemInput(
                    "Send the 2027 payroll cut-off calendar to the provider",
                    driver.who(C, Role.PMO_LEAD).user_id,
                    today + timedelta(days=14),
                ),
            ],
        ),
        now=driver.tick(),
    )
    return review_quarter(driver, review_id)


_ATTENDEES = (
    (C, Role.PROGRAM_MANAGER),
    (C, Role.FUNCTIONAL_LEAD),
    (P, Role.PROGRAM_MANAGER),
    (P, Role.TECHNICAL_LEAD),
)


def _review_of(driver: LifecycleDriver, task_id: int) -> int:
    driver.session.rollback()
    task = driver.session.get(Task, task_id)
    assert task is not None
    assert task.service_review_id is not None
    return task.service_review_id


def review_quarter(driver: LifecycleDriver, review_id: int) -> str:
    review = driver.session.get(ServiceReview, review_id)
    assert review is not None
    return review.quarter
