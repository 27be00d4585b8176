"""A small reference model of the version lifecycle (states/lifecycle.py), and what the
database must look like whatever commands were fired: the stateful test's oracle.

The model knows who holds which role (and who delegated to whom) and each version's state.
For a command it predicts either one refusal (`Refuse`) or that it must succeed (`MUST`), or
leaves it open (`MAY`) where the outcome hangs on guards it does not track (gaps, segregation
of duties); every change the database then shows must be a legal move of the spec.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from states import FOLLOW_UP, LIFECYCLE, FiredBy, Role, Side
from workflow.errors import Conflict, DomainError, Forbidden, InvalidInput, NotAllowedNow, NotFound
from workflow.guards import APPROVING_OUTCOMES
from workflow.models import (
    Agreement,
    AgreementVersion,
    AuditEvent,
    Gap,
    OutboxMessage,
    Task,
    User,
)

Holder = tuple[Side, Role]


@dataclass(frozen=True)
class Refuse:
    """The command must be refused with this error (or a subclass)."""

    error: type[DomainError]
    why: str


MUST, MAY = "must succeed", "may succeed"
Prediction = Refuse | str

# Kinds of task each state opens (the transitions into it, plus follow-ups on activation).
OPENED_IN: dict[str, set[str]] = {}
for _t in LIFECYCLE.transitions:
    OPENED_IN.setdefault(_t.dest, set()).update(tpl.kind for tpl in _t.opens)
OPENED_IN.setdefault("active", set()).add(FOLLOW_UP.kind)
KINDS = {kind.name: {o.name for o in kind.outcomes} for kind in LIFECYCLE.task_kinds}


@dataclass
class Model:
    holders: dict[Holder, int]  # the agreement's role assignments
    states: dict[int, str] = field(default_factory=lambda: {1: LIFECYCLE.initial})
    delegators: dict[int, set[int]] = field(default_factory=dict)  # delegate -> delegators

    def roles_of(self, user_id: int) -> set[Role]:
        people = {user_id, *self.delegators.get(user_id, set())}
        return {role for (_side, role), holder in self.holders.items() if holder in people}

    def acts_for(self, user_id: int, assignee_id: int | None) -> bool:
        return assignee_id == user_id or assignee_id in self.delegators.get(user_id, set())

    def in_progress(self) -> bool:
        return any(LIFECYCLE.state(s).in_progress for s in self.states.values())

    def fire(
        self, user_id: int, party: bool, number: int, event: str, comment: bool, tasks: list[Task]
    ) -> Prediction:
        if not party:
            return Refuse(NotFound, "a stranger's organisation is not party to the agreement")
        transition = LIFECYCLE.transition(event)
        if self.states[number] not in transition.sources:
            return Refuse(NotAllowedNow, f"{event} is not offered in {self.states[number]}")
        if transition.fired_by is FiredBy.SYSTEM:
            return Refuse(Forbidden, f"{event} is automatic")
        if transition.fired_by is FiredBy.TASK_ASSIGNEE:
            holds = any(
                t.kind == transition.task_kind
                and t.state == "open"
                and self.acts_for(user_id, t.assignee_id)
                for t in tasks
            )
            if not holds:
                return Refuse(Forbidden, f"holds no open {transition.task_kind} task")
            return MUST if comment else Refuse(InvalidInput, "the outcome needs a comment")
        if not self.roles_of(user_id) & set(transition.roles):
            return Refuse(Forbidden, f"{event} needs {transition.roles}")
        if "has_comment" in transition.guards and not comment:
            return Refuse(NotAllowedNow, "a comment is required")
        return MAY if event == "submit_for_approval" else MUST

    def complete(
        self, user_id: int, party: bool, task: Task, outcome: str, comment: bool
    ) -> Prediction:
        if not party:
            return Refuse(NotFound, "a stranger's organisation is not party to the agreement")
        if task.state != "open":
            return Refuse(NotAllowedNow, f"the task is {task.state}")
        if not self.acts_for(user_id, task.assignee_id):
            return Refuse(Forbidden, "neither the assignee nor their delegate")
        if outcome not in KINDS[task.kind]:
            return Refuse(InvalidInput, f"{outcome} is not an outcome of {task.kind}")
        kind = LIFECYCLE.task_kind(task.kind)
        if next(o for o in kind.outcomes if o.name == outcome).comment_required and not comment:
            return Refuse(InvalidInput, f"{outcome} needs a comment")
        # Approving may meet segregation of duties, which the model leaves to the product.
        return MAY if outcome in APPROVING_OUTCOMES else MUST

    def edit(self, user_id: int, party: bool, number: int, stale: bool) -> Prediction:
        if not party:
            return Refuse(NotFound, "a stranger's organisation is not party to the agreement")
        if not self.roles_of(user_id):
            return Refuse(Forbidden, "holds no role in the agreement")
        if self.states[number] != "draft":
            return Refuse(NotAllowedNow, f"version {number} is {self.states[number]}")
        return Refuse(Conflict, "a stale lock_version") if stale else MUST

    def start_revision(self, user_id: int, party: bool) -> Prediction:
        if not party:
            return Refuse(NotFound, "a stranger's organisation is not party to the agreement")
        if not self.roles_of(user_id) & {Role.PROGRAM_MANAGER, Role.BUSINESS_OWNER}:
            return Refuse(Forbidden, "start_revision needs a Program Manager or Business Owner")
        if "active" not in self.states.values():
            return Refuse(Conflict, "no active version")
        if self.in_progress():
            return Refuse(Conflict, "a version is in progress")
        return MUST

    def resolve(self, user_id: int, party: bool, number: int, resolved: bool) -> Prediction:
        if not party:
            return Refuse(NotFound, "a stranger's organisation is not party to the agreement")
        if not self.roles_of(user_id) & set(LIFECYCLE.action("manage_gaps").roles):
            return Refuse(Forbidden, "manage_gaps needs another role")
        if self.states[number] != "gap_analysis":
            return Refuse(NotAllowedNow, f"version {number} is {self.states[number]}")
        return Refuse(NotAllowedNow, "already resolved") if resolved else MUST

    def legal_moves(self, event: str) -> set[tuple[str, str]]:
        transition = LIFECYCLE.transition(event)
        return {(source, transition.dest) for source in transition.sources}


def check_moves(
    before: dict[int, str], after: dict[int, str], allowed: set[tuple[str, str]]
) -> None:
    """Every version whose state changed moved along one of `allowed` (source, dest) pairs."""
    for number, state in after.items():
        old = before.get(number)
        if old is None:
            assert state == LIFECYCLE.initial, f"version {number} was born {state}"
        elif old != state:
            assert (old, state) in allowed, f"version {number} moved {old} -> {state}"


# What the database holds -------------------------------------------------------------------
def _snapshot_statements() -> tuple[Any, ...]:
    """Built once: building them (a subquery per table) cost more than running them."""
    tables = SQLModel.metadata.sorted_tables
    counts = sa.select(
        *(sa.select(sa.func.count()).select_from(t).scalar_subquery() for t in tables)
    )
    versions = sa.select(
        col(AgreementVersion.id),
        col(AgreementVersion.state),
        col(AgreementVersion.lock_version),
        col(AgreementVersion.content_hash),
        col(AgreementVersion.cycle),
    ).order_by(col(AgreementVersion.id))
    tasks = sa.select(
        col(Task.id),
        col(Task.state),
        col(Task.outcome),
        col(Task.assignee_id),
        col(Task.lock_version),
    ).order_by(col(Task.id))
    gaps = sa.select(col(Gap.id), col(Gap.resolution)).order_by(col(Gap.id))
    return counts, versions, tasks, gaps


_SNAPSHOT = _snapshot_statements()


def snapshot(session: Session) -> tuple[Any, ...]:
    """Everything a refused command must leave alone: row counts of every table, and each
    version's, task's and gap's mutable fields."""
    session.rollback()
    counts, *rows = _SNAPSHOT
    taken = (tuple(session.execute(counts).one()), *(tuple(session.execute(s).all()) for s in rows))
    session.rollback()
    return taken


