"""Two people acting on the same version at once: exactly one wins, the other is told why."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from states import Role, Side
from tests.helpers import C, P, World, make_world
from workflow import audit, commands
from workflow.access import Actor
from workflow.errors import Conflict
from workflow.models import Agreement, AuditEvent, Task

Action = Callable[[Session], object]


def race(engine: Engine, first: Action, second: Action) -> list[object]:
    """Run both actions at the same moment on their own sessions; return result or error."""
    barrier = threading.Barrier(2, timeout=10)
    results: list[object] = [None, None]

    def run(index: int, action: Action) -> None:
        with Session(engine, expire_on_commit=False) as session:
            barrier.wait()
            try:
                results[index] = action(session)
            except Exception as exc:
                results[index] = exc

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a racer hung"
    return results


def one_winner(results: list[object]) -> object:
    """Exactly one success; the loser got a 409-class refusal, never anything else."""
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1, f"expected one winner, got {results!r}"
    assert isinstance(errors[0], Conflict), f"loser got {errors[0]!r}, not a 409 refusal"
    return next(r for r in results if not isinstance(r, Exception))


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def _in_approval(world: World) -> Agreement:
    agreement = world.create()
    world.to_approval(agreement)
    *others, _last = world.open_tasks(agreement, "approval")
    for task in others:
        world.complete(task, "approved")
    return agreement


def _audit_count(engine: Engine, agreement: Agreement) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).where(AuditEvent.agreement_id == agreement.id)).one()


def _chains_verify(engine: Engine) -> None:
    with Session(engine) as s:
        assert audit.verify(s).ok


def test_the_assignee_and_their_delegate_complete_the_last_approval_at_once(
    world: World, engine: Engine
) -> None:
    agreement = _in_approval(world)
    last = world.open_tasks(agreement, "approval")[0]
    owner = world.actor_by_id(last.assignee_id)
    colleague = next(
        a
        for (side, role), a in world.parties.actors.items()
        if side.value == last.side and role is Role.PMO_TEAM
    )
    commands.create_delegation(
        world.session,
        actor=owner,
        delegate_id=colleague.user_id,
        starts_on=world.now.date(),
        ends_on=world.now.date(),
        now=world.tick(),
    )
    now = world.tick()

    task_id = last.id
    assert task_id is not None

    def approve_as(actor: Actor) -> Action:
        return lambda s: commands.complete_task(
            s, actor=actor, task_id=task_id, outcome="approved", now=now
        )

    before = _audit_count(engine, agreement)
    one_winner(race(engine, approve_as(owner), approve_as(colleague)))
    assert world.version(agreement).state == "active"
    # One task.completed, one activation: nothing of the loser reached the trail.
    assert _audit_count(engine, agreement) == before + 2
    _chains_verify(engine)


def test_both_business_owners_approve_last_at_once_and_it_activates_once(
    world: World, engine: Engine
) -> None:
    agreement = world.create()
    world.to_approval(agreement)
    tasks = world.open_tasks(agreement, "approval")
    sponsors = [t for t in tasks if t.role == "executive_sponsor"]
    owners = [t for t in tasks if t.role == "business_owner"]
    for task in sponsors:
        world.complete(task, "approved")
    now = world.tick()
    results = race(
        engine,
        *(
            lambda s, t=t: commands.complete_task(
                s,
                actor=world.actor_by_id(t.assignee_id),
                task_id=t.id,
                outcome="approved",
                now=now,
            )
            for t in owners
        ),
    )
    assert not any(isinstance(r, Exception) for r in results), results
    assert world.version(agreement).state == "active"
    with Session(engine) as s:
        activations = s.exec(
            select(func.count()).where(
                AuditEvent.agreement_id == agreement.id, AuditEvent.action == "version.activate"
            )
        ).one()
    assert activations == 1
    _chains_verify(engine)


def test_approve_races_withdraw(world: World, engine: Engine) -> None:
    agreement = _in_approval(world)
    last = world.open_tasks(agreement, "approval")[0]
    now = world.tick()
    winner = one_winner(
        race(
            engine,
            lambda s: commands.complete_task(
                s,
                actor=world.actor_by_id(last.assignee_id),
                task_id=last.id,  # type: ignore[arg-type]
                outcome="approved",
                now=now,
            ),
            lambda s: commands.fire_event(
                s,
                actor=world.who(C, Role.PROGRAM_MANAGER),
                agreement_id=agreement.id,  # type: ignore[arg-type]
                number=1,
                event="withdraw",
                comment="plans changed",
                now=now,
            ),
        )
    )
    expected = "active" if isinstance(winner, Task) else "withdrawn"
    assert world.version(agreement).state == expected
    _chains_verify(engine)


def test_approve_races_an_edit_made_from_what_the_editor_last_read(
    world: World, engine: Engine
) -> None:
    agreement = world.create()
    world.to_approval(agreement)
    read_lock_version = world.version(agreement).lock_version  # the editor's stale view
    *others, _last = world.open_tasks(agreement, "approval")
    for task in others[:-1]:
        world.complete(task, "approved")
    reject_task = others[-1]
    now = world.tick()
    one_winner(
        race(
            engine,
            lambda s: commands.complete_task(
                s,
                actor=world.actor_by_id(reject_task.assignee_id),
                task_id=reject_task.id,  # type: ignore[arg-type]
                outcome="rejected",
                comment="too costly",
                now=now,
            ),
            lambda s: commands.edit_draft(
                s,
                actor=world.who(P, Role.TECHNICAL_LEAD),
                agreement_id=agreement.id,  # type: ignore[arg-type]
                number=1,
                expected_lock_version=read_lock_version,
                terms={"payment_terms": "Net 45"},
                now=now,
            ),
        )
    )
    assert world.version(agreement).state == "draft"
    assert world.version(agreement).terms["payment_terms"] != "Net 45"
    _chains_verify(engine)


def test_two_edits_with_the_same_lock_version(world: World, engine: Engine) -> None:
    agreement = world.create()
    read_lock_version = world.version(agreement).lock_version
    now = world.now + timedelta(minutes=5)

    def edit(actor_role: tuple[Side, Role], terms: dict[str, str]) -> Action:
        side, role = actor_role
        return lambda s: commands.edit_draft(
            s,
            actor=world.who(side, role),
            agreement_id=agreement.id,  # type: ignore[arg-type]
            number=1,
            expected_lock_version=read_lock_version,
            terms=terms,
            now=now,
        )

    winner = one_winner(
        race(
            engine,
            edit((C, Role.FUNCTIONAL_LEAD), {"payment_terms": "Net 15"}),
            edit((P, Role.TECHNICAL_LEAD), {"payment_terms": "Net 60"}),
        )
    )
    version = world.version(agreement)
    assert version.lock_version == read_lock_version + 1
    assert version.terms["payment_terms"] == winner.terms["payment_terms"]  # type: ignore[attr-defined]
    _chains_verify(engine)
