"""The reminder and escalation sweep: every open task's due steps, each sent exactly once.

What "due" means (docs/time.md has the worked examples):

- Days are local to the business time zone (`workflow.calendar.BUSINESS_TIME_ZONE`), counted on
  the task side's holiday calendar. A task is due by the end of its `due_on` day; a step dated D
  (a reminder 2 business days before, on the due date, every 2 business days overdue; an
  escalation 3 or 10 business days overdue) falls due at 00:00 local time on D. A sweep at
  23:30 local on the day before sends nothing for D, even when UTC is already on D.
- Catching up: a sweep that runs late (the scheduler was down for days) sends only the newest
  reminder step that is due, never a burst of stale ones, plus every escalation that is due and
  not yet sent. Skipped reminder steps are never sent later: each step goes out at most once,
  and every step whose day a sweep sees goes out exactly once.
- Steps dated before the task was opened (local day) are not sent, and a task never escalates
  to its own role (a Program Manager's rework task does not escalate to that Program Manager).

Exactly once, however often, however late and however many processes sweep: the outbox
dedupe key (`reminder:{task}:{step}`, `escalation:{task}:{role}`) is the guard. Rows are inserted
`ON CONFLICT DO NOTHING RETURNING`, and the audit event is appended only for rows this
transaction inserted, in the same transaction.

Cost: a sweep reads only the open tasks whose stored next step has come or was never computed
(`workflow.next_steps`; a tick with nothing due reads no task), in keyset pages without locks;
the due steps are computed once per distinct (due date, calendar, opening day) and the page's
keys are checked against the outbox in one query. Each page is written in one transaction:
`BEGIN IMMEDIATE` on SQLite; on PostgreSQL the page first locks the audit chain heads it will
append to (in chain order, as commands lock one head), then claims its tasks `FOR UPDATE SKIP
LOCKED` and re-checks they are still open; it stores every claimed task's next moment with its
messages. Holding task locks, it never waits for anything, so it cannot deadlock with a command
that holds a chain head and is about to close one of those tasks; a task another transaction
holds is left for the next sweep (`deferred`).
"""

from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

from states import LIFECYCLE, ReminderPolicy, Role, Side
from workflow import audit
from workflow.calendar import BUSINESS_TIME_ZONE, business_days_between, local_date
from workflow.command import command
from workflow.models import (
    Agreement,
    AgreementVersion,
    Organization,
    OutboxMessage,
    StakeholderAssignment,
    Task,
    User,
)
from workflow.next_steps import (
    basis_fingerprint,
    due_pages,
    ensure_basis,
    next_step_at,
    next_step_on,
    store_next_steps,
)
from workflow.outbox import existing_keys, insert_once
from workflow.payloads import ShapeChecks
from workflow.reminder_messages import Holder, escalation_row, reminder_row, role_holders
from workflow.reminders import DueStep, due_steps

REMINDED_ACTION = "task.reminded"
ESCALATED_ACTION = "task.escalated"
DEFAULT_BATCH = 1000

_T: sa.Table = Task.__table__  # type: ignore[attr-defined]
_A: sa.Table = Agreement.__table__  # type: ignore[attr-defined]
_V: sa.Table = AgreementVersion.__table__  # type: ignore[attr-defined]
_O: sa.Table = OutboxMessage.__table__  # type: ignore[attr-defined]
_S: sa.Table = StakeholderAssignment.__table__  # type: ignore[attr-defined]
_U: sa.Table = User.__table__  # type: ignore[attr-defined]
_ORG: sa.Table = Organization.__table__  # type: ignore[attr-defined]


def reminder_key(task_id: int, step: str) -> str:
    return f"reminder:{task_id}:{step}"


def escalation_key(task_id: int, role: str) -> str:
    return f"escalation:{task_id}:{role}"


# ---- reading and claiming tasks -------------------------------------------------------------

_CUSTOMER_ORG, _PROVIDER_ORG = _ORG.alias("customer_org"), _ORG.alias("provider_org")

# The tasks of a page, still open, claimed: what their messages say, and again what their
# next step depends on (it must match what the page read to store the computed moment).
_CLAIM = (
    sa.select(
        _T.c.id,
        _T.c.created_at,
        sa.cast(_T.c.escalation_roles, sa.Text).label("escalation_roles"),
        _CUSTOMER_ORG.c.holiday_calendar.label("customer_calendar"),
        _PROVIDER_ORG.c.holiday_calendar.label("provider_calendar"),
        _T.c.kind,
        _T.c.title,
        _T.c.side,
        _T.c.role,
        _T.c.due_on,
        _T.c.assignee_id,
        _T.c.agreement_id,
        _T.c.version_id,
        _A.c.key.label("agreement_key"),
        _A.c.title.label("agreement_title"),
        _V.c.number.label("version_number"),
        _V.c.modification_number,
        _V.c.state.label("version_state"),
    )
    .select_from(
        _T.join(_A, _A.c.id == _T.c.agreement_id)
        .join(_CUSTOMER_ORG, _CUSTOMER_ORG.c.id == _A.c.customer_org_id)
        .join(_PROVIDER_ORG, _PROVIDER_ORG.c.id == _A.c.provider_org_id)
        .outerjoin(_V, _V.c.id == _T.c.version_id)
    )
    .where(_T.c.id.in_(sa.bindparam("ids", expanding=True)), _T.c.state == "open")
    .order_by(_T.c.id)
)
_CLAIM_LOCKED = _CLAIM.with_for_update(of=_T, skip_locked=True)
# The claimed rows as named tuples: each message reads a dozen of their columns, and a
# SQLAlchemy Row's attribute access costs microseconds where a named tuple's costs nanoseconds.
_Claimed = namedtuple("_Claimed", list(_CLAIM.selected_columns.keys()))  # type: ignore[misc]
_claimed: Callable[[sa.Row[Any]], Any] = _Claimed._make

