"""Expiry and the governance calendar, by time travel over a whole period of performance.

The agreement's version 1 runs from 1 October 2026 to 30 September 2028 and is activated on
Monday 2 November 2026 (New York). Counted by hand: one service review opens on the first day
of each calendar quarter after activation (1 Jan, 1 Apr, 1 Jul, 1 Oct 2027, then 1 Jan, 1 Apr,
1 Jul 2028); the annual review of each 12 months of the period is due 60 days before those 12
months end (1 August 2027, 1 August 2028) and opens 30 days earlier (2 July 2027, 2 July
2028); the renewal decision opens 120 days before 30 September 2028 (2 June 2028), due 30 days
before it (31 August); its early reminders go out 90 and 60 days before the end (2 July,
1 August 2028); and the version expires on 1 October 2028, the first day after its period.
"""

from __future__ import annotations

import json
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
    annual_slots,
    newest_annual_slot,
    newest_quarter,
    newest_renewal,
    quarter_label,
    renewal_decision_window,
)
from workflow.models import Agreement, AuditEvent, OutboxMessage, ServiceReview, Task

NEW_YORK = ZoneInfo("America/New_York")
PERIOD_END = date(2028, 9, 30)
GOVERNANCE_KINDS = ("annual_review", "service_review", "renewal_decision")


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)


