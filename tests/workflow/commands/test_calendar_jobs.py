"""Expiry and the governance calendar, by time travel over a whole period of performance.

The agreement's version 1 runs from 1 October 2026 to 30 September 2028 and is activated on
Monday 2 November 2026 (New York). Counted by hand: service reviews open on the first day of
each calendar quarter after activation (1 Jan, 1 Apr, 1 Jul, 1 Oct 2027, then 1 Jan, 1 Apr,
1 Jul 2028), the annual review on 2 November 2027, the renewal reminders 90, 60 and 30 days
before 30 September 2028 (2 July, 1 August, 31 August 2028), and the version expires on
1 October 2028, the first day after its period.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from states import (
    LIFECYCLE,
    GovernanceCalendar,
    Role,
    SideRef,
    SpecError,
    TaskTemplate,
    validate,
)
from tests.helpers import T0, C, P, World, make_world
from workflow import commands
from workflow.commands.calendar_jobs import CalendarReport, run_calendar
from workflow.example import example_content
from workflow.governance_dates import (
    add_years,
    newest_anniversary,
    newest_quarter,
    newest_renewal,
    quarter_label,
)
from workflow.models import Agreement, AuditEvent, OutboxMessage, Task

NEW_YORK = ZoneInfo("America/New_York")
PERIOD_END = date(2028, 9, 30)


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)


EXPECTED = [
    (date(2027, 1, 1), "service_review", "2026 Q4 (fiscal 2027 Q1), customer"),
    (date(2027, 1, 1), "service_review", "2026 Q4 (fiscal 2027 Q1), provider"),
    (date(2027, 4, 1), "service_review", "2027 Q1 (fiscal 2027 Q2), customer"),
    (date(2027, 4, 1), "service_review", "2027 Q1 (fiscal 2027 Q2), provider"),
    (date(2027, 7, 1), "service_review", "2027 Q2 (fiscal 2027 Q3), customer"),
    (date(2027, 7, 1), "service_review", "2027 Q2 (fiscal 2027 Q3), provider"),
    (date(2027, 10, 1), "service_review", "2027 Q3 (fiscal 2027 Q4), customer"),
    (date(2027, 10, 1), "service_review", "2027 Q3 (fiscal 2027 Q4), provider"),
    (date(2027, 11, 2), "annual_review", "year 1 (anniversary 2027-11-02)"),
    (date(2028, 1, 1), "service_review", "2027 Q4 (fiscal 2028 Q1), customer"),
    (date(2028, 1, 1), "service_review", "2027 Q4 (fiscal 2028 Q1), provider"),
    (date(2028, 4, 1), "service_review", "2028 Q1 (fiscal 2028 Q2), customer"),
    (date(2028, 4, 1), "service_review", "2028 Q1 (fiscal 2028 Q2), provider"),
    (date(2028, 7, 1), "service_review", "2028 Q2 (fiscal 2028 Q3), customer"),
    (date(2028, 7, 1), "service_review", "2028 Q2 (fiscal 2028 Q3), provider"),
    (date(2028, 7, 2), "renewal_reminder", "90 days before 2028-09-30 (90 left)"),
    (date(2028, 8, 1), "renewal_reminder", "60 days before 2028-09-30 (60 left)"),
    (date(2028, 8, 31), "renewal_reminder", "30 days before 2028-09-30 (30 left)"),
    (date(2028, 10, 1), "expired", "period ended 2028-09-30"),
]


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def active_two_year_agreement(world: World) -> Agreement:
    content = example_content(world.document)
    content.terms.period_end = PERIOD_END
    world.now = T0  # Monday 2 November 2026, 09:00 in New York
    agreement = world.create(content=content)
    world.to_active(agreement)
    version = world.version(agreement)
    assert version.state == "active"
    assert version.activated_at is not None
    assert version.activated_at.astimezone(NEW_YORK).date() == date(2026, 11, 2)
    return agreement


def run(engine: Engine, now: datetime) -> CalendarReport:
    with Session(engine, expire_on_commit=False) as session:
        return run_calendar(session, now=now)


def count(engine: Engine, stmt: object) -> int:
    with Session(engine) as session:
        return int(session.exec(stmt).one())  # type: ignore[call-overload]


def test_two_years_of_daily_runs_do_each_thing_once_on_its_day(
    world: World, engine: Engine
) -> None:
    agreement = active_two_year_agreement(world)
    seen: list[tuple[date, str, str]] = []
    day = date(2026, 11, 2)
    while day <= date(2028, 10, 3):
        # Just after local midnight the day's work happens; late in the evening nothing is left.
        for hour, minute in ((0, 30), (23, 30)):
            report = run(engine, at(day, hour, minute))
            if (hour, minute) == (23, 30):
                assert report.actions == [], (day, report.actions)
            seen.extend((day, a.kind, a.detail) for a in report.actions)
        day += timedelta(days=1)
    assert seen == EXPECTED

    version = world.version(agreement)
    assert version.state == "expired"
    with Session(engine) as session:
        tasks = session.exec(
            select(Task).where(col(Task.kind).in_(("annual_review", "service_review")))
        ).all()
        renewals = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.topic == "agreement.renewal_upcoming")
            .order_by(col(OutboxMessage.id))
        ).all()
        actions = dict(
            session.exec(
                select(AuditEvent.action, func.count())
                .where(AuditEvent.agreement_id == agreement.id)
                .group_by(AuditEvent.action)
            ).all()
        )
        assigned = session.exec(
            select(func.count()).where(
                OutboxMessage.topic == "task.assigned",
                col(OutboxMessage.dedupe_key).in_([f"task.assigned:{t.id}" for t in tasks]),
            )
        ).one()
    assert len(tasks) == 15
    assert assigned == 15  # each governance task announced once, as every task is
    assert [r.dedupe_key for r in renewals] == [
        f"renewal:{version.id}:90",
        f"renewal:{version.id}:60",
        f"renewal:{version.id}:30",
    ]
    assert actions["governance.service_review_opened"] == 14
    assert actions["governance.annual_review_opened"] == 1
    assert actions["agreement.renewal_upcoming"] == 3
    assert actions["version.expire"] == 1
    # The expiry cancelled what was still open (nobody held the last service reviews).
    assert {t.state for t in tasks} == {"cancelled"}
    assert (
        count(
            engine,
            select(func.count()).where(
                OutboxMessage.topic == "version.expired", OutboxMessage.agreement_id == agreement.id
            ),
        )
        == 1
    )


def test_the_tasks_go_to_the_right_people_with_business_day_due_dates(
    world: World, engine: Engine
) -> None:
    agreement = active_two_year_agreement(world)
    run(engine, at(date(2027, 1, 1)))  # New Year's Day, a Friday and a holiday
    reviews = world.open_tasks(agreement, "service_review")
    assert [(t.side, t.role, t.assignee_id) for t in reviews] == [
        ("customer", "program_manager", world.who(C, Role.PROGRAM_MANAGER).user_id),
        ("provider", "program_manager", world.who(P, Role.PROGRAM_MANAGER).user_id),
    ]
    # From Monday 4 January, ten business days, skipping Martin Luther King Day (Mon 18).
    assert {t.due_on for t in reviews} == {date(2027, 1, 19)}
    assert {tuple(t.escalation_roles) for t in reviews} == {("executive_sponsor",)}
    assert "2026-11-02 to 2026-12-31" in reviews[0].detail  # from activation to quarter end

    run(engine, at(date(2027, 11, 2)))
    (annual,) = world.open_tasks(agreement, "annual_review")
    assert (annual.side, annual.role, annual.assignee_id) == (
        "customer",
        "business_owner",
        world.who(C, Role.BUSINESS_OWNER).user_id,
    )
    # Tue 2 Nov 2027 + 20 business days, skipping Veterans Day (Thu 11) and Thanksgiving (25).
    assert annual.due_on == date(2027, 12, 2)
    assert annual.detail.startswith("Year 1 after activation on 2026-11-02")


def test_renewal_reminders_go_to_both_business_owners_and_program_managers(
    world: World, engine: Engine
) -> None:
    agreement = active_two_year_agreement(world)
    run(engine, at(date(2028, 7, 2)))
    with Session(engine) as session:
        message = session.exec(
            select(OutboxMessage).where(OutboxMessage.topic == "agreement.renewal_upcoming")
        ).one()
    version = world.version(agreement)
    assert message.recipients == {
        "roles": [
            {"side": "customer", "role": "business_owner"},
            {"side": "customer", "role": "program_manager"},
            {"side": "provider", "role": "business_owner"},
            {"side": "provider", "role": "program_manager"},
        ]
    }
    assert message.payload == {
        "agreement": {"id": agreement.id, "key": agreement.key, "title": agreement.title},
        "version": {"id": version.id, "number": 1, "modification_number": 0, "state": "active"},
        "period_end": "2028-09-30",
        "days_before": 90,
        "days_remaining": 90,
    }


def test_a_late_run_catches_up_with_only_the_newest_of_each(world: World, engine: Engine) -> None:
    active_two_year_agreement(world)
    # The scheduler never ran until 15 August 2028.
    report = run(engine, at(date(2028, 8, 15)))
    assert [(a.kind, a.detail) for a in report.actions] == [
        ("renewal_reminder", "60 days before 2028-09-30 (46 left)"),
        ("annual_review", "year 1 (anniversary 2027-11-02)"),
        ("service_review", "2028 Q2 (fiscal 2028 Q3), customer"),
        ("service_review", "2028 Q2 (fiscal 2028 Q3), provider"),
    ]
    assert run(engine, at(date(2028, 8, 15), 18)).actions == []
    assert [a.detail for a in run(engine, at(date(2028, 8, 31))).actions] == [
        "30 days before 2028-09-30 (30 left)"
    ]


def test_the_period_ends_at_local_midnight(world: World, engine: Engine) -> None:
    agreement = active_two_year_agreement(world)
    run(engine, at(date(2028, 9, 30)))
    last_evening = at(date(2028, 9, 30), 23, 30)  # already 1 October in UTC
    assert last_evening.astimezone(UTC).date() == date(2028, 10, 1)
    assert run(engine, last_evening).of("expired") == []
    assert world.version(agreement).state == "active"
    assert len(run(engine, at(date(2028, 10, 1), 0, 30)).of("expired")) == 1
    assert world.version(agreement).state == "expired"


def _together(engine: Engine, now: datetime) -> list[CalendarReport]:
    barrier = threading.Barrier(2, timeout=10)
    reports: list[CalendarReport] = []
    errors: list[BaseException] = []

    def go() -> None:
        try:
            with Session(engine, expire_on_commit=False) as session:
                barrier.wait()
                reports.append(run_calendar(session, now=now))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return reports


@pytest.mark.parametrize(
    ("day", "kind", "action", "expected"),
    [
        (date(2027, 1, 1), "service_review", "governance.service_review_opened", 2),
        (date(2027, 11, 2), "annual_review", "governance.annual_review_opened", 1),
        (date(2028, 8, 1), "renewal_reminder", "agreement.renewal_upcoming", 1),
        (date(2028, 10, 1), "expired", "version.expire", 1),
    ],
)
def test_two_runs_at_the_same_moment_do_it_once(
    world: World, engine: Engine, day: date, kind: str, action: str, expected: int
) -> None:
    agreement = active_two_year_agreement(world)
    reports = _together(engine, at(day))
    assert sum(len(r.of(kind)) for r in reports) == expected
    assert (
        count(
            engine,
            select(func.count()).where(
                AuditEvent.agreement_id == agreement.id, AuditEvent.action == action
            ),
        )
        == expected
    )


def test_only_active_versions_are_on_the_calendar(world: World, engine: Engine) -> None:
    superseded = active_two_year_agreement(world)
    commands.start_revision(
        world.session,
        actor=world.who(C, Role.PROGRAM_MANAGER),
        agreement_id=superseded.id,  # type: ignore[arg-type]
        now=world.tick(),
    )
    world.to_active(superseded, 2)
    draft = world.create()
    report = run(engine, at(date(2027, 1, 1)))
    assert [(a.agreement_key, a.version_number, a.kind) for a in report.actions] == [
        (superseded.key, 2, "service_review"),
        (superseded.key, 2, "service_review"),
    ]
    assert report.versions_checked == 1
    assert world.version(superseded, 1).state == "superseded"
    assert world.version(draft).state == "draft"


# ---- the calendar's arithmetic --------------------------------------------------------------


def test_anniversaries_quarters_and_renewal_steps() -> None:
    assert add_years(date(2028, 2, 29), 1) == date(2029, 2, 28)
    assert newest_anniversary(date(2026, 11, 2), date(2027, 11, 1)) is None
    assert newest_anniversary(date(2026, 11, 2), date(2027, 11, 2)) == (1, date(2027, 11, 2))
    assert newest_anniversary(date(2026, 11, 2), date(2029, 1, 5)) == (2, date(2028, 11, 2))
    assert newest_quarter(date(2026, 11, 2), date(2026, 12, 31)) is None
    assert newest_quarter(date(2026, 11, 2), date(2027, 2, 14)) == date(2027, 1, 1)
    # Activated on the first day of a quarter: its first review is the next quarter's.
    assert newest_quarter(date(2026, 10, 1), date(2026, 12, 1)) is None
    assert quarter_label(date(2026, 10, 1)) == "2026 Q4 (fiscal 2027 Q1)"
    steps = LIFECYCLE.governance.renewal_days_before
    end, activated = date(2028, 9, 30), date(2026, 11, 2)
    assert newest_renewal(end, activated, date(2028, 7, 1), steps) is None
    assert newest_renewal(end, activated, date(2028, 7, 2), steps) == 90
    assert newest_renewal(end, activated, date(2028, 9, 30), steps) == 30
    assert newest_renewal(end, activated, date(2028, 10, 1), steps) is None
    # Activated 45 days before the end: the 90 and 60-day reminders predate it.
    assert newest_renewal(end, date(2028, 8, 16), date(2028, 8, 20), steps) is None
    assert newest_renewal(end, date(2028, 8, 16), date(2028, 8, 31), steps) == 30


def test_the_governance_calendar_is_data_in_the_spec() -> None:
    governance = LIFECYCLE.governance
    assert governance.renewal_days_before == (90, 60, 30)
    assert governance.annual_review is not None
    assert (governance.annual_review.kind, governance.annual_review.role) == (
        "annual_review",
        Role.BUSINESS_OWNER,
    )
    assert [(t.side.value, t.role) for t in governance.service_reviews] == [
        ("customer", Role.PROGRAM_MANAGER),
        ("provider", Role.PROGRAM_MANAGER),
    ]
    for kind in ("annual_review", "service_review"):
        assert [o.name for o in LIFECYCLE.task_kind(kind).outcomes] == ["done"]


def test_a_governance_calendar_naming_an_unknown_task_kind_is_refused() -> None:
    broken = replace(
        LIFECYCLE,
        governance=GovernanceCalendar(
            renewal_days_before=(30, 0),
            annual_review=TaskTemplate(
                "audit_everything", SideRef.CUSTOMER, Role.BUSINESS_OWNER, 5
            ),
        ),
    )
    with pytest.raises(SpecError) as refused:
        validate(broken)
    assert "governance calendar: unknown task kind 'audit_everything'" in str(refused.value)
    assert "renewal reminders must be days before the end" in str(refused.value)
