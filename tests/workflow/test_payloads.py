"""Each outbox topic's payload has a type, and a message that does not match it fails the
command that queued it (nothing is written), instead of failing later at send time."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from notifications.topics import TOPICS
from tests.helpers import T0
from workflow.command import command
from workflow.models import OutboxMessage
from workflow.payloads import PAYLOADS

GOOD: dict[str, Any] = {
    "agreement": {"id": 1, "key": "SLA-2026-0001", "title": "Payroll"},
    "version": {"id": 1, "number": 1, "modification_number": 0, "state": "draft"},
    "task": {
        "id": 7,
        "kind": "review",
        "title": "Review the draft",
        "side": "customer",
        "role": "technical_lead",
        "due_on": "2026-11-09",
        "assignee_id": 3,
    },
}


def test_every_typed_topic_is_a_topic_with_templates() -> None:
    assert set(PAYLOADS) <= set(TOPICS)


def test_the_topics_still_without_a_type_are_known() -> None:
    untyped = set(TOPICS) - set(PAYLOADS)
    # Templates kept for mail that tasks now carry (task.assigned names the review).
    assert untyped == {"annual_review.due", "service_review.due"}


def _queue(session: Session, payload: dict[str, Any]) -> None:
    with command(session) as tx:
        tx.enqueue(
            topic="task.assigned",
            dedupe_key="payload-test",
            now=T0,
            recipients={"user_ids": [3]},
            payload=payload,
        )


def test_a_well_formed_payload_is_queued(session: Session) -> None:
    _queue(session, GOOD)
    stored = session.exec(
        select(OutboxMessage.payload).where(OutboxMessage.dedupe_key == "payload-test")
    ).one()
    assert stored == GOOD


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({k: v for k, v in GOOD.items() if k != "task"}, "task"),
        ({**GOOD, "surprise": 1}, "surprise"),
        ({**GOOD, "task": {**GOOD["task"], "due_on": None}}, "due_on"),
    ],
)
def test_a_malformed_payload_fails_the_command_and_writes_nothing(
    session: Session, payload: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValueError, match=f"(?s)'task.assigned' does not match its type.*{named}"):
        _queue(session, payload)
    assert session.exec(select(OutboxMessage)).all() == []
