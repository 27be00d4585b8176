"""Random commands by random people against the lifecycle, on both databases.

Hypothesis fires lifecycle events (system ones too, which must be refused), completes tasks
with random outcomes, edits drafts with fresh or stale lock_versions, resolves gaps, starts
revisions, delegates and lets the scheduler expire the agreement, as stakeholders of either
side, their delegates, a colleague without a role and a stranger. Each command is checked
against the reference model (tests/workflow/lifecycle_model.py): a predicted refusal must be
that refusal and change nothing (row counts, states, lock_versions, tasks, gaps); a success
must be a legal move of the spec. After every step: the model agrees with the database; at
most one active version; open tasks only in the states that open them; approvals bound to the
content hash, nobody approving twice, no editor approving for their own side; every fact
announced exactly once in the outbox; the audit chain verifies.

Bounded for `make test` (25 examples of up to 30 steps, derandomised); set
ACCORD_STATEFUL_EXAMPLES / ACCORD_STATEFUL_STEPS for a longer, random nightly run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from states import LIFECYCLE, Role, Side
from tests.helpers import C, P, World, make_world
from tests.workflow.lifecycle_model import (
    KINDS,
    MAY,
    OPENED_IN,
    Model,
    Prediction,
    Refuse,
    approvals_keep_their_rules,
    check_moves,
    open_tasks_belong_to_their_state,
    outbox_problems,
    snapshot,
    version_states,
)
from tests.workflow.stateful_db import (
    COLLEAGUES,
    STRANGER,
    Seed,
    Who,
    clear,
    seed_people,
    without_fsync,
)
from workflow import audit, commands
from workflow.errors import DomainError, Forbidden, NotAllowedNow
from workflow.guards import APPROVING_OUTCOMES
from workflow.models import AgreementVersion, Gap, Task

EXAMPLES = int(os.environ.get("ACCORD_STATEFUL_EXAMPLES", "25"))
STEPS = int(os.environ.get("ACCORD_STATEFUL_STEPS", "30"))
NIGHTLY = "ACCORD_STATEFUL_EXAMPLES" in os.environ or "ACCORD_STATEFUL_STEPS" in os.environ

STAKEHOLDERS: list[tuple[Side, Role]] = [(side, role) for side in Side for role in Role]
PEOPLE: list[Who] = [*STAKEHOLDERS, STRANGER, *COLLEAGUES.values()]
APPROVERS: list[Who] = [(s, r) for s in Side for r in (Role.BUSINESS_OWNER, Role.EXECUTIVE_SPONSOR)]
EVENTS = [t.event for t in LIFECYCLE.transitions]
OUTCOMES = sorted({o for outcomes in KINDS.values() for o in outcomes} | {"shrugged"})
AFTER_THE_PERIOD = datetime(2027, 10, 4, 14, 0, tzinfo=UTC)  # the example ends 2027-09-30
COSTS = ["4850000.00", "4900000.00", "6000000.00"]

# Summed over every example of a run, for the report and the run's own sanity checks.
STATS: Counter[str] = Counter()
REACHED: set[str] = set()


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self, seed: Seed) -> None:
        super().__init__()
        clear(seed.engine)
        self.engine = seed.engine
        self.session = Session(self.engine, expire_on_commit=False)
        self.world = World(session=self.session, parties=seed.parties, document=seed.document)
        self.world.step = timedelta(seconds=10)
        agreement = self.world.create()
        assert agreement.id is not None
        self.agreement_id = agreement.id
        self.people = seed.people
        self.ended = False
        self.model = Model(
            holders={key: actor.user_id for key, actor in seed.parties.actors.items()}
        )
        STATS["examples"] += 1

    def teardown(self) -> None:
        self.session.close()

    @contextmanager
    def _reader(self) -> Iterator[Session]:
        """A short-lived session for looking: the commands' session stays lean (every command
        expires what it holds, so a long-lived identity map would slow each one down)."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    # Running one command against its prediction -------------------------------------------
    def _party(self, who: Who) -> bool:
        return who != STRANGER

    def _attempt(self, what: str, prediction: Prediction, command: Callable[[], Any]) -> bool:
        """Run `command`; a refusal must change nothing and match the prediction."""
        with self._reader() as reader:
            before = snapshot(reader)
        refusal: DomainError | None = None
        try:
            command()
        except DomainError as error:
            self.session.rollback()
            refusal = error
        finally:
            self.session.expunge_all()
        if refusal is None:
            STATS["accepted"] += 1
            assert not isinstance(prediction, Refuse), (
                f"{what} succeeded but must be refused: {prediction.why}"
            )
            return True
        STATS["refused"] += 1
        with self._reader() as reader:
            assert snapshot(reader) == before, f"{what} was refused but changed data"
        if isinstance(prediction, Refuse):
            assert isinstance(refusal, prediction.error), (
                f"{what}: expected {prediction.error.__name__} ({prediction.why}), "
                f"got {type(refusal).__name__}: {refusal.message}"
            )
        else:
            assert prediction == MAY, f"{what} must succeed but was refused: {refusal.message}"
            assert isinstance(refusal, (NotAllowedNow, Forbidden)), refusal
        return False

    def _number(self, pick: int) -> int:
        """An existing version, counted from the newest (pick 0)."""
        numbers = sorted(self.model.states, reverse=True)
        return numbers[pick % len(numbers)]

    def _tasks(self) -> list[Task]:
        with self._reader() as reader:
            return list(
                reader.exec(
                    select(Task)
                    .where(Task.agreement_id == self.agreement_id)
                    .order_by(col(Task.id))
                ).all()
            )

    def _states(self) -> dict[int, str]:
        with self._reader() as reader:
            return version_states(reader, self.agreement_id)

    def _comment(self, give: bool) -> str | None:
        return "because the numbers say so" if give else None

    # Commands -----------------------------------------------------------------------------
    def fire(self, who: Who, number: int, event: str, comment: bool) -> None:
        actor = self.people[who]
        prediction = self.model.fire(
            actor.user_id, self._party(who), number, event, comment, self._tasks()
        )
        before = dict(self.model.states)
        done = self._attempt(
            f"{who} fires {event} on v{number}",
            prediction,
            lambda: commands.fire_event(
                self.session,
                actor=actor,
                agreement_id=self.agreement_id,
                number=number,
                event=event,
                comment=self._comment(comment),
                now=self.world.tick(),
            ),
        )
        if done:
            after = self._states()
            assert after[number] == LIFECYCLE.transition(event).dest
            check_moves(before, after, self.model.legal_moves(event))
            self.model.states = after

    def complete(self, who: Who, task: Task, outcome: str, comment: bool) -> None:
        actor = self.people[who]
        prediction = self.model.complete(actor.user_id, self._party(who), task, outcome, comment)
        before = dict(self.model.states)
        assert task.id is not None
        task_id = task.id
        done = self._attempt(
            f"{who} completes {task.kind} task {task_id} as {outcome}",
            prediction,
            lambda: commands.complete_task(
                self.session,
                actor=actor,
                task_id=task_id,
                outcome=outcome,
                comment=self._comment(comment),
                now=self.world.tick(),
            ),
        )
        if done:
            self._after_completion(task, outcome, before)

    def _after_completion(self, task: Task, outcome: str, before: dict[int, str]) -> None:
        after = self._states()
        number = self._version_number(task.version_id)
        fires = LIFECYCLE.task_kind(task.kind).outcome(outcome)
        event = fires.fires if fires is not None else None
        allowed = self.model.legal_moves(event) if event else set()
        if event == "activate":
            allowed |= self.model.legal_moves("supersede")
        check_moves(before, after, allowed)
        if event is not None and before[number] in LIFECYCLE.transition(event).sources:
            moved = after[number] == LIFECYCLE.transition(event).dest
            assert moved == self._should_move(number, event), (
                f"{task.kind} {outcome}: v{number} {before[number]} -> {after[number]}"
            )
        self.model.states = after

    def _should_move(self, number: int, event: str) -> bool:
        """Whether the event the outcome leads to had to happen (its guards now hold)."""
        version, current = self._current_tasks(number)
        if event == "complete_review":
            reviews = [t for t in current if t.kind == "review"]
            return bool(reviews) and all(t.outcome == "accepted" for t in reviews)
        if event == "activate":
            approvals = [t for t in current if t.kind == "approval"]
            return bool(approvals) and all(
                t.outcome in APPROVING_OUTCOMES and t.approved_content_hash == version.content_hash
                for t in approvals
            )
        return True  # request_changes and reject always move

    def _current_tasks(self, number: int) -> tuple[AgreementVersion, list[Task]]:
        with self._reader() as reader:
            version = reader.exec(
                select(AgreementVersion).where(
                    AgreementVersion.agreement_id == self.agreement_id,
                    AgreementVersion.number == number,
                )
            ).one()
            tasks = reader.exec(
                select(Task).where(
                    Task.version_id == version.id,
                    Task.cycle == version.cycle,
                    Task.state != "cancelled",
                )
            ).all()
            return version, list(tasks)

    def _version_number(self, version_id: int | None) -> int:
        with self._reader() as reader:
            return reader.exec(
                select(AgreementVersion.number).where(AgreementVersion.id == version_id)
            ).one()

    def edit(self, who: Who, number: int, stale: bool, cost: str) -> None:
        actor = self.people[who]
        version, _ = self._current_tasks(number)
        lock = version.lock_version - (1 if stale else 0)
        done = self._attempt(
            f"{who} edits v{number} ({'stale' if stale else 'fresh'})",
            self.model.edit(actor.user_id, self._party(who), number, stale),
            lambda: commands.edit_draft(
                self.session,
                actor=actor,
                agreement_id=self.agreement_id,
                number=number,
                expected_lock_version=lock,
                terms={"annual_cost": cost},
                now=self.world.tick(),
            ),
        )
        if done:
            edited, _ = self._current_tasks(number)
            assert edited.last_edited_by_id == actor.user_id
            # Readers holding the old lock_version must reload exactly when something changed.
            changed = (edited.content_hash, edited.last_edited_by_id) != (
                version.content_hash,
                version.last_edited_by_id,
            )
            assert (edited.lock_version > version.lock_version) == changed
            assert self._states() == self.model.states

    def start_revision(self, who: Who) -> None:
        actor = self.people[who]
        done = self._attempt(
            f"{who} starts a revision",
            self.model.start_revision(actor.user_id, self._party(who)),
            lambda: commands.start_revision(
                self.session, actor=actor, agreement_id=self.agreement_id, now=self.world.tick()
            ),
        )
        if done:
            after = self._states()
            newest = max(self.model.states) + 1
            assert after == {**self.model.states, newest: LIFECYCLE.initial}
            self.model.states = after

    def resolve(self, who: Who, gap: Gap) -> None:
        actor = self.people[who]
        assert gap.id is not None
        gap_id = gap.id
        number = self._version_number(gap.version_id)
        # Each side moves its own figure, which applies at once (another's is a proposal).
        customer = who == COLLEAGUES[C] or (isinstance(who, tuple) and who[0] is C)
        resolution = "customer_accepts" if customer else "provider_commits"
        self._attempt(
            f"{who} resolves gap {gap_id}",
            self.model.resolve(actor.user_id, self._party(who), number, gap.resolution is not None),
            lambda: commands.resolve_gap(
                self.session,
                actor=actor,
                gap_id=gap_id,
                resolution=resolution,
                note="capacity added",
                now=self.world.tick(),
            ),
        )
        assert self._states() == self.model.states

    # Rules --------------------------------------------------------------------------------
    @rule(
        who=st.sampled_from(PEOPLE),
        pick=st.integers(0, 3),
        event=st.sampled_from(EVENTS),
        comment=st.booleans(),
    )
    def fire_an_event(self, who: Who, pick: int, event: str, comment: bool) -> None:
        """Anyone fires anything at any version: mostly refusals."""
        STATS["steps"] += 1
        self.fire(who, self._number(pick), event, comment)

    @rule(pick=st.integers(0, 10_000), comment=st.booleans())
    def fire_an_offered_event(self, pick: int, comment: bool) -> None:
        """An event the newest version's state offers, by someone who holds a role it needs
        (or a task of the kind it completes), so that runs also take the less-trodden paths."""
        STATS["steps"] += 1
        number = max(self.model.states)
        offered = LIFECYCLE.events_from(self.model.states[number])
        if not offered:
            return
        transition = offered[pick % len(offered)]
        if transition.task_kind is not None:
            holders = [
                t.assignee_id
                for t in self._tasks()
                if t.kind == transition.task_kind and t.state == "open" and t.assignee_id
            ]
        else:
            holders = [u for (_s, r), u in self.model.holders.items() if r in transition.roles]
        who = self._holder(holders[pick % len(holders)], pick) if holders else (C, Role.PMO_TEAM)
        self.fire(who, number, transition.event, comment)

    @rule(
        pick=st.integers(0, 10_000),
        open_only=st.sampled_from([True, True, True, False]),
        by_assignee=st.booleans(),
        who=st.sampled_from(PEOPLE),
        valid=st.booleans(),
        outcome=st.sampled_from(OUTCOMES),
        comment=st.booleans(),
    )
    def complete_a_task(
        self,
        pick: int,
        open_only: bool,
        by_assignee: bool,
        who: Who,
        valid: bool,
        outcome: str,
        comment: bool,
    ) -> None:
        STATS["steps"] += 1
        tasks = [t for t in self._tasks() if t.state == "open" or not open_only]
        if not tasks:
            return
        task = tasks[pick % len(tasks)]
        if by_assignee and task.assignee_id is not None:
            who = self._holder(task.assignee_id, pick)
        if valid:
            outcomes = sorted(KINDS[task.kind])
            outcome = outcomes[pick % len(outcomes)]
        self.complete(who, task, outcome, comment)

    def _holder(self, user_id: int, pick: int) -> Who:
        """The assignee, or (on odd picks) one of their delegates if they have any."""
        delegates = [d for d, ds in self.model.delegators.items() if user_id in ds]
        if delegates and pick % 2:
            user_id = delegates[pick % len(delegates)]
        return next(k for k, a in self.people.items() if a.user_id == user_id)

    # Approvers edit often: an editor approving their own side is one of the rules to break.
    @rule(
        who=st.sampled_from(PEOPLE) | st.sampled_from(APPROVERS),
        pick=st.integers(0, 3),
        stale=st.booleans(),
        cost=st.sampled_from(COSTS),
    )
    def edit_a_draft(self, who: Who, pick: int, stale: bool, cost: str) -> None:
        STATS["steps"] += 1
        self.edit(who, self._number(pick), stale, cost)

    @rule(who=st.sampled_from([*PEOPLE, (C, Role.PROGRAM_MANAGER), (P, Role.BUSINESS_OWNER)]))
    def start_a_revision(self, who: Who) -> None:
        STATS["steps"] += 1
        self.start_revision(who)

    @rule(who=st.sampled_from(PEOPLE), pick=st.integers(0, 100))
    def resolve_a_gap(self, who: Who, pick: int) -> None:
        STATS["steps"] += 1
        with self._reader() as reader:
            gaps = reader.exec(select(Gap).order_by(col(Gap.id))).all()
        if gaps:
            self.resolve(who, gaps[pick % len(gaps)])

    @rule(delegator=st.sampled_from(STAKEHOLDERS), delegate=st.sampled_from([*Role, None]))
    def delegate(self, delegator: tuple[Side, Role], delegate: Role | None) -> None:
        """A stakeholder hands their tasks, for today, to a colleague of their organisation
        (`None`: the colleague without a role)."""
        STATS["steps"] += 1
        side = delegator[0]
        to: Who = COLLEAGUES[side] if delegate is None else (side, delegate)
        if to == delegator:
            return
        giver, taker = self.people[delegator], self.people[to]
        day = self.world.now.date()
        commands.create_delegation(
            self.session,
            actor=giver,
            delegate_id=taker.user_id,
            starts_on=day,
            ends_on=day,
            now=self.world.tick(),
        )
        self.model.delegators.setdefault(taker.user_id, set()).add(giver.user_id)

    @precondition(lambda self: "active" in self.model.states.values() and not self.ended)
    @rule(now=st.booleans())
    def the_period_of_performance_ends(self, now: bool) -> None:
        """Now and then (once per run at most) the scheduler runs after the period's end."""
        STATS["steps"] += 1
        if not now:
            return
        self.ended = True
        self.world.now = AFTER_THE_PERIOD
        self.model.delegators.clear()  # delegations were for one day, long past
        before = dict(self.model.states)
        report = commands.run_calendar(self.session, now=self.world.tick())
        self.session.expunge_all()
        after = self._states()
        assert [a.kind for a in report.actions] == ["expired"]
        assert after == {n: "expired" if s == "active" else s for n, s in before.items()}
        check_moves(before, after, self.model.legal_moves("expire"))
        self.model.states = after

    @rule(side=st.sampled_from(Side), sponsor_gives=st.booleans())
    def delegate_between_approvers(self, side: Side, sponsor_gives: bool) -> None:
        """One approver of a side hands their tasks to the other, who then holds two
        approvals: nobody may approve twice, not even through a delegation."""
        sponsor, owner = (side, Role.EXECUTIVE_SPONSOR), (side, Role.BUSINESS_OWNER)
        self.delegate(*((sponsor, owner[1]) if sponsor_gives else (owner, sponsor[1])))

    @rule(pick=st.integers(0, 10_000))
    def advance(self, pick: int) -> None:
        """The next step people would take on the newest version (approvals by the assignee
        or, on odd picks, their delegate), so that runs get deep."""
        STATS["steps"] += 1
        number = max(self.model.states)
        state = self.model.states[number]
        open_tasks = [t for t in self._tasks() if t.state == "open"]
        if state == "draft":
            self.fire((C, Role.PROGRAM_MANAGER), number, "submit_for_review", False)
        elif state in ("joint_review", "approval"):
            kind, outcome = (
                ("review", "accepted") if state == "joint_review" else ("approval", "approved")
            )
            for task in [t for t in open_tasks if t.kind == kind]:
                assert task.assignee_id is not None
                self.complete(self._holder(task.assignee_id, pick), task, outcome, False)
        elif state == "gap_analysis":
            version, _ = self._current_tasks(number)
            unresolved = select(Gap).where(
                Gap.version_id == version.id, col(Gap.resolution).is_(None)
            )
            with self._reader() as reader:
                gaps = reader.exec(unresolved).all()
            for gap in gaps:
                self.resolve((P, Role.PROGRAM_MANAGER), gap)
            for task in [t for t in open_tasks if t.kind in OPENED_IN["gap_analysis"]]:
                assert task.assignee_id is not None
                self.complete(self._holder(task.assignee_id, 0), task, "done", False)
            self.fire((P, Role.PROGRAM_MANAGER), number, "submit_for_approval", False)
        elif "active" in self.model.states.values():
            self.start_revision((C, Role.PROGRAM_MANAGER))

    # Invariants ---------------------------------------------------------------------------
    @invariant()
    def the_invariants_hold(self) -> None:
        """All of them, after every step, read in one session (one round of queries)."""
        with self._reader() as reader:
            states = version_states(reader, self.agreement_id)
            assert states == self.model.states, "the database left the reference model"
            assert list(states.values()).count("active") <= 1, states
            REACHED.update(states.values())
            open_tasks_belong_to_their_state(reader)
            approvals_keep_their_rules(reader, self.agreement_id)
            problems = outbox_problems(reader)
            assert problems == [], problems
            result = audit.verify(reader)
            assert result.ok, result.failures