def version_states(session: Session, agreement_id: int) -> dict[int, str]:
    session.rollback()
    rows = session.exec(
        select(AgreementVersion.number, AgreementVersion.state).where(
            AgreementVersion.agreement_id == agreement_id
        )
    ).all()
    return dict(rows)


def outbox_problems(session: Session) -> list[str]:
    """Each fact announced exactly once: a message per transition, per task, per approval."""
    problems = []
    rows = session.exec(select(OutboxMessage)).all()
    keys = Counter(r.dedupe_key for r in rows)
    problems += [f"dedupe key {k} stored {n} times" for k, n in keys.items() if n > 1]
    for r in rows:
        users = r.recipients.get("user_ids", [])
        if len(users) != len(set(users)):
            problems.append(f"message {r.id} names a recipient twice: {users}")
    assigned = Counter(r.payload["task"]["id"] for r in rows if r.topic == "task.assigned")
    tasks = session.exec(select(Task.id)).all()
    problems += [f"task {t} announced {assigned[t]} times" for t in tasks if assigned[t] != 1]
    approving = session.exec(
        select(func_count()).where(col(Task.outcome).in_(APPROVING_OUTCOMES))
    ).one()
    announced = sum(1 for r in rows if r.topic in {f"version.{o}" for o in APPROVING_OUTCOMES})
    if announced != approving:
        problems.append(f"{approving} approvals given but {announced} announced")
    told = Counter(
        (r.payload["version"]["id"], r.payload["event"]) for r in rows if "event" in r.payload
    )
    audited = Counter(
        (e.version_id, e.action.removeprefix("version."))
        for e in session.exec(select(AuditEvent)).all()
        if e.action.removeprefix("version.") in {t.event for t in LIFECYCLE.transitions}
    )
    if told != audited:
        problems.append(f"transitions audited {dict(audited)} but announced {dict(told)}")
    session.rollback()
    return problems


