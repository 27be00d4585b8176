"""The audit chain of architecture.md: append-only, hash-chained, checkpointed; both databases."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from states import Role
from tests.helpers import T0, C, World, make_world
from workflow import audit
from workflow.canonical import canonical_json
from workflow.command import command
from workflow.commands.admin import create_token
from workflow.models import Agreement, AuditChainHead, AuditEvent

EVENTS: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]
HEADS: sa.Table = AuditChainHead.__table__  # type: ignore[attr-defined]


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


@pytest.fixture
def active(world: World) -> Agreement:
    """An agreement driven to active: a chain of 17 events, and admin events in the system chain."""
    agreement = world.create()
    world.to_active(agreement)
    return agreement


def _chain(agreement: Agreement) -> str:
    return audit.agreement_chain(agreement.id)  # type: ignore[arg-type]


def _event(engine: Engine, chain: str, seq: int) -> sa.Row[Any]:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(EVENTS).where(EVENTS.c.chain == chain, EVENTS.c.seq == seq)
        ).one()


def _seqs(engine: Engine, chain: str) -> list[int]:
    with engine.connect() as conn:
        stmt = sa.select(EVENTS.c.seq).where(EVENTS.c.chain == chain).order_by(EVENTS.c.seq)
        return list(conn.execute(stmt).scalars())


def _failures(session: Session) -> list[tuple[str, int | None, int | None, str]]:
    result = audit.verify(session)
    assert result.ok == (not result.failures)
    return [(f.chain, f.seq, f.event_id, f.reason) for f in result.failures]


@contextmanager
def guards_off(engine: Engine) -> Iterator[sa.Connection]:
    """Tamper as someone with full access to the database would: triggers out of the way."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            yield conn
        else:
            audit.drop_append_only_guards(conn)
            yield conn
            audit.install_append_only_guards(conn)


def _update(conn: sa.Connection, event_id: int, **values: Any) -> None:
    conn.execute(sa.update(EVENTS).where(EVENTS.c.id == event_id).values(**values))


def _checkpoint(world: World) -> AuditEvent:
    with command(world.session) as tx:
        return audit.checkpoint(tx, now=world.tick())


def _assert_refused(engine: Engine, statement: str) -> None:
    refused = pytest.raises(sa.exc.DBAPIError, match=audit.APPEND_ONLY_MESSAGE)
    with refused, engine.begin() as conn:
        conn.exec_driver_sql(statement)


def _assert_guarded(engine: Engine) -> None:
    _assert_refused(engine, "UPDATE audit_event SET action = 'tampered'")


# --- a normal life verifies ----------------------------------------------------------------


def test_a_normal_lifecycle_verifies_with_counts(
    world: World, active: Agreement, engine: Engine
) -> None:
    world.create()
    admin = world.who(C, Role.PROGRAM_MANAGER)
    create_token(world.session, actor=None, user_id=admin.user_id, now=world.tick())
    result = audit.verify(world.session)
    total = world.session.exec(select(func.count()).select_from(AuditEvent)).one()
    assert result.as_dict() == {
        "ok": True,
        "agreements_checked": 2,
        "events_checked": total,
        "failures": [],
    }
    system = world.session.exec(
        select(AuditEvent.action).where(AuditEvent.chain == audit.SYSTEM_CHAIN)
    ).all()
    assert {"organization.created", "user.created", "token.created"} <= set(system)
    assert _seqs(engine, _chain(active)) == list(range(1, 18))


def test_every_appended_body_is_checked_by_its_frame_without_parsing(
    world: World, active: Agreement, engine: Engine
) -> None:
    """Verify compares the columns with the text around "data" (the fast path) for every event
    Accord writes; only a body that does not frame exactly is parsed (tests below edit them)."""
    from workflow.audit import _columns_frame_body

    with engine.connect() as conn:
        rows = list(conn.execute(sa.select(AuditEvent.__table__)))  # type: ignore[attr-defined]
    assert len(rows) > 20
    assert all(_columns_frame_body(row) for row in rows)
    edited = SimpleNamespace(**{**rows[0]._mapping, "actor_id": (rows[0].actor_id or 0) + 1})
    assert not _columns_frame_body(edited)  # type: ignore[arg-type]


