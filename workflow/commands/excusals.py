"""Excusing a missed metric-window: the miss is attributed to a party, with a reason.

The excusal is recorded whether or not the window is (yet) a miss: data may still arrive, and
the report decides (an excusal of a window that was not missed is listed as unused and changes
nothing). At most one excusal per metric and window: a second is a conflict, not an overwrite.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Session, col, select

from states import LIFECYCLE
from workflow.access import Actor, require_role
from workflow.calendar import local_date
from workflow.command import command
from workflow.errors import Conflict, InvalidInput
from workflow.models import AgreementVersion, Excusal
from workflow.models.excusals import EXCUSAL_PARTIES
from workflow.permissions import actor_grants, lock_agreement

WINDOW_LABEL = re.compile(r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$")
REASON_MAX = 4000


def excuse_miss(
    session: Session,
    *,
    actor: Actor,
    agreement_id: int,
    metric: str,
    window: str,
    party: str,
    reason: str,
    now: datetime,
) -> Excusal:
    """Record one excusal (one transaction, audited); Program Manager or Business Owner."""
    with command(session) as tx:
        agreement = lock_agreement(session, agreement_id, actor)
        grant = require_role(
            actor_grants(session, agreement, actor, local_date(now)),
            LIFECYCLE.action("excuse_miss").roles,
            "excusing a miss",
        )
        _check_excusal(_activated_metric_keys(session, agreement_id), metric, window, party, reason)
        _refuse_second_excusal(session, agreement_id, metric, window)
        excusal = Excusal(
            agreement_id=agreement_id,
            metric_key=metric,
            window=window,
            party=party,
            reason=reason.strip(),
            created_by_id=actor.user_id,
            created_at=now,
        )
        session.add(excusal)
        session.flush()
        tx.audit(
            action="excusal.added",
            now=now,
            agreement_id=agreement_id,
            actor_id=actor.user_id,
            on_behalf_of_id=grant.on_behalf_of_id,
            data={
                "excusal_id": excusal.id,
                "metric": metric,
                "window": window,
                "party": party,
                "reason": excusal.reason,
            },
        )
    return excusal


def _activated_metric_keys(session: Session, agreement_id: int) -> set[str]:
    """The metric keys of every version of the agreement that was ever activated."""
    return {
        m["key"]
        for metrics in session.exec(
            select(AgreementVersion.metrics).where(
                AgreementVersion.agreement_id == agreement_id,
                col(AgreementVersion.activated_at).is_not(None),
            )
        )
        for m in metrics
    }


def _check_excusal(known: set[str], metric: str, window: str, party: str, reason: str) -> None:
    """Refuse, naming every bad field at once, an excusal the agreement cannot hold."""
    errors: list[dict[str, str]] = []
    if metric not in known:
        errors.append({"field": "metric", "message": f"no activated version has {metric!r}"})
    if not WINDOW_LABEL.match(window):
        errors.append({"field": "window", "message": "a month (2027-01) or quarter (2027-Q1)"})
    if party not in EXCUSAL_PARTIES:
        errors.append({"field": "party", "message": f"one of {', '.join(EXCUSAL_PARTIES)}"})
    if not reason.strip():
        errors.append({"field": "reason", "message": "required"})
    elif len(reason.strip()) > REASON_MAX:
        errors.append({"field": "reason", "message": f"at most {REASON_MAX} characters"})
    if errors:
        raise InvalidInput("invalid excusal", errors)


def _refuse_second_excusal(session: Session, agreement_id: int, metric: str, window: str) -> None:
    existing = session.exec(
        select(Excusal).where(
            Excusal.agreement_id == agreement_id,
            Excusal.metric_key == metric,
            Excusal.window == window,
        )
    ).first()
    if existing is not None:
        raise Conflict(f"{metric} in {window} is already excused ({existing.party})")