def func_count() -> Any:
    return sa.func.count(col(Task.id))


def open_tasks_belong_to_their_state(reader: Session) -> None:
    rows = reader.exec(
        select(Task.id, Task.kind, AgreementVersion.state)
        .join(AgreementVersion, col(AgreementVersion.id) == Task.version_id)
        .where(Task.state == "open")
    ).all()
    for task_id, kind, state in rows:
        assert kind in OPENED_IN.get(state, set()), (
            f"task {task_id}: an open {kind} task on a version in {state}"
        )


def approvals_keep_their_rules(reader: Session, agreement_id: int) -> None:
    """On a version in approval or active: every approval given names the current content
    hash; no person approved twice (not even as a delegate), so the two sides' approvals come
    from different people; the last editor approved nothing for their own side; and an active
    version's current approvals were all given."""
    agreement = reader.get_one(Agreement, agreement_id)
    versions = reader.exec(
        select(AgreementVersion).where(
            AgreementVersion.agreement_id == agreement_id,
            col(AgreementVersion.state).in_(("approval", "active")),
        )
    ).all()
    for version in versions:
        approvals = reader.exec(
            select(Task).where(
                Task.version_id == version.id,
                Task.kind == "approval",
                Task.cycle == version.cycle,
                Task.state != "cancelled",
            )
        ).all()
        given = [t for t in approvals if t.outcome in APPROVING_OUTCOMES]
        for task in given:
            assert task.approved_content_hash == version.content_hash, task
        people = [p for t in given for p in (t.completed_by_id, t.on_behalf_of_id) if p]
        assert len(people) == len(set(people)), f"someone approved v{version.number} twice"
        editor = reader.get(User, version.last_edited_by_id) if version.last_edited_by_id else None
        if editor is not None and not agreement.allow_editor_approval:
            side = agreement.side_of_org(editor.organization_id)
            assert not [
                t
                for t in given
                if t.side == side and editor.id in (t.completed_by_id, t.on_behalf_of_id)
            ], f"the last editor of v{version.number} approved it for their own side"
        if version.state == "active":
            assert len(approvals) >= 2
            assert len(given) == len(approvals), approvals