# ---- the sweep ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    task_id: int
    agreement_key: str
    kind: str  # "reminder" | "escalation"
    step: str  # the reminder slot, or the role escalated to
    due_on: date


@dataclass
class SweepReport:
    """What one sweep did; `sent` lists only the messages this sweep wrote."""

    today: date
    tasks_scanned: int = 0  # tasks read: their next step had come, or was not computed
    sent: list[Sent] = field(default_factory=list)
    already_sent: int = 0  # due steps found in the outbox (an earlier or concurrent sweep)
    deferred: int = 0  # tasks another transaction held; the next sweep takes them
    transactions: int = 0

    @property
    def reminders(self) -> list[Sent]:
        return [s for s in self.sent if s.kind == "reminder"]

    @property
    def escalations(self) -> list[Sent]:
        return [s for s in self.sent if s.kind == "escalation"]


class _Planned(NamedTuple):
    task_id: int
    agreement_id: int
    calendar: str
    step: DueStep
    key: str  # the outbox dedupe key


def _plan(row: Any, calendar: str, step: DueStep) -> _Planned:
    make = reminder_key if step.kind == "reminder" else escalation_key
    return _Planned(row.id, row.agreement_id, calendar, step, make(row.id, step.name))


def sweep_reminders(
    session: Session,
    *,
    now: datetime,
    time_zone: str = BUSINESS_TIME_ZONE,
    batch_size: int = DEFAULT_BATCH,
    policy: ReminderPolicy = LIFECYCLE.reminders,
) -> SweepReport:
    """Send every reminder and escalation due at `now`, each exactly once (see the module).

    Reads only the open tasks whose stored next step has come or was never computed
    (`workflow.next_steps`), a page at a time, and writes each page in one transaction (one
    commit): its messages, their audit events, and every task's next moment. Needs a session
    without pending changes; leaves it without an open transaction.
    """
    today = local_date(now, time_zone)
    report = SweepReport(today=today)
    overdue = _Overdue(today)
    schedule = _Schedule(today, time_zone, policy)
    ensure_basis(session, basis_fingerprint(policy, time_zone))
    for rows in due_pages(session.connection, now, batch_size):
        report.tasks_scanned += len(rows)
        inputs = {row.id: schedule.inputs(row) for row in rows}
        planned = [
            _plan(row, schedule.calendar(row), step)
            for row in rows
            for step in schedule.steps(inputs[row.id])
        ]
        done = existing_keys(session, (p.key for p in planned))
        report.already_sent += len(done)
        todo = [p for p in planned if p.key not in done]
        _write_batch(session, rows, todo, schedule, inputs, now=now, report=report, overdue=overdue)
    session.rollback()  # end the last read transaction
    return report


_Inputs = tuple[date, str, date, tuple[Role, ...]]  # due date, calendar, opening day, roles


class _Schedule:
    """A task's due steps and next moment on `today`, each computed once per distinct input
    (a few dozen due dates and calendars cover thousands of tasks)."""

    def __init__(self, today: date, time_zone: str, policy: ReminderPolicy) -> None:
        self.today, self.time_zone, self.policy = today, time_zone, policy
        self._roles: dict[tuple[str | None, str], tuple[Role, ...]] = {}
        self._steps: dict[_Inputs, tuple[DueStep, ...]] = {}
        self._next: dict[_Inputs, datetime] = {}

    @staticmethod
    def calendar(row: Any) -> str:
        return str(row.customer_calendar if row.side == Side.CUSTOMER else row.provider_calendar)

    def inputs(self, row: Any) -> _Inputs:
        roles = self._roles.get((row.escalation_roles, row.role))
        if roles is None:
            listed = json.loads(row.escalation_roles) if row.escalation_roles else []
            roles = self._roles[(row.escalation_roles, row.role)] = tuple(
                Role(r) for r in listed if r != row.role
            )
        return (row.due_on, self.calendar(row), local_date(row.created_at, self.time_zone), roles)

    def steps(self, key: _Inputs) -> tuple[DueStep, ...]:
        found = self._steps.get(key)
        if found is None:
            found = self._steps[key] = due_steps(*key[:2], key[2], self.today, key[3], self.policy)
        return found

    def next_at(self, key: _Inputs) -> datetime:
        found = self._next.get(key)
        if found is None:
            day = next_step_on(key[0], key[1], key[2], self.today, key[3], self.policy)
            found = self._next[key] = next_step_at(day, self.time_zone)
        return found