EXPECTED = [
    (date(2027, 1, 1), "service_review", "2026 Q4 (fiscal 2027 Q1)"),
    (date(2027, 4, 1), "service_review", "2027 Q1 (fiscal 2027 Q2)"),
    (date(2027, 7, 1), "service_review", "2027 Q2 (fiscal 2027 Q3)"),
    (date(2027, 7, 2), "annual_review", "year 1 (2026-10-01 to 2027-09-30), due 2027-08-01"),
    (date(2027, 10, 1), "service_review", "2027 Q3 (fiscal 2027 Q4)"),
    (date(2028, 1, 1), "service_review", "2027 Q4 (fiscal 2028 Q1)"),
    (date(2028, 4, 1), "service_review", "2028 Q1 (fiscal 2028 Q2)"),
    (date(2028, 6, 2), "renewal_decision", "period ends 2028-09-30, decide by 2028-08-31"),
    (date(2028, 7, 1), "service_review", "2028 Q2 (fiscal 2028 Q3)"),
    (date(2028, 7, 2), "annual_review", "year 2 (2027-10-01 to 2028-09-30), due 2028-08-01"),
    (date(2028, 7, 2), "renewal_reminder", "90 days before 2028-09-30 (90 left)"),
    (date(2028, 8, 1), "renewal_reminder", "60 days before 2028-09-30 (60 left)"),
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
        tasks = session.exec(select(Task).where(col(Task.kind).in_(GOVERNANCE_KINDS))).all()
        reviews = session.exec(select(ServiceReview)).all()
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
    # Seven joint reviews (a task for each Program Manager), two annual reviews, one decision
    # for each Program Manager.
    assert len(reviews) == 7
    assert sorted(t.kind for t in tasks) == sorted(
        ["service_review"] * 14 + ["annual_review"] * 2 + ["renewal_decision"] * 2
    )
    assert {t.service_review_id for t in tasks if t.kind == "service_review"} == {
        r.id for r in reviews
    }
    assert assigned == 18  # each governance task announced once, as every task is
    assert [r.dedupe_key for r in renewals] == [
        f"renewal:{agreement.id}:2028-09-30:90",
        f"renewal:{agreement.id}:2028-09-30:60",
    ]
    assert actions["governance.service_review_opened"] == 14
    assert actions["governance.annual_review_opened"] == 2
    assert actions["governance.renewal_decision_opened"] == 2
    assert actions["agreement.renewal_upcoming"] == 2
    assert actions["version.expire"] == 1
    # The expiry cancelled what was still open (nobody held the reviews or decided).
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


def test_the_tasks_go_to_the_right_people_with_their_due_dates(
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
    assert reviews[0].service_review_id == reviews[1].service_review_id  # one joint review

    run(engine, at(date(2027, 7, 2)))
    (annual,) = world.open_tasks(agreement, "annual_review")
    assert (annual.side, annual.role, annual.assignee_id) == (
        "customer",
        "business_owner",
        world.who(C, Role.BUSINESS_OWNER).user_id,
    )
    # 60 days before the first 12 months of the period end (30 September 2027).
    assert annual.due_on == date(2027, 8, 1)
    assert annual.detail.startswith("Year 1 of the period of performance, 2026-10-01 to 2027-09-30")

    run(engine, at(date(2028, 6, 2)))
    decisions = world.open_tasks(agreement, "renewal_decision")
    assert [(t.side, t.role, t.assignee_id, t.due_on) for t in decisions] == [
        (
            "customer",
            "program_manager",
            world.who(C, Role.PROGRAM_MANAGER).user_id,
            date(2028, 8, 31),
        ),
        (
            "provider",
            "program_manager",
            world.who(P, Role.PROGRAM_MANAGER).user_id,
            date(2028, 8, 31),
        ),
    ]


def test_renewal_emails_remind_of_the_open_decision(world: World, engine: Engine) -> None:
    agreement = active_two_year_agreement(world)
    run(engine, at(date(2028, 6, 2)))
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
        "decision_due_on": "2028-08-31",
    }
    # Once both Program Managers decided, nothing more reminds them.
    for task in world.open_tasks(agreement, "renewal_decision"):
        world.complete(task, "let_expire")
    assert run(engine, at(date(2028, 8, 1))).of("renewal_reminder") == []


def test_a_late_run_catches_up_with_only_the_newest_of_each(world: World, engine: Engine) -> None:
    active_two_year_agreement(world)
    # The scheduler never ran until 15 August 2028.
    report = run(engine, at(date(2028, 8, 15)))
    assert [(a.kind, a.detail) for a in report.actions] == [
        ("annual_review", "year 2 (2027-10-01 to 2028-09-30), due 2028-08-01"),
        ("renewal_decision", "period ends 2028-09-30, decide by 2028-08-31"),
        ("service_review", "2028 Q2 (fiscal 2028 Q3)"),
    ]
    # The renewal emails dated before the decision opened are not sent late.
    assert run(engine, at(date(2028, 8, 15), 18)).actions == []
    assert run(engine, at(date(2028, 8, 31))).actions == []


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
    ("day", "kind", "action", "expected", "audited"),
    [
        (date(2027, 1, 1), "service_review", "governance.service_review_opened", 1, 2),
        (date(2027, 7, 2), "annual_review", "governance.annual_review_opened", 1, 1),
        (date(2028, 6, 2), "renewal_decision", "governance.renewal_decision_opened", 1, 2),
        (date(2028, 8, 1), "renewal_reminder", "agreement.renewal_upcoming", 1, 1),
        (date(2028, 10, 1), "expired", "version.expire", 1, 1),
    ],
)
def test_two_runs_at_the_same_moment_do_it_once(
    world: World, engine: Engine, day: date, kind: str, action: str, expected: int, audited: int
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
        == audited
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
    ]
    assert report.versions_checked == 1
    assert world.version(superseded, 1).state == "superseded"
    assert world.version(draft).state == "draft"


# ---- a 12-month agreement, and revisions ----------------------------------------------------


