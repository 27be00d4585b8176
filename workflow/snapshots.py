"""Small dict snapshots of rows for audit before/after data and outbox payloads."""

from __future__ import annotations

from typing import Any

from workflow.models import AgreementVersion, Task


def version_summary(version: AgreementVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "state": version.state,
        "lock_version": version.lock_version,
        "content_hash": version.content_hash,
    }


def task_summary(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "kind": task.kind,
        "side": task.side,
        "role": task.role,
        "state": task.state,
        "assignee_id": task.assignee_id,
        "outcome": task.outcome,
    }