def test_verify_reads_no_intact_event_twice(
    world: World, active: Agreement, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verify checks the driver's rows on its fast path (the time as the driver returns it on
    each database); only an event that does not frame is read again through SQLAlchemy."""
    reread: list[int] = []
    original = audit._Walk._columns_problem

    def spy(walk: audit._Walk, event_id: int) -> str | None:
        reread.append(event_id)
        return original(walk, event_id)

    monkeypatch.setattr(audit._Walk, "_columns_problem", spy)
    assert audit.verify(world.session).ok
    assert reread == []
    target = _event(engine, _chain(active), 3)
    with guards_off(engine) as conn:
        _update(conn, target.id, actor_id=target.actor_id + 1)
    assert [f.event_id for f in audit.verify(world.session).failures] == [target.id]
    assert reread == [target.id]


def test_a_time_stored_in_another_text_form_is_read_through_its_type(
    world: World, active: Agreement, engine: Engine
) -> None:
    """SQLite: verify turns only SQLAlchemy's own text form of a time into the body's form; a
    time stored another way is read through the column's type, as before, so the same moment
    still verifies and another moment is named."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: PostgreSQL stores a timestamptz, not text")
    chain = _chain(active)
    target = _event(engine, chain, 3)
    with guards_off(engine) as conn:
        conn.execute(
            sa.text(
                "UPDATE audit_event SET occurred_at = replace(occurred_at, ' ', 'T') WHERE id = :id"
            ),
            {"id": target.id},
        )
        stored = conn.execute(
            sa.text("SELECT occurred_at FROM audit_event WHERE id = :id"), {"id": target.id}
        ).scalar_one()
    assert "T" in stored
    assert _failures(world.session) == []
    with guards_off(engine) as conn:
        conn.execute(
            sa.text("UPDATE audit_event SET occurred_at = :at WHERE id = :id"),
            {"id": target.id, "at": "2020-01-01T00:00:00"},
        )
    assert _failures(world.session) == [
        (chain, 3, target.id, "column occurred_at does not match the hashed body (edited)")
    ]


def test_an_empty_database_verifies(session: Session) -> None:
    assert audit.verify(session).as_dict() == {
        "ok": True,
        "agreements_checked": 0,
        "events_checked": 0,
        "failures": [],
    }


def test_unrelated_agreements_have_independent_chains(world: World, engine: Engine) -> None:
    first, second = world.create(), world.create()
    world.fire(second, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    world.fire(first, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    assert _seqs(engine, _chain(first)) == [1, 2]
    assert _seqs(engine, _chain(second)) == [1, 2]
    with engine.connect() as conn:
        owners = conn.execute(
            sa.select(EVENTS.c.chain, EVENTS.c.agreement_id)
            .distinct()
            .where(EVENTS.c.chain != audit.SYSTEM_CHAIN)
        ).all()
        heads = dict(conn.execute(sa.select(HEADS.c.chain, HEADS.c.seq)).all())
    assert sorted(owners) == sorted([(_chain(first), first.id), (_chain(second), second.id)])
    assert heads[_chain(first)] == heads[_chain(second)] == 2
    assert audit.verify(world.session).ok


def test_aware_and_naive_times_round_trip_identically(session: Session, engine: Engine) -> None:
    moments = [
        datetime(2026, 11, 2, 19, 30, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2026, 11, 2, 14, 0, 0, 654321),  # naive: taken as UTC
        datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=UTC),
    ]
    for moment in moments:
        with command(session) as tx:
            tx.audit(action="test.time", now=moment, data={"at": moment})
    with engine.connect() as conn:
        rows = conn.execute(sa.select(EVENTS).order_by(EVENTS.c.seq)).all()
    assert [r.occurred_at for r in rows] == [
        datetime(2026, 11, 2, 14, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 11, 2, 14, 0, 0, 654321, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=UTC),
    ]
    assert json.loads(rows[0].body)["occurred_at"] == "2026-11-02T14:00:00.123456+00:00"
    assert audit.verify(session).as_dict()["ok"] is True


# --- the database refuses changes ----------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET action = 'tampered' WHERE seq = 3",
        "UPDATE audit_event SET body = body",
        "DELETE FROM audit_event WHERE seq = 3",
        "DELETE FROM audit_event",
    ],
)
def test_the_database_refuses_update_and_delete(
    active: Agreement, engine: Engine, statement: str
) -> None:
    with engine.connect() as conn:
        before = conn.execute(sa.select(EVENTS).order_by(EVENTS.c.id)).all()
    _assert_refused(engine, statement)
    with engine.connect() as conn:
        assert conn.execute(sa.select(EVENTS).order_by(EVENTS.c.id)).all() == before


