"""The named effect of an extension (`states.EXTENSION.effects`).

**How an extension is represented.** A version's content is frozen once it is approved (its
content hash is what the approvers signed), and every change of an agreement in force is a
numbered modification: a new version with the next modification number, as inter-agency
agreements record a no-cost extension. So the approved extension does not edit the version in
force: it adds the next version, with the same terms and metrics except `period_end`, and the
next modification number, directly `active` (both Business Owners approved it, which is what
the lifecycle's approval would have asked). The version it replaces is superseded through the
lifecycle's own `supersede` transition, or, if it had expired, stays `expired` as the record of
what was in force until then; either way the agreement is active again. Its open governance
tasks move to the new version (`workflow.agreement_tasks`); a renewal decision still open is
moot (the new end date will have its own) and is cancelled.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from states import EXTENSION, LIFECYCLE, TaskState, VersionState
from workflow.agreement_tasks import follow_the_agreement
from workflow.announcements import ALL_STAKEHOLDERS
from workflow.canonical import content_hash
from workflow.engine import Firing, register_effects, run
from workflow.models import AgreementVersion, Task
from workflow.snapshots import version_summary
from workflow.subjects.extension import ExtensionSubject
from workflow.subjects.version import VersionSubject, agreement_payload
from workflow.transaction import flush


def _extend_period(subject: ExtensionSubject, firing: Firing) -> dict[str, Any]:
    session, extension, now = subject.session, subject.extension, firing.now
    source = subject.source_version
    assert source is not None  # the request's guard found it; the agreement lock holds
    last = session.exec(
        select(AgreementVersion.number)
        .where(AgreementVersion.agreement_id == subject.agreement.id)
        .order_by(col(AgreementVersion.number).desc())
    ).first()
    terms = {**source.terms, "period_end": extension.new_end_date.isoformat()}
    metrics = [{k: v for k, v in m.items() if k != "target_change"} for m in source.metrics]
    version = AgreementVersion(
        agreement_id=subject.agreement.id or 0,
        number=(last or 0) + 1,
        modification_number=source.modification_number + 1,
        state=VersionState.ACTIVE,
        terms=terms,
        metrics=metrics,
        content_hash=content_hash(terms, metrics),
        drafting_side=extension.requested_side,
        created_by_id=extension.requested_by_id,
        created_at=now,
        state_changed_at=now,
        activated_at=now,
    )
    session.add(version)
    flush(session)
    extension.new_version_id = version.id
    moved = follow_the_agreement(session, source.id, version)
    replaced = source.state
    if source.state == VersionState.ACTIVE:
        old = VersionSubject(subject.tx, subject.agreement, source, now=now)
        run(old, LIFECYCLE.transition("supersede"), actor=None, grant=None, now=now)
    ctx = VersionSubject(subject.tx, subject.agreement, version, now=now)
    moot = _cancel_renewal_decisions(ctx, now)
    subject.tx.audit(
        action="version.extended",
        now=now,
        agreement_id=subject.agreement.id,
        version_id=version.id,
        data={
            "extension_id": extension.id,
            "from_version": source.number,
            "period_end": {"before": source.terms.get("period_end"), "after": terms["period_end"]},
            "after": version_summary(version),
        },
    )
    subject.tx.enqueue(
        topic="version.activated",
        dedupe_key=f"version.activated:{version.id}:{version.lock_version}",
        now=now,
        agreement_id=subject.agreement.id,
        recipients=ALL_STAKEHOLDERS,
        payload={
            **agreement_payload(ctx),
            "event": "extend",
            "from_state": replaced,
            "to_state": version.state,
            "actor": "Accord",
            "comment": f"period of performance extended to {extension.new_end_date}",
        },
    )
    return {
        "new_version": version.number,
        "modification_number": version.modification_number,
        "replaced_version": {"number": source.number, "state": replaced},
        **({"moved_tasks": moved} if moved else {}),
        **({"cancelled_tasks": moot} if moot else {}),
    }


def _cancel_renewal_decisions(ctx: VersionSubject, now: Any) -> list[int]:
    cancelled = []
    for task in ctx.session.exec(
        select(Task).where(
            Task.version_id == ctx.version.id,
            Task.kind == "renewal_decision",
            Task.state == TaskState.OPEN,
        )
    ).all():
        task.state = TaskState.CANCELLED
        task.completed_at = now
        task.comment = "the period of performance was extended"
        ctx.session.add(task)
        cancelled.append(task.id)
    return [t for t in cancelled if t is not None]


register_effects(EXTENSION, {"extend_period": _extend_period})