def revise(world: World, agreement: Agreement, number: int) -> None:
    commands.start_revision(
        world.session,
        actor=world.who(C, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,  # type: ignore[arg-type]
        now=world.tick(),
    )
    world.to_active(agreement, number)


def test_a_12_month_sla_gets_its_annual_review_before_it_expires(
    world: World, engine: Engine
) -> None:
    # The example: 1 October 2026 to 30 September 2027, in force from 2 November 2026.
    agreement = world.create()
    world.to_active(agreement)
    assert run(engine, at(date(2027, 7, 1))).of("annual_review") == []
    (opened,) = run(engine, at(date(2027, 7, 2))).of("annual_review")
    assert opened.detail == "year 1 (2026-10-01 to 2027-09-30), due 2027-08-01"
    (task,) = world.open_tasks(agreement, "annual_review")
    assert task.due_on == date(2027, 8, 1) < date(2027, 9, 30)
    # Its reminders and escalation run before the period ends.
    world.complete(task, "done")
    assert run(engine, at(date(2027, 9, 30))).of("annual_review") == []
    assert len(run(engine, at(date(2027, 10, 1))).of("expired")) == 1


def test_the_days_before_the_end_are_set_per_agreement(world: World, engine: Engine) -> None:
    agreement = world.create(annual_review_days_before_end=90)
    world.to_active(agreement)
    (opened,) = run(engine, at(date(2027, 6, 2))).of("annual_review")
    assert opened.detail == "year 1 (2026-10-01 to 2027-09-30), due 2027-07-02"


def test_a_revision_does_not_move_the_annual_review(world: World, engine: Engine) -> None:
    agreement = world.create()
    world.to_active(agreement)
    world.now = at(date(2027, 5, 3)).astimezone(UTC)  # version 2 in force from May 2027
    revise(world, agreement, 2)
    assert world.version(agreement, 2).state == "active"
    assert run(engine, at(date(2027, 7, 1))).of("annual_review") == []
    (opened,) = run(engine, at(date(2027, 7, 2))).of("annual_review")
    assert (opened.version_number, opened.detail) == (
        2,
        "year 1 (2026-10-01 to 2027-09-30), due 2027-08-01",
    )
    # Revised again while it is open: the review stays open, on the version in force.
    world.now = at(date(2027, 7, 6)).astimezone(UTC)
    revise(world, agreement, 3)
    (task,) = world.open_tasks(agreement, "annual_review")
    assert (task.version_id, task.due_on) == (world.version(agreement, 3).id, date(2027, 8, 1))
    assert run(engine, at(date(2027, 7, 7))).of("annual_review") == []


def test_the_renewal_decision_opens_once_for_both_program_managers(
    world: World, engine: Engine
) -> None:
    agreement = world.create()
    world.to_active(agreement)
    # 120 days before 30 September 2027.
    assert run(engine, at(date(2027, 6, 1))).of("renewal_decision") == []
    (opened,) = run(engine, at(date(2027, 6, 2))).of("renewal_decision")
    assert opened.detail == "period ends 2027-09-30, decide by 2027-08-31"
    decisions = world.open_tasks(agreement, "renewal_decision")
    assert {(t.side, t.role) for t in decisions} == {
        ("customer", "program_manager"),
        ("provider", "program_manager"),
    }
    assert run(engine, at(date(2027, 6, 3))).of("renewal_decision") == []
    world.complete(decisions[0], "extend", comment="six more months while we re-compete")
    assert run(engine, at(date(2027, 6, 4))).of("renewal_decision") == []
    with Session(engine) as session:
        decided = session.get(Task, decisions[0].id)
        audited = session.exec(
            select(AuditEvent).where(
                AuditEvent.agreement_id == agreement.id, AuditEvent.action == "task.completed"
            )
        ).all()
    assert decided is not None
    assert decided.outcome == "extend"
    assert any(json.loads(e.body)["data"]["outcome"] == "extend" for e in audited)


# ---- the calendar's arithmetic --------------------------------------------------------------


def test_annual_slots_quarters_and_renewal_steps() -> None:
    assert add_years(date(2028, 2, 29), 1) == date(2029, 2, 28)
    two_years = annual_slots(date(2026, 10, 1), date(2028, 9, 30), 60, 30)
    assert [(s.number, s.first_day, s.last_day, s.due_on, s.opens_on) for s in two_years] == [
        (1, date(2026, 10, 1), date(2027, 9, 30), date(2027, 8, 1), date(2027, 7, 2)),
        (2, date(2027, 10, 1), date(2028, 9, 30), date(2028, 8, 1), date(2028, 7, 2)),
    ]
    # 13 months: the last month is too short for a review 60 days before the end.
    assert len(annual_slots(date(2027, 1, 1), date(2028, 1, 31), 60, 30)) == 1
    # 18 months: the second review is due 60 days before the period ends.
    (_, second) = annual_slots(date(2027, 1, 1), date(2028, 6, 30), 60, 30)
    assert (second.due_on, second.opens_on) == (date(2028, 5, 1), date(2028, 4, 1))
    assert newest_annual_slot(two_years, date(2027, 7, 1)) is None
    assert newest_annual_slot(two_years, date(2027, 7, 2)) == two_years[0]
    assert newest_annual_slot(two_years, date(2028, 9, 30)) == two_years[1]
    assert newest_quarter(date(2026, 11, 2), date(2026, 12, 31)) is None
    assert newest_quarter(date(2026, 11, 2), date(2027, 2, 14)) == date(2027, 1, 1)
    # Activated on the first day of a quarter: its first review is the next quarter's.
    assert newest_quarter(date(2026, 10, 1), date(2026, 12, 1)) is None
    assert quarter_label(date(2026, 10, 1)) == "2026 Q4 (fiscal 2027 Q1)"
    end = date(2028, 9, 30)
    assert renewal_decision_window(end, date(2028, 6, 1), 120, 30) is None
    assert renewal_decision_window(end, date(2028, 6, 2), 120, 30) == date(2028, 8, 31)
    assert renewal_decision_window(end, date(2028, 9, 5), 120, 30) == date(2028, 9, 5)
    assert renewal_decision_window(end, date(2028, 10, 1), 120, 30) is None
    steps = LIFECYCLE.governance.renewal_days_before
    opened = date(2028, 6, 2)
    assert newest_renewal(end, opened, date(2028, 7, 1), steps) is None
    assert newest_renewal(end, opened, date(2028, 7, 2), steps) == 90
    assert newest_renewal(end, opened, date(2028, 9, 30), steps) == 60
    assert newest_renewal(end, opened, date(2028, 10, 1), steps) is None
    # A decision opened 45 days before the end: the 90 and 60-day reminders predate it.
    assert newest_renewal(end, date(2028, 8, 16), date(2028, 8, 20), steps) is None


def test_the_governance_calendar_is_data_in_the_spec() -> None:
    governance = LIFECYCLE.governance
    assert governance.renewal_days_before == (90, 60)
    assert (
        governance.renewal_decision_days_before,
        governance.renewal_decision_due_days_before,
    ) == (120, 30)
    assert governance.annual_review_days_before_end == 60
    assert governance.annual_review is not None
    assert (governance.annual_review.kind, governance.annual_review.role) == (
        "annual_review",
        Role.BUSINESS_OWNER,
    )
    assert [(t.side.value, t.role) for t in governance.service_reviews] == [
        ("customer", Role.PROGRAM_MANAGER),
        ("provider", Role.PROGRAM_MANAGER),
    ]
    assert [(t.side.value, t.role) for t in governance.renewal_decisions] == [
        ("customer", Role.PROGRAM_MANAGER),
        ("provider", Role.PROGRAM_MANAGER),
    ]
    for kind in ("annual_review", "service_review"):
        assert [o.name for o in LIFECYCLE.task_kind(kind).outcomes] == ["done"]
    assert [o.name for o in LIFECYCLE.task_kind("renewal_decision").outcomes] == [
        "renew_by_revision",
        "extend",
        "let_expire",
    ]


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
    assert "renewal reminders must fall before the decision is due" in str(refused.value)
