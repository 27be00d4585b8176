"""The scenario table (tests/workflow/scenarios.py) driven through the real commands, row by row,
on both databases; and the README's event tables, which the table generates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path as FilePath

import pytest
from sqlmodel import Session, col, select

from states import LIFECYCLE, REPORTING, FiredBy, Role, Side
from tests.helpers import World, make_world
from tests.workflow.commands.test_periods import NOVEMBER
from tests.workflow.scenarios import GUARD_SUMMARY, PATHS, Opened, Path, Row, markdown
from tests.workflow.test_compliance_sql import store
from workflow import commands
from workflow.models import Agreement, OutboxMessage, ReportingPeriod, Task

C, P = Side.CUSTOMER, Side.PROVIDER
README = FilePath(__file__).parent.parent.parent / "README.md"
PERIOD = "2026-11"
DEC_1 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # November's period opens
AFTER_THE_PERIOD_OF_PERFORMANCE = datetime(2027, 10, 1, 15, 0, tzinfo=UTC)
DISPUTES = [{"metric": "proper-payments", "reason": "Our data arrived late on the 28th."}]


def _new_agreement(world: World) -> Agreement:
    return world.create()


def _in_approval(world: World) -> Agreement:
    agreement = world.create()
    world.to_approval(agreement)
    return agreement


def _active(world: World) -> Agreement:
    agreement = world.create()
    world.to_active(agreement)
    return agreement


def _period_open(world: World) -> Agreement:
    agreement = _active(world)
    assert agreement.id is not None
    store(world.session, agreement.id, NOVEMBER)
    world.now = DEC_1
    assert commands.open_due_periods(world.session, now=DEC_1).opened == [(agreement.key, PERIOD)]
    return agreement


START: dict[str, Callable[[World], Agreement]] = {
    "new agreement": _new_agreement,
    "in approval": _in_approval,
    "active": _active,
    "period open": _period_open,
}


def _complete_one(world: World, agreement: Agreement, kind: str, side: Side, role: Role) -> None:
    (task,) = (t for t in world.open_tasks(agreement, kind) if (t.side, t.role) == (side, role))
    world.complete(task, "approved" if kind == "approval" else "accepted")


def _all_but_the_last_approval(world: World, agreement: Agreement) -> None:
    """Every approval except the provider Business Owner's, which the row gives."""
    for task in world.open_tasks(agreement, "approval"):
        if (task.side, task.role) != (P, Role.BUSINESS_OWNER):
            world.complete(task, "approved")


def _gap_analysis_done(world: World, agreement: Agreement) -> None:
    world.resolve_all_gaps(agreement)
    for kind in ("confirm_requirements", "confirm_capabilities", "lcce_review"):
        world.complete_all(agreement, kind, "done")


def _back_in_approval(world: World, agreement: Agreement) -> None:
    world.complete_all(agreement, "rework", "done")
    world.to_approval(agreement)


