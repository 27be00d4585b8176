"""Excusing a missed metric-window: the miss is attributed to a party, with a reason.

An excusal is a proposal to the other side (domain.md, "Joint accountability"): it is recorded
when accepted, whether or not the window is (yet) a miss: data may still arrive, and the report
decides (an excusal of a window that was not missed is listed as unused and changes nothing).
At most one excusal in force per metric and window, and one proposed at a time: a second is a
conflict, not an overwrite; after a withdrawal another may be proposed.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Session, col, select

from states import LIFECYCLE, ProposalKind
from workflow.access import Actor, require_role
from workflow.calendar import local_date
from workflow.command import command
from workflow.commands.proposals import open_proposals
from workflow.errors import Conflict, InvalidInput
from workflow.models import AgreementVersion, Excusal, Proposal
from workflow.models.excusals import EXCUSAL_PARTIES
from workflow.permissions import actor_grants, lock_agreement
from workflow.queries.versions import metric_names
from workflow.subjects.proposal import make_proposal

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
) -> Proposal:
    """Propose an excusal to the other side (one transaction, audited); Program Manager or
    Business Owner. It counts only once the other side accepts it."""
    with command(session) as tx:
        agreement = lock_agreement(session, agreement_id, actor)
        grant = require_role(
            actor_grants(session, agreement, actor, local_date(now)),
            LIFECYCLE.action("excuse_miss").roles,
            "excusing a miss",
        )
        _check_excusal(_activated_metric_keys(session, agreement_id), metric, window, party, reason)
        _refuse_second_excusal(session, agreement_id, metric, window)
        what = f"{metric_names(session, agreement_id).get(metric, metric)} in {window}"
        return make_proposal(
            tx,
            agreement,
            kind=ProposalKind.EXCUSAL,
            actor=actor,
            on_behalf_of_id=grant.on_behalf_of_id,
            summary=f"excuse {what}, charged to the {party}",
            effect={
                "metric": metric,
                "window": window,
                "party": party,
                "reason": reason.strip(),
                "changes": [
                    {
                        "what": what,
                        "before": "counts as a miss (if the window missed)",
                        "after": f"excused, charged to the {party}: {reason.strip()}",
                    }
                ],
            },
            now=now,
        )


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
    """One excusal in force per metric and window, and one proposed at a time."""
    existing = session.exec(
        select(Excusal).where(
            Excusal.agreement_id == agreement_id,
            Excusal.metric_key == metric,
            Excusal.window == window,
            col(Excusal.withdrawn_at).is_(None),
        )
    ).first()
    if existing is not None:
        raise Conflict(f"{metric} in {window} is already excused ({existing.party})")
    for proposal in open_proposals(session, agreement_id, ProposalKind.EXCUSAL):
        if (proposal.effect.get("metric"), proposal.effect.get("window")) == (metric, window):
            raise Conflict(
                f"an excusal of {metric} in {window} is proposed already (proposal {proposal.id})"
            )
