"""The audit trail: one agreement's events, and verification of every chain."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from api.deps import ActorDep, SessionDep
from api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, page
from api.types import Id
from workflow.queries.audit_log import AuditEntry, agreement_audit, system_audit, verify_scope

router = APIRouter(tags=["audit"])


class Verification(BaseModel):
    # Extra members pass through, so the report can grow without the API dropping them.
    model_config = ConfigDict(extra="allow")

    ok: bool
    agreements_checked: int
    events_checked: int
    failures: list[dict[str, Any]]


@router.get("/slas/{sla_id}/audit")
def get_audit(
    sla_id: Id,
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[AuditEntry]:
    """The agreement's audit events, oldest first, with their hash chain."""
    return page(agreement_audit(session, actor, sla_id, limit=limit, after=decode_cursor(cursor)))


@router.get("/audit/system")
def get_system_audit(
    session: SessionDep, actor: ActorDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[AuditEntry]:
    """Administration acts (users, roles, tokens, invitations, resets), sign-ins and
    checkpoints, oldest first: for administrators and global auditors."""
    return page(system_audit(session, actor, limit=limit, after=decode_cursor(cursor)))


@router.get("/audit/verify")
def verify_audit(session: SessionDep, actor: ActorDep) -> Verification:
    """Recompute the chains the caller may audit (administrators and global auditors: every
    chain; an organisation's auditor: its agreements'); `failures` names the first bad event
    of each broken chain."""
    return Verification.model_validate(verify_scope(session, actor).model_dump())
