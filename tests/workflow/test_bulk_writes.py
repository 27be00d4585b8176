"""The sweep's lean writes: what they store is what the one-by-one path would store.

Audit bodies are written around the canonical JSON of their data, outbox rows and next moments
go to the driver past SQLAlchemy's type layer, and payloads are validated once per shape; each
shortcut is pinned here against the general path it replaces.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from states import Role
from tests.helpers import C, make_world
from workflow import audit
from workflow.audit_trail import AuditTrail, _Head, event_body, event_hash
from workflow.canonical import canonical_json
from workflow.commands.sweeps import sweep_reminders
from workflow.db import sqlite_text
from workflow.models import AuditEvent, OutboxMessage
from workflow.payloads import PAYLOADS, ShapeChecks

EVENTS: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]
OUTBOX: sa.Table = OutboxMessage.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 11, 9, 14, 0, 0, 123456, tzinfo=UTC)


def _row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "chain": "agreement:7",
        "seq": 12,
        "agreement_id": 7,
        "version_id": 9,
        "actor_id": None,
        "on_behalf_of_id": 4,
        "action": "task.reminded",
        "occurred_at": NOW,
    }
    return {**row, **changes}


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"version_id": None, "agreement_id": None, "chain": "system", "actor_id": 3},
        {"occurred_at": datetime(2026, 3, 29, 1, 59, 59, tzinfo=timezone(timedelta(hours=-5)))},
        {"occurred_at": datetime(2026, 3, 29, 1, 59, 59)},  # naive: taken as UTC
        # Columns canonical JSON must escape or spell its own way go through it whole.
        {"action": 'we"ird\\action'},
        {"action": "änderung"},
        {"actor_id": True},
        {"seq": 12.0},
    ],
)
@pytest.mark.parametrize(
    "data",
    [
        {},
        {"task_id": 5, "outbox_key": "reminder:5:due", "step": "due", "business_days_overdue": 0},
        {"comment": 'quotes " and \\ and ünïcode ✓', "at": NOW, "on": date(2026, 1, 2)},
    ],
)
def test_an_event_body_is_its_canonical_json_byte_for_byte(
    changes: dict[str, Any], data: dict[str, Any]
) -> None:
    row = _row(**changes)
    expected = canonical_json({**audit.hashed_columns(audit.PendingColumns(row)), "data": data})
    assert event_body(row, data) == expected
    assert event_hash("ab" * 32, expected) == audit.event_hash("ab" * 32, expected)


def test_a_batch_append_writes_what_one_by_one_appends_would() -> None:
    """Same order, seqs, bodies and hashes, whichever chains the batch moves between."""
    events: list[tuple[str, int, int | None, dict[str, Any]]] = [
        ("task.reminded", 1, 10, {"task_id": 1, "step": "due"}),
        ("task.escalated", 1, 10, {"task_id": 1, "escalated_to_role": "program_manager"}),
        ("task.reminded", 2, None, {"task_id": 2, "at": NOW}),
        ("ünplain action", 2, 11, {}),
        ("task.reminded", 1, 10, {"task_id": 3, "comment": 'a "quoted" ✓'}),
    ]
    heads = {"agreement:1": ("ab" * 32, 4), "agreement:2": (audit.GENESIS, 0)}
    one, batch = AuditTrail(), AuditTrail()
    for trail in (one, batch):
        trail.heads = {chain: _Head(seq=seq, hash=digest) for chain, (digest, seq) in heads.items()}
    for action, agreement_id, version_id, data in events:
        one.append(
            None,  # type: ignore[arg-type]  # every head is known: no read
            action=action,
            now=NOW,
            agreement_id=agreement_id,
            version_id=version_id,
            data=data,
        )
    batch.append_many(None, now=NOW, events=events)  # type: ignore[arg-type]
    assert batch.pending == one.pending
    assert [(r["chain"], r["seq"]) for r in batch.pending] == [
        ("agreement:1", 5),
        ("agreement:1", 6),
        ("agreement:2", 1),
        ("agreement:2", 2),
        ("agreement:1", 7),
    ]
    assert batch.heads == one.heads


def test_times_go_to_sqlite_as_sqlalchemy_would_store_them() -> None:
    dialect = sqlite.dialect()
    store = EVENTS.c.occurred_at.type.dialect_impl(dialect).bind_processor(dialect)
    assert store is not None
    moments = [
        NOW,
        datetime(2026, 11, 1, 1, 30, tzinfo=timezone(timedelta(hours=-4))),
        datetime(999, 1, 1, tzinfo=UTC),
        datetime(9000, 1, 1, tzinfo=UTC),
    ]
    assert [sqlite_text(m) for m in moments] == [store(m) for m in moments]
    with pytest.raises(ValueError, match="timezone-aware"):
        sqlite_text(datetime(2026, 1, 1))


# ---- payloads checked once per shape --------------------------------------------------------


def test_payload_types_constrain_types_only() -> None:
    """What makes one strict validation vouch for a whole shape (`ShapeChecks`)."""
    for topic, model in PAYLOADS.items():
        decorators = model.__pydantic_decorators__
        assert not decorators.field_validators, topic
        assert not decorators.model_validators, topic
        for name, info in model.model_fields.items():
            assert not info.metadata, f"{topic}.{name} constrains its values"


REMINDER: dict[str, Any] = {
    "agreement": {"id": 1, "key": "SLA-2026-0001", "title": "Payroll"},
    "version": {"id": 1, "number": 1, "modification_number": 0, "state": "joint_review"},
    "task": {
        "id": 7,
        "kind": "review",
        "title": "Review the draft",
        "side": "customer",
        "role": "functional_lead",
        "due_on": "2026-11-04",
        "assignee_id": 3,
    },
    "step": "due",
    "due_on": "2026-11-04",
    "business_days_overdue": 0,
}


def test_a_shape_is_validated_once_and_a_new_shape_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = PAYLOADS["task.reminder"]
    calls: list[bool] = []
    original = model.model_validate

    def counted(payload: Any, **kwargs: Any) -> Any:
        calls.append(bool(kwargs.get("strict")))
        return original(payload, **kwargs)

    monkeypatch.setattr(model, "model_validate", counted)
    shapes = ShapeChecks()
    for n in range(5):
        shapes.checked("task.reminder", "int-ids", {**REMINDER, "business_days_overdue": n})
    assert calls == [True]
    # Another shape (its caller says so) is validated again, and a bad payload still fails.
    bad = {**REMINDER, "business_days_overdue": "three"}
    with pytest.raises(ValueError, match=r"task\.reminder"):
        shapes.checked("task.reminder", "str-overdue", bad)
    assert calls == [True, True, False]


def test_a_payload_that_needs_coercion_is_checked_every_time() -> None:
    """Lax validation accepts "3" for an int and "x" would fail: such a shape vouches for
    nothing, so each payload of it is checked on its own."""
    shapes = ShapeChecks()
    lax = {**REMINDER, "business_days_overdue": "3"}
    assert shapes.checked("task.reminder", "str-overdue", lax) is lax
    with pytest.raises(ValueError, match="does not match its type"):
        shapes.checked("task.reminder", "str-overdue", {**REMINDER, "business_days_overdue": "x"})


# ---- a sweep's rows read back like any other ------------------------------------------------


def test_a_sweeps_rows_read_back_as_one_by_one_writes_would(
    session: Session, engine: Engine
) -> None:
    world = make_world(session)
    world.now = datetime(2026, 10, 28, 14, 0, tzinfo=UTC)
    agreement = world.create()
    world.fire(agreement, "submit_for_review", world.who(C, Role.PROGRAM_MANAGER))
    now = datetime(2026, 12, 21, 15, 0, tzinfo=UTC)  # weeks after every review fell due
    with Session(engine) as sweeping:
        report = sweep_reminders(sweeping, now=now)
    assert report.escalations
    assert report.reminders
    assert audit.verify(session).ok
    with engine.connect() as conn:
        bodies = conn.execute(
            sa.select(EVENTS.c.body).where(EVENTS.c.action.in_(["task.reminded", "task.escalated"]))
        ).scalars()
        for body in bodies:
            assert body == canonical_json(json.loads(body))
        # The stored times compare as times: every message is due for the dispatcher now.
        due = conn.execute(
            sa.select(sa.func.count())
            .select_from(OUTBOX)
            .where(OUTBOX.c.next_attempt_at <= now, OUTBOX.c.created_at == now)
            .where(OUTBOX.c.dedupe_key.like("reminder:%") | OUTBOX.c.dedupe_key.like("esc%"))
        ).scalar_one()
        assert due == len(report.sent)
        if engine.dialect.name == "sqlite":
            texts = conn.exec_driver_sql(
                "SELECT payload, recipients FROM outbox_message WHERE dedupe_key LIKE 'rem%'"
            ).all()
            assert texts
            for payload, recipients in texts:  # the text SQLAlchemy's JSON type writes
                assert payload == json.dumps(json.loads(payload))
                assert recipients == json.dumps(json.loads(recipients))