def test_postgresql_refuses_truncate(active: Agreement, engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no TRUNCATE (its bare DELETE is refused above)")
    _assert_refused(engine, "TRUNCATE audit_event")
    with engine.connect() as conn:
        assert conn.execute(sa.select(func.count()).select_from(EVENTS)).scalar_one() > 17


def test_guards_can_be_reinstalled_idempotently(active: Agreement, engine: Engine) -> None:
    with engine.begin() as conn:
        audit.install_append_only_guards(conn)
        audit.install_append_only_guards(conn)
    _assert_guarded(engine)
    with engine.begin() as conn:
        audit.drop_append_only_guards(conn)
        conn.exec_driver_sql("UPDATE audit_event SET action = action")  # no guard any more
        audit.install_append_only_guards(conn)
    _assert_guarded(engine)
    with guards_off(engine) as conn:
        conn.exec_driver_sql("UPDATE audit_event SET action = action")
    _assert_guarded(engine)


# --- tampering is detected, the first bad event named --------------------------------------


def _edit_comment(row: sa.Row[Any]) -> dict[str, Any]:
    body = json.loads(row.body)
    body["data"]["comment"] = "looks fine to me"
    return {"body": canonical_json(body)}


Edit = tuple[Callable[[sa.Row[Any]], dict[str, Any]], str]
EDITS: dict[str, Edit] = {
    "body": (_edit_comment, "hash does not match the event's content (edited)"),
    "action": (
        lambda row: {"action": "task.cancelled"},
        "column action does not match the hashed body (edited)",
    ),
    "occurred_at": (
        lambda row: {"occurred_at": row.occurred_at - timedelta(days=1)},
        "column occurred_at does not match the hashed body (edited)",
    ),
    "actor_id": (
        lambda row: {"actor_id": row.actor_id + 1},
        "column actor_id does not match the hashed body (edited)",
    ),
    "version_id": (
        lambda row: {"version_id": None},
        "column version_id does not match the hashed body (edited)",
    ),
    "prev_hash": (
        lambda row: {"prev_hash": audit.GENESIS},
        "prev_hash does not match the previous event (reordered or removed)",
    ),
    "hash": (
        lambda row: {"hash": "f" * 64},
        "hash does not match the event's content (edited)",
    ),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edited_event_is_named(
    world: World, active: Agreement, engine: Engine, edit: str
) -> None:
    change, reason = EDITS[edit]
    chain = _chain(active)
    target = _event(engine, chain, 3)
    assert target.action == "task.completed"
    with guards_off(engine) as conn:
        _update(conn, target.id, **change(target))
    assert _failures(world.session) == [(chain, 3, target.id, reason)]


def test_a_deleted_event_in_the_middle_is_named(
    world: World, active: Agreement, engine: Engine
) -> None:
    chain = _chain(active)
    victim, successor = _event(engine, chain, 5), _event(engine, chain, 6)
    with guards_off(engine) as conn:
        conn.execute(sa.delete(EVENTS).where(EVENTS.c.id == victim.id))
    assert _failures(world.session) == [
        (chain, 6, successor.id, "expected seq 5, found 6 (event missing or moved)")
    ]


def test_swapped_seq_values_are_named(world: World, active: Agreement, engine: Engine) -> None:
    chain = _chain(active)
    fourth, fifth = _event(engine, chain, 4), _event(engine, chain, 5)
    with guards_off(engine) as conn:
        _update(conn, fourth.id, seq=-1)
        _update(conn, fifth.id, seq=4)
        _update(conn, fourth.id, seq=5)
    assert _failures(world.session) == [
        (chain, 4, fifth.id, "prev_hash does not match the previous event (reordered or removed)")
    ]


def test_swapped_contents_are_named(world: World, active: Agreement, engine: Engine) -> None:
    chain = _chain(active)
    fourth, fifth = _event(engine, chain, 4), _event(engine, chain, 5)
    content = ("body", "prev_hash", "hash", "action", "version_id", "actor_id", "occurred_at")
    with guards_off(engine) as conn:
        _update(conn, fourth.id, **{name: getattr(fifth, name) for name in content})
        _update(conn, fifth.id, **{name: getattr(fourth, name) for name in content})
    assert _failures(world.session) == [
        (chain, 4, fourth.id, "prev_hash does not match the previous event (reordered or removed)")
    ]


def test_only_the_first_bad_event_of_each_chain_is_named(
    world: World, active: Agreement, engine: Engine
) -> None:
    chain = _chain(active)
    third, ninth = _event(engine, chain, 3), _event(engine, chain, 9)
    user = _event(engine, audit.SYSTEM_CHAIN, 4)
    with guards_off(engine) as conn:
        _update(conn, ninth.id, action="tampered")
        _update(conn, third.id, action="tampered")
        _update(conn, user.id, body=user.body.replace("@", "#"))
    result = audit.verify(world.session)
    assert [(f.chain, f.seq, f.event_id) for f in result.failures] == [
        (audit.SYSTEM_CHAIN, 4, user.id),
        (chain, 3, third.id),
    ]
    # A chain stops at its first bad event: 4 system events and 3 of the agreement's.
    assert result.events_checked == 4 + 3
    assert result.agreements_checked == 1


def test_a_truncated_tail_is_named_by_its_head(
    world: World, active: Agreement, engine: Engine
) -> None:
    chain = _chain(active)
    with guards_off(engine) as conn:
        conn.execute(sa.delete(EVENTS).where(EVENTS.c.chain == chain, EVENTS.c.seq > 15))
    assert _failures(world.session) == [
        (
            chain,
            16,
            None,
            "the chain ends at seq 15 but its head records seq 17 (events after it were removed)",
        )
    ]


def _truncate_and_rewind(engine: Engine, chain: str, keep: int) -> None:
    kept = _event(engine, chain, keep)
    with guards_off(engine) as conn:
        conn.execute(sa.delete(EVENTS).where(EVENTS.c.chain == chain, EVENTS.c.seq > keep))
        conn.execute(
            sa.update(HEADS).where(HEADS.c.chain == chain).values(seq=keep, hash=kept.hash)
        )


def test_a_truncated_tail_with_a_rewound_head_needs_a_checkpoint(
    world: World, active: Agreement, engine: Engine
) -> None:
    chain = _chain(active)
    _truncate_and_rewind(engine, chain, keep=15)
    # Without a checkpoint nothing remembers the lost tail: the chain looks whole.
    assert audit.verify(world.session).ok


def test_a_checkpoint_exposes_a_truncated_tail_with_a_rewound_head(
    world: World, active: Agreement, engine: Engine
) -> None:
    chain = _chain(active)
    cp = _checkpoint(world)
    _truncate_and_rewind(engine, chain, keep=15)
    assert _failures(world.session) == [
        (
            chain,
            16,
            None,
            f"checkpoint {cp.seq} recorded seq 17 but the chain ends at seq 15 (tail truncated)",
        )
    ]


def test_a_checkpoint_exposes_an_agreement_whose_events_all_vanished(
    world: World, active: Agreement, engine: Engine
) -> None:
    chain = _chain(active)
    cp = _checkpoint(world)
    with guards_off(engine) as conn:
        conn.execute(sa.delete(EVENTS).where(EVENTS.c.chain == chain))
        conn.execute(sa.delete(HEADS).where(HEADS.c.chain == chain))
    result = audit.verify(world.session)
    assert [f.as_dict() for f in result.failures] == [
        {
            "chain": chain,
            "seq": 1,
            "event_id": None,
            "reason": f"checkpoint {cp.seq} recorded seq 17 but the chain ends at seq 0 "
            "(tail truncated)",
        }
    ]
    assert result.agreements_checked == 1


def test_a_lost_head_row_is_reported(world: World, active: Agreement, engine: Engine) -> None:
    chain = _chain(active)
    with engine.begin() as conn:
        conn.execute(sa.delete(HEADS).where(HEADS.c.chain == chain))
    assert _failures(world.session) == [
        (chain, None, None, "the chain ends at seq 17 but has no head row")
    ]


def test_a_body_that_is_not_json_is_reported(
    world: World, active: Agreement, engine: Engine
) -> None:
    chain = _chain(active)
    last = _event(engine, chain, 17)
    digest = audit.event_hash(last.prev_hash, "[]")
    with guards_off(engine) as conn:
        _update(conn, last.id, body="[]", hash=digest)
        conn.execute(sa.update(HEADS).where(HEADS.c.chain == chain).values(hash=digest))
    assert _failures(world.session) == [(chain, 17, last.id, "body is not a JSON object")]


def test_verify_reads_one_snapshot_while_commands_append(
    world: World, active: Agreement, engine: Engine
) -> None:
    """An append committed between verify's queries must not look like a broken chain."""
    started: list[bool] = []
    appended: list[int] = []

    def append_meanwhile(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if started or not statement.startswith("SELECT audit_chain_head"):
            return
        started.append(True)  # the append below selects the head too
        with Session(engine) as other, command(other) as tx:
            tx.audit(action="test.meanwhile", now=T0, agreement_id=active.id)
            appended.append(tx.trail.pending[-1]["seq"])

    sa.event.listen(engine, "after_cursor_execute", append_meanwhile)
    try:
        result = audit.verify(world.session)
    finally:
        sa.event.remove(engine, "after_cursor_execute", append_meanwhile)
    assert appended == [18]
    assert result.failures == []
    assert audit.verify(world.session).events_checked == result.events_checked + 1


# --- checkpoints ---------------------------------------------------------------------------


def test_a_checkpoint_records_every_chain_head(
    world: World, active: Agreement, engine: Engine
) -> None:
    other = world.create()
    cp = _checkpoint(world)
    with engine.connect() as conn:
        heads = conn.execute(
            sa.select(HEADS.c.chain, HEADS.c.seq, HEADS.c.hash).where(
                HEADS.c.chain != audit.SYSTEM_CHAIN
            )
        ).all()
    recorded = json.loads(_event(engine, audit.SYSTEM_CHAIN, cp.seq).body)["data"]["heads"]
    assert recorded == {chain: {"seq": seq, "hash": digest} for chain, seq, digest in heads}
    assert set(recorded) == {_chain(active), _chain(other)}
    assert recorded[_chain(active)]["seq"] == 17
    assert cp.action == audit.CHECKPOINT_ACTION
    assert audit.verify(world.session).ok


def _note(world: World, agreement: Agreement) -> None:
    with command(world.session) as tx:
        tx.audit(action="test.note", now=world.tick(), agreement_id=agreement.id)


def test_a_rewritten_chain_differs_from_its_checkpoint(
    world: World, active: Agreement, engine: Engine
) -> None:
    """A forger who recomputes every later hash (and the head) is still caught by a checkpoint."""
    chain = _chain(active)
    first = _checkpoint(world)
    _note(world, active)
    _note(world, active)
    _checkpoint(world)
    assert audit.verify(world.session).ok
    target = _event(engine, chain, 17)
    later = [_event(engine, chain, seq) for seq in (18, 19)]
    with guards_off(engine) as conn:
        prev = target.prev_hash
        body = json.loads(target.body)
        body["data"]["after"]["state"] = "withdrawn"
        for row, text in [(target, canonical_json(body)), *((r, r.body) for r in later)]:
            digest = audit.event_hash(prev, text)
            _update(conn, row.id, body=text, prev_hash=prev, hash=digest)
            prev = digest
        conn.execute(sa.update(HEADS).where(HEADS.c.chain == chain).values(hash=prev))
    assert _failures(world.session) == [
        (
            chain,
            17,
            target.id,
            f"hash differs from the one checkpoint {first.seq} recorded (chain rewritten)",
        )
    ]


def test_a_forged_checkpoint_breaks_the_system_chain_only(
    world: World, active: Agreement, engine: Engine
) -> None:
    cp = _checkpoint(world)
    row = _event(engine, audit.SYSTEM_CHAIN, cp.seq)
    body = json.loads(row.body)
    body["data"]["heads"][_chain(active)]["seq"] = 99
    with guards_off(engine) as conn:
        _update(conn, row.id, body=canonical_json(body))
    # The forged checkpoint is not trusted, so the agreement's chain is not accused.
    assert _failures(world.session) == [
        (audit.SYSTEM_CHAIN, cp.seq, row.id, "hash does not match the event's content (edited)")
    ]


# --- concurrency ---------------------------------------------------------------------------


@pytest.mark.postgres_only
def test_concurrent_appends_to_one_chain_never_fork(engine: Engine, session: Session) -> None:
    threads, appends = 4, 15
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        try:
            with Session(engine) as own:
                start.wait(timeout=30)
                for n in range(appends):
                    with command(own) as tx:
                        tx.audit(
                            action="test.concurrent",
                            now=T0 + timedelta(seconds=n),
                            data={"worker": number, "n": n},
                        )
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in workers)
    assert errors == []
    total = threads * appends
    assert _seqs(engine, audit.SYSTEM_CHAIN) == list(range(1, total + 1))
    data = session.exec(select(AuditEvent.body).where(AuditEvent.chain == audit.SYSTEM_CHAIN)).all()
    pairs = {(json.loads(b)["data"]["worker"], json.loads(b)["data"]["n"]) for b in data}
    assert len(pairs) == total
    head = session.exec(select(AuditChainHead).where(col(AuditChainHead.chain) == "system")).one()
    assert head.seq == total
    result = audit.verify(session)
    assert (result.ok, result.events_checked, result.agreements_checked) == (True, total, 0)


def test_verifying_named_chains_reads_only_them_and_the_checkpoints(
    world: World, active: Agreement, engine: Engine
) -> None:
    other = world.create()
    _checkpoint(world)
    chain, clean = _chain(active), _chain(other)
    target = _event(engine, chain, 3)
    with guards_off(engine) as conn:
        _update(conn, target.id, **_edit_comment(target))
    broken = audit.verify(world.session, [chain])
    assert [(f.chain, f.seq) for f in broken.failures] == [(chain, 3)]
    assert broken.agreements_checked == 1
    untouched = audit.verify(world.session, [clean])
    assert untouched.ok
    assert untouched.agreements_checked == 1
    assert untouched.events_checked < audit.verify(world.session).events_checked