def _revision_in_approval(world: World, agreement: Agreement) -> None:
    assert agreement.id is not None
    commands.start_revision(
        world.session,
        actor=world.who(C, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,
        now=world.tick(),
    )
    world.to_approval(agreement, number=2)
    _all_but_the_last_approval(world, agreement)


def _sponsor_decided(outcome: str) -> Callable[[World, Agreement], None]:
    def decide(world: World, agreement: Agreement) -> None:
        actor = world.who(C, Role.EXECUTIVE_SPONSOR)
        (task,) = (t for t in world.open_tasks(agreement, "dispute_decision") if t.side == C)
        world.complete(task, outcome, by=actor, comment="the customer Sponsor's view")

    return decide


GIVEN: dict[str, Callable[[World, Agreement], None]] = {
    "customer Sponsor upheld": _sponsor_decided("upheld"),
    "customer Sponsor sustained": _sponsor_decided("sustained"),
    "customer review accepted": lambda w, a: _complete_one(w, a, "review", C, Role.FUNCTIONAL_LEAD),
    "gaps resolved and gap-analysis tasks done": _gap_analysis_done,
    "every other approval given": _all_but_the_last_approval,
    "customer Business Owner approved": lambda w, a: _complete_one(
        w, a, "approval", C, Role.BUSINESS_OWNER
    ),
    "back in approval": _back_in_approval,
    "revision 2 in approval, every other approval given": _revision_in_approval,
}


def _comment(path: Path, row: Row) -> str | None:
    """A comment where the spec asks for one (a guard, or the outcome the row completes with)."""
    needed = "has_comment" in path.machine.transition(row.event).guards
    if row.via:
        kind, outcome = row.via.split(":")
        chosen = path.machine.task_kind(kind).outcome(outcome)
        needed = needed or (chosen is not None and chosen.comment_required)
    return "as the scenario says" if needed else None


def _act(world: World, agreement: Agreement, path: Path, row: Row) -> None:
    assert agreement.id is not None
    comment = _comment(path, row)
    if row.by is None:
        assert row.event == "expire", "the only event a job fires by itself"
        world.now = AFTER_THE_PERIOD_OF_PERFORMANCE
        commands.run_calendar(world.session, now=world.now)
    elif row.via:
        kind, outcome = row.via.split(":")
        actor = world.who(*row.by)
        (task,) = (t for t in world.open_tasks(agreement, kind) if t.assignee_id == actor.user_id)
        world.complete(task, outcome, by=actor, comment=comment)
    elif path.machine is LIFECYCLE:
        world.fire(agreement, row.event, world.who(*row.by), row.version, comment=comment)
    else:
        commands.fire_period_event(
            world.session,
            actor=world.who(*row.by),
            agreement_id=agreement.id,
            period=PERIOD,
            event=row.event,
            now=world.tick(),
            comment=comment,
            disputes=DISPUTES if row.event == "dispute" else None,
            exceptions=DISPUTES if row.event == "accept_with_exceptions" else None,
        )


def _state(world: World, agreement: Agreement, path: Path, row: Row) -> str:
    world.session.rollback()
    if path.machine is LIFECYCLE:
        return world.version(agreement, row.version).state
    return world.session.exec(
        select(ReportingPeriod.state).where(
            ReportingPeriod.agreement_id == agreement.id, ReportingPeriod.period == PERIOD
        )
    ).one()


def _last_ids(session: Session) -> tuple[int, int]:
    session.rollback()
    task = session.exec(select(Task.id).order_by(col(Task.id).desc())).first()
    message = session.exec(select(OutboxMessage.id).order_by(col(OutboxMessage.id).desc())).first()
    return task or 0, message or 0


def _since(session: Session, last: tuple[int, int]) -> tuple[list[Opened], list[str]]:
    """The tasks opened and the emails queued after `last` (ids as `_last_ids` gave them)."""
    session.rollback()
    tasks = session.exec(select(Task.kind, Task.side, Task.role).where(col(Task.id) > last[0]))
    topics = session.exec(select(OutboxMessage.topic).where(col(OutboxMessage.id) > last[1]))
    opened = sorted((kind, Side(side), Role(role)) for kind, side, role in tasks)
    return opened, sorted(topics)


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_every_row_does_what_the_table_says(session: Session, path: Path) -> None:
    world = make_world(session)
    agreement = START[path.start](world)
    for number, row in enumerate(path.rows, 1):
        if row.given:
            GIVEN[row.given](world, agreement)
        assert _state(world, agreement, path, row) == row.source, f"row {number}: {row.event}"
        last = _last_ids(session)
        _act(world, agreement, path, row)
        seen = (_state(world, agreement, path, row), *_since(session, last))
        expected = (row.dest, sorted(row.opens), sorted(row.emails))
        assert seen == expected, f"row {number}: {row.event}"


def test_the_rows_cover_every_transition_of_both_machines() -> None:
    for machine in (LIFECYCLE, REPORTING):
        rows = [r for p in PATHS if p.machine is machine for r in p.rows]
        covered = {r.event for r in rows} | {r.then for r in rows if r.then}
        assert covered == {t.event for t in machine.transitions}, machine.name


def test_the_rows_agree_with_the_spec() -> None:
    """Sources, destinations and actors as the spec allows; the driver needs no other rule."""
    for path in PATHS:
        assert path.start in START
        for row in path.rows:
            t = path.machine.transition(row.event)
            last = path.machine.transition(row.then) if row.then else t
            assert row.source in t.sources, row
            assert row.dest == last.dest, row
            assert not row.given or row.given in GIVEN, row
            if t.fired_by is FiredBy.ROLES:
                assert row.by is not None, row
                assert row.by[1] in t.roles, row
            if row.via:
                kind, outcome = row.via.split(":")
                assert path.machine.task_kind(kind).outcome(outcome) is not None, row
            if t.fired_by is FiredBy.SYSTEM and row.by is not None:
                assert row.via, f"{row.event} is automatic: the row names the task that fires it"


def test_every_guard_says_what_it_needs_in_the_readme() -> None:
    assert set(GUARD_SUMMARY) == set(LIFECYCLE.guards) | set(REPORTING.guards)


def test_the_readme_shows_the_generated_event_tables() -> None:
    text = README.read_text()
    for machine in (LIFECYCLE, REPORTING):
        assert markdown(machine) in text, (
            f"README.md's {machine.name} event table is not the generated one; "
            "run `python -m tests.workflow.scenarios --markdown` and paste it"
        )