@pytest.mark.timeout(1800 if NIGHTLY else 600)
def test_random_commands_keep_the_lifecycle_invariants(engine: Engine) -> None:
    STATS.clear()
    REACHED.clear()
    profile = settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        derandomize=not NIGHTLY,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    seed = seed_people(without_fsync(engine))
    # Any callable returning a machine will do (hypothesis's docs); its annotation says a class.
    machine = cast("type[RuleBasedStateMachine]", lambda: LifecycleMachine(seed))
    run_state_machine_as_test(machine, settings=profile)
    print(
        f"\n{engine.dialect.name}: {STATS['examples']} examples, {STATS['steps']} steps, "
        f"{STATS['accepted']} commands accepted, {STATS['refused']} refused; "
        f"states reached: {sorted(REACHED)}"
    )
    # The run explored the lifecycle rather than bouncing off refusals.
    assert STATS["steps"] >= EXAMPLES
    assert STATS["accepted"] > 0
    assert STATS["refused"] > 0
    assert {"joint_review", "gap_analysis", "approval", "active"} <= REACHED


def test_a_resubmitted_draft_closes_its_rework_task(session: Session) -> None:
    world = make_world(session)
    agreement = world.create()
    world.to_joint_review(agreement)
    review = world.open_tasks(agreement, "review")[0]
    world.complete(review, "changes_requested", comment="targets too low")
    assert [t.kind for t in world.open_tasks(agreement)] == ["rework"]
    world.to_active(agreement)
    assert world.version(agreement).state == "active"
    assert [t.kind for t in world.open_tasks(agreement)] == []
