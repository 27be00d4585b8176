"""Each open task's stored `next_step_at`: the moment the reminder sweep must look at it again.

The sweep reads only open tasks whose `next_step_at` is NULL (never computed, or forgotten
because something it depends on changed) or has come (`<= now`), through a partial index on
open tasks; after sending what is due it stores the local midnight (as UTC) of the next day a
reminder or escalation step falls due. A tick with nothing due reads no task at all.

The moment depends on the task's due date, opening day, side calendar, escalation roles and
role, on the reminder policy and on the holiday calendars' contents. Whatever changes one of
those for open tasks calls `forget_next_steps` in its transaction; the sweep computes them again.
The policy, time zone and holiday data are recorded as a fingerprint (`sweep_basis`): a sweep
that finds another one (a release changed the policy, or upgraded `holidays`) forgets every
stored moment first.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from importlib.metadata import version
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from states import LIFECYCLE, ReminderPolicy, Role
from workflow.calendar import start_of_day
from workflow.canonical import sha256_hex
from workflow.command import command
from workflow.db import sqlite_text
from workflow.models import Agreement, Organization, SweepBasis, Task
from workflow.reminders import escalations, reminders

# No step will ever fall due (a policy without overdue reminders, every escalation past):
# far enough to never come, near enough for every driver's date arithmetic.
NEVER = datetime(9000, 1, 1, tzinfo=UTC)
_FIRST = datetime(1900, 1, 1, tzinfo=UTC)  # before every stored moment: the keyset's start

_T: sa.Table = Task.__table__  # type: ignore[attr-defined]
_B: sa.Table = SweepBasis.__table__  # type: ignore[attr-defined]
_A: sa.Table = Agreement.__table__  # type: ignore[attr-defined]
_ORG: sa.Table = Organization.__table__  # type: ignore[attr-defined]
_CUSTOMER_ORG, _PROVIDER_ORG = _ORG.alias("customer_org"), _ORG.alias("provider_org")


def next_step_on(
    due_on: date,
    calendar: str,
    opened_on: date,
    today: date,
    escalation_roles: Iterable[Role],
    policy: ReminderPolicy = LIFECYCLE.reminders,
) -> date | None:
    """The first day after `today` on which a step of this task falls due (none dated before
    `opened_on`, as the sweep sends none of those), or None if no step ever will."""
    found: date | None = None
    for reminder in reminders(due_on, calendar, policy):
        if reminder.on > today and reminder.on >= opened_on:
            found = reminder.on
            break  # date order: the first one after today is the next
    for escalation in escalations(due_on, calendar, escalation_roles, policy):
        if escalation.on > today and escalation.on >= opened_on:
            if found is None or escalation.on < found:
                found = escalation.on
            break  # date order too
    return found


def next_step_at(day: date | None, time_zone: str) -> datetime:
    """When the sweep must look again: local midnight of `day`, as UTC (NEVER for None)."""
    return NEVER if day is None else start_of_day(day, time_zone)


# ---- which tasks a sweep reads --------------------------------------------------------------

_COLUMNS = (
    _T.c.id,
    _T.c.agreement_id,
    _T.c.side,
    _T.c.role,
    _T.c.due_on,
    _T.c.created_at,
    _T.c.next_step_at,
    # As text: a handful of distinct lists, each parsed once per sweep, not once per row.
    sa.cast(_T.c.escalation_roles, sa.Text).label("escalation_roles"),
    _CUSTOMER_ORG.c.holiday_calendar.label("customer_calendar"),
    _PROVIDER_ORG.c.holiday_calendar.label("provider_calendar"),
)
_FROM = (
    _T.join(_A, _A.c.id == _T.c.agreement_id)
    .join(_CUSTOMER_ORG, _CUSTOMER_ORG.c.id == _A.c.customer_org_id)
    .join(_PROVIDER_ORG, _PROVIDER_ORG.c.id == _A.c.provider_org_id)
)

# Both pages walk the partial index (next_step_at, id) WHERE state = 'open'.
_NOT_COMPUTED = (
    sa.select(*_COLUMNS)
    .select_from(_FROM)
    .where(_T.c.state == "open", _T.c.next_step_at.is_(None), _T.c.id > sa.bindparam("after"))
    .order_by(_T.c.id)
    .limit(sa.bindparam("limit"))
)
_AT = _T.c.next_step_at.type
_COME = (
    sa.select(*_COLUMNS)
    .select_from(_FROM)
    .where(
        _T.c.state == "open",
        _T.c.next_step_at <= sa.bindparam("now", type_=_AT),
        sa.tuple_(_T.c.next_step_at, _T.c.id)
        > sa.tuple_(sa.bindparam("after_at", type_=_AT), sa.bindparam("after")),
    )
    .order_by(_T.c.next_step_at, _T.c.id)
    .limit(sa.bindparam("limit"))
)


# Rows as named tuples: a sweep reads each task's columns several times, and a SQLAlchemy
# Row's attribute access costs microseconds where a named tuple's costs nanoseconds.
_DueTask = namedtuple("_DueTask", list(_NOT_COMPUTED.selected_columns.keys()))  # type: ignore[misc]
_due_task: Callable[[sa.Row[Any]], Any] = _DueTask._make


def due_pages(connection_of: Any, now: datetime, batch_size: int) -> Iterator[list[Any]]:
    """Pages of the open tasks a sweep at `now` must look at, without locks: first those never
    computed, then those whose moment has come. `connection_of()` gives the connection to read
    on (the caller commits between pages). A task handled in a page moves past `now`, so
    neither walk sees it again; one left alone (held by another transaction) is passed over."""
    after = 0
    while True:
        page = {"after": after, "limit": batch_size}
        rows = list(map(_due_task, connection_of().execute(_NOT_COMPUTED, page)))
        if not rows:
            break
        after = rows[-1].id
        yield rows
    after, after_at = 0, _FIRST
    moment = now.astimezone(UTC)
    while True:
        params = {"now": moment, "after_at": after_at, "after": after, "limit": batch_size}
        rows = list(map(_due_task, connection_of().execute(_COME, params)))
        if not rows:
            return
        after, after_at = rows[-1].id, rows[-1].next_step_at
        yield rows


# ---- storing and forgetting -----------------------------------------------------------------

# SQLite: an executemany straight to the driver, each moment as the text SQLAlchemy would
# store (a sweep page has a few distinct moments for a thousand tasks; SQLAlchemy's per-row
# parameter processing cost more than the update).
_STORE = "UPDATE task SET next_step_at = ? WHERE id = ?"
# PostgreSQL: one statement with two array parameters, whatever the number of tasks.
_STORE_PG = sa.text(
    "UPDATE task SET next_step_at = v.at "
    "FROM unnest(CAST(:ids AS integer[]), CAST(:ats AS timestamptz[])) AS v(id, at) "
    "WHERE task.id = v.id"
)


def store_next_steps(connection: sa.Connection, moments: Mapping[int, datetime]) -> None:
    """Store these tasks' next moments, leaving every other column (and lock_version) alone:
    the sweep's bookkeeping must not make a person's concurrent command stale."""
    if not moments:
        return
    ids = sorted(moments)
    if connection.dialect.name == "postgresql":
        connection.execute(_STORE_PG, {"ids": ids, "ats": [moments[i] for i in ids]})
        return
    texts = {at: sqlite_text(at) for at in set(moments.values())}
    connection.exec_driver_sql(_STORE, [(texts[moments[i]], i) for i in ids])


def forget_next_steps(
    connection: sa.Connection,
    *,
    task_ids: Iterable[int] | None = None,
    organization_id: int | None = None,
) -> None:
    """The next sweep computes these open tasks' moments again: the given tasks, the tasks of
    the agreements the organisation is party to, or (neither given) every open task."""
    statement = sa.update(_T).where(_T.c.state == "open").values(next_step_at=None)
    if task_ids is not None:
        ids = sorted(set(task_ids))
        if not ids:
            return
        statement = statement.where(_T.c.id.in_(ids))
    if organization_id is not None:
        party = sa.or_(
            _A.c.customer_org_id == organization_id, _A.c.provider_org_id == organization_id
        )
        statement = statement.where(_T.c.agreement_id.in_(sa.select(_A.c.id).where(party)))
    connection.execute(statement)


# ---- the basis the moments were computed on ------------------------------------------------


@lru_cache(maxsize=8)
def basis_fingerprint(policy: ReminderPolicy, time_zone: str) -> str:
    """Once per process and policy: reading the installed `holidays` version costs ~4 ms,
    more than an idle tick."""
    holiday_data = version("holidays")  # its releases add and correct holidays
    return sha256_hex("accord.sweep_basis.v1", repr(policy), time_zone, holiday_data)


_READ_BASIS = sa.select(_B.c.fingerprint).where(_B.c.id == 1)


def ensure_basis(session: Session, fingerprint: str) -> bool:
    """Forget every stored moment if they were computed on another basis, and record this one
    (one transaction); True if it did. Leaves the session without an open transaction."""
    if session.connection().execute(_READ_BASIS).scalar() == fingerprint:
        session.rollback()
        return False
    with command(session):
        connection = session.connection()
        if connection.execute(_READ_BASIS).scalar() != fingerprint:  # a concurrent sweep's?
            forget_next_steps(connection)
            dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
            upsert = dialect.insert(_B).values(id=1, fingerprint=fingerprint)
            connection.execute(
                upsert.on_conflict_do_update(
                    index_elements=["id"], set_={"fingerprint": fingerprint}
                )
            )
    return True