class _Overdue:
    """Business days overdue on `today`, per (due date, calendar), each counted once."""

    def __init__(self, today: date) -> None:
        self.today = today
        self._known: dict[tuple[date, str], int] = {}

    def __call__(self, due_on: date, calendar: str) -> int:
        found = self._known.get((due_on, calendar))
        if found is None:
            found = self._known[(due_on, calendar)] = max(
                0, business_days_between(due_on, self.today, calendar)
            )
        return found


def _write_batch(
    session: Session,
    rows: Sequence[Any],
    todo: list[_Planned],
    schedule: _Schedule,
    inputs: dict[int, _Inputs],
    *,
    now: datetime,
    report: SweepReport,
    overdue: _Overdue,
) -> None:
    """One transaction: claim the page's tasks, insert their messages, audit those inserted,
    store each claimed task's next moment, commit."""
    with command(session) as tx:
        connection = session.connection()
        # Every chain head the page may append to, read in one query (and on PostgreSQL
        # locked, in chain order, as a command locks its one head: see the module).
        tx.trail.lock_heads(connection, {audit.agreement_chain(p.agreement_id) for p in todo})
        postgres = connection.dialect.name == "postgresql"
        ids = sorted(row.id for row in rows)
        claim = _CLAIM_LOCKED if postgres else _CLAIM
        claimed = {row.id: row for row in map(_claimed, connection.execute(claim, {"ids": ids}))}
        if postgres:
            # Skipped rows are closed (fine) or held by another transaction (next sweep's).
            open_ids = set(
                connection.execute(
                    sa.select(_T.c.id).where(_T.c.id.in_(ids), _T.c.state == "open")
                ).scalars()
            )
            report.deferred += len(open_ids - claimed.keys())
        escalating = {p.agreement_id for p in todo if p.step.kind == "escalation"}
        holders = role_holders(session, escalating)
        shapes = ShapeChecks()  # the page's payloads are checked once per shape
        messages: list[tuple[_Planned, Any, dict[str, Any]]] = []
        for p in todo:
            task = claimed.get(p.task_id)
            if task is None:
                continue
            message = _message(p, task, holders, now=now, overdue=overdue, shapes=shapes)
            messages.append((p, task, message))
        inserted = insert_once(session, [m for _, _, m in messages])
        report.already_sent += len(messages) - len(inserted)
        # Appended in chain order, each as `tx.audit` would (the heads are read already).
        events = []
        for p, task, message in sorted(messages, key=lambda m: (m[0].agreement_id, m[0].key)):
            if message["dedupe_key"] not in inserted:
                continue
            events.append(_audit_event(p, task, message))
            report.sent.append(
                Sent(p.task_id, task.agreement_key, p.step.kind, p.step.name, task.due_on)
            )
        tx.trail.append_many(connection, now=now, events=events)
        store_next_steps(connection, _next_moments(claimed, schedule, inputs))
    report.transactions += 1


def _next_moments(
    claimed: dict[int, Any], schedule: _Schedule, planned_from: dict[int, _Inputs]
) -> dict[int, datetime]:
    """The next moment of every claimed task whose inputs are still those its steps were
    planned from; a task changed since the page was read keeps its moment (NULL or past) and
    the next sweep plans it afresh."""
    moments: dict[int, datetime] = {}
    for task_id, task in claimed.items():
        key = planned_from[task_id]
        if schedule.inputs(task) == key:
            moments[task_id] = schedule.next_at(key)
    return moments


def _message(
    p: _Planned,
    task: Any,
    holders: dict[tuple[int, Side, Role], Holder],
    *,
    now: datetime,
    overdue: _Overdue,
    shapes: ShapeChecks,
) -> dict[str, Any]:
    days_overdue = overdue(task.due_on, p.calendar)
    if p.step.kind == "reminder":
        return reminder_row(task, p.key, p.step.name, days_overdue, now=now, shapes=shapes)
    role = Role(p.step.name)
    # An unfilled role's work goes to the side's Program Manager (domain.md, People).
    side = Side(task.side)
    holder = holders.get((task.agreement_id, side, role)) or holders.get(
        (task.agreement_id, side, Role.PROGRAM_MANAGER)
    )
    return escalation_row(task, p.key, role, holder, days_overdue, now=now, shapes=shapes)


def _audit_event(
    p: _Planned, task: Any, message: dict[str, Any]
) -> tuple[str, int, int | None, dict[str, Any]]:
    """The audit event of one message this sweep inserted: (action, agreement, version, data)."""
    payload = message["payload"]
    data: dict[str, Any] = {
        "task_id": task.id,
        "due_on": payload["task"]["due_on"],
        "business_days_overdue": payload["business_days_overdue"],
        "outbox_key": message["dedupe_key"],
    }
    if p.step.kind == "reminder":
        data["step"] = p.step.name
        return REMINDED_ACTION, task.agreement_id, task.version_id, data
    data["escalated_to_role"] = p.step.name
    data["side"] = task.side
    return ESCALATED_ACTION, task.agreement_id, task.version_id, data
