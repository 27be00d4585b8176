"""What a transition does besides changing state: tasks, gaps, audit and outbox rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, delete

from states import FOLLOW_UP, LIFECYCLE, Role, Side, SideRef, TaskTemplate, Transition
from workflow import audit, outbox
from workflow.access import Actor, Grant
from workflow.calendar import add_business_days, local_date
from workflow.content import Metric, Terms, is_stricter
from workflow.errors import NotAllowedNow
from workflow.guards import VersionContext
from workflow.machine import trigger
from workflow.models import Gap, Task, User
from workflow.queries.what_if import measured_shortfalls, study_zone
from workflow.snapshots import version_summary
from workflow.transaction import flush

ALL_STAKEHOLDERS: dict[str, Any] = {"stakeholders": "all"}


def resolve_side(template: TaskTemplate, ctx: VersionContext, grant: Grant | None) -> Side:
    if template.side is SideRef.DRAFTING:
        return Side(ctx.version.drafting_side)
    if template.side is SideRef.ACTOR:
        return grant.side if grant is not None else Side(ctx.version.drafting_side)
    return Side(template.side.value)


def assignee_for(ctx: VersionContext, side: Side, role: Role) -> int | None:
    """The role's holder, or the side's Program Manager when the role is not filled."""
    return ctx.assignments.get((side, role)) or ctx.assignments.get((side, Role.PROGRAM_MANAGER))


def open_tasks(
    ctx: VersionContext,
    templates: list[tuple[TaskTemplate, str]],
    *,
    grant: Grant | None,
    now: datetime,
) -> list[Task]:
    """Open one task per (template, detail), flushed together, and announce each."""
    opened = _add_tasks(ctx, templates, grant=grant, now=now)
    if opened:
        flush(ctx.session)
        _announce_tasks(ctx, opened, now)
    return opened


def _add_tasks(
    ctx: VersionContext,
    templates: list[tuple[TaskTemplate, str]],
    *,
    grant: Grant | None,
    now: datetime,
) -> list[Task]:
    """New tasks, added to the session but not flushed: they have no id yet."""
    opened = []
    for template, detail in templates:
        side = resolve_side(template, ctx, grant)
        due_on = add_business_days(local_date(now), template.due_business_days, ctx.calendars[side])
        opened.append(
            Task(
                agreement_id=ctx.agreement.id,  # type: ignore[arg-type]
                version_id=ctx.version.id,
                cycle=ctx.version.cycle,
                kind=template.kind,
                side=side.value,
                role=template.role.value,
                assignee_id=assignee_for(ctx, side, template.role),
                title=template.title or template.kind.replace("_", " ").capitalize(),
                detail=detail,
                required=template.required,
                due_on=due_on,
                escalation_roles=[r.value for r in template.escalation_roles],
                created_at=now,
            )
        )
    ctx.session.add_all(opened)
    ctx.add_tasks(opened)
    return opened


def open_task(
    ctx: VersionContext,
    template: TaskTemplate,
    *,
    grant: Grant | None,
    now: datetime,
    detail: str = "",
) -> Task:
    return open_tasks(ctx, [(template, detail)], grant=grant, now=now)[0]


def _announce_tasks(ctx: VersionContext, tasks: list[Task], now: datetime) -> None:
    for task in tasks:
        _announce_task(ctx, task, now)


def _announce_task(ctx: VersionContext, task: Task, now: datetime) -> None:
    announce_task(ctx.session, task, about=agreement_payload(ctx), now=now)


def announce_task(session: Session, task: Task, *, about: dict[str, Any], now: datetime) -> None:
    """Tell the assignee of a new task (`about`: the agreement and version, or period)."""
    outbox.enqueue(
        session,
        topic="task.assigned",
        dedupe_key=f"task.assigned:{task.id}",
        now=now,
        agreement_id=task.agreement_id,
        recipients={"user_ids": [task.assignee_id] if task.assignee_id else []},
        payload={
            **about,
            "task": {
                "id": task.id,
                "kind": task.kind,
                "title": task.title,
                "detail": task.detail,
                "side": task.side,
                "role": task.role,
                "due_on": task.due_on.isoformat(),
                "assignee_id": task.assignee_id,
            },
        },
    )


def announce_approval(ctx: VersionContext, task: Task, actor: Actor, now: datetime) -> None:
    """Tell every stakeholder that one approver approved (with or without conditions)."""
    topic = f"version.{task.outcome}"
    outbox.enqueue(
        ctx.session,
        topic=topic,
        dedupe_key=f"{topic}:{task.id}",
        now=now,
        agreement_id=ctx.agreement.id,
        recipients=ALL_STAKEHOLDERS,
        payload={
            **agreement_payload(ctx),
            "task": {
                "id": task.id,
                "kind": task.kind,
                "title": task.title,
                "side": task.side,
                "role": task.role,
                "due_on": task.due_on.isoformat(),
                "assignee_id": task.assignee_id,
            },
            "outcome": task.outcome,
            "actor": actor.name,
            "comment": task.comment,
        },
    )


def cancel_open_tasks(ctx: VersionContext, now: datetime) -> list[int]:
    cancelled = []
    for task in ctx.open_tasks():
        task.state = "cancelled"
        task.completed_at = now
        ctx.session.add(task)
        cancelled.append(task.id)
    return [t for t in cancelled if t is not None]


def compute_gaps(ctx: VersionContext, now: datetime) -> list[dict[str, Any]]:
    """Replace the version's gaps with those its requirements and capabilities imply."""
    ctx.session.execute(delete(Gap).where(Gap.version_id == ctx.version.id))  # type: ignore[arg-type]
    found: list[Gap] = []
    for metric in ctx.version.metrics:
        req, cap = metric.get("requirement"), metric.get("capability")
        if req is None or cap is None or not is_stricter(metric["direction"], req, cap):
            continue
        severity, why = gap_severity(metric, float(req), float(cap))
        found.append(
            Gap(
                agreement_id=ctx.agreement.id,  # type: ignore[arg-type]
                version_id=ctx.version.id,  # type: ignore[arg-type]
                metric_key=metric["key"],
                source="computed",
                requirement=req,
                capability=cap,
                severity=severity,
                description=(
                    f"{metric['name']}: the customer requires {req:g} {metric['unit']}, "
                    f"the provider can deliver {cap:g}. {why}"
                ),
                created_at=now,
            )
        )
    found.extend(_measured_gaps(ctx, found, now))
    ctx.session.add_all(found)
    flush(ctx.session)
    ctx.__dict__.pop("gaps", None)
    return [{"metric": g.metric_key, "severity": g.severity, "source": g.source} for g in found]


SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}


def _measured_gaps(ctx: VersionContext, computed: list[Gap], now: datetime) -> list[Gap]:
    """Gaps from measured performance over the last 6 windows before `now` (see
    `workflow.compliance.what_if`). A metric that already has a requirement-vs-capability gap
    gets the evidence appended to that gap's description (and the higher severity) instead."""
    metrics = [Metric.model_validate(m) for m in ctx.version.metrics]
    if not metrics or ctx.agreement.id is None:
        return []
    zone = study_zone(ctx.session, ctx.agreement.id, Terms.model_validate(ctx.version.terms))
    shortfalls = measured_shortfalls(ctx.session, ctx.agreement.id, metrics, now, zone)
    by_key = {g.metric_key: g for g in computed}
    added: list[Gap] = []
    for metric in metrics:
        shortfall = shortfalls.get(metric.key)
        if shortfall is None:
            continue
        evidence = shortfall.describe(metric)
        existing = by_key.get(metric.key)
        if existing is not None:
            existing.description = f"{existing.description} {evidence}"[:2000]
            if SEVERITY_RANK[shortfall.severity] > SEVERITY_RANK[existing.severity]:
                existing.severity = shortfall.severity
            continue
        added.append(
            Gap(
                agreement_id=ctx.agreement.id,
                version_id=ctx.version.id,  # type: ignore[arg-type]
                metric_key=metric.key,
                source="measured",
                requirement=metric.requirement,
                capability=metric.capability,
                severity=shortfall.severity,
                description=evidence[:2000],
                created_at=now,
            )
        )
    return added


def gap_severity(metric: dict[str, Any], req: float, cap: float) -> tuple[str, str]:
    """Severity from how far apart the two are, explained in one sentence."""
    if metric.get("unit") == "percent" and metric["direction"] == "higher_is_better" and req < 100:
        ratio = (100 - cap) / (100 - req)
        severity = "high" if ratio >= 5 else "medium" if ratio >= 2 else "low"
        return severity, f"The provider's shortfall allowance is {ratio:.1f}x the customer's."
    relative = abs(req - cap) / abs(req) if req else 1.0
    severity = "high" if relative >= 0.2 else "medium" if relative >= 0.05 else "low"
    return severity, f"They differ by {relative:.1%} of the requirement."


def agreement_payload(ctx: VersionContext) -> dict[str, Any]:
    """What every message about a version carries: the agreement and the version."""
    return {
        "agreement": {
            "id": ctx.agreement.id,
            "key": ctx.agreement.key,
            "title": ctx.agreement.title,
        },
        "version": {
            "id": ctx.version.id,
            "number": ctx.version.number,
            "modification_number": ctx.version.modification_number,
            "state": ctx.version.state,
        },
    }


def apply_transition(
    ctx: VersionContext,
    transition: Transition,
    *,
    actor: Actor | None,
    grant: Grant | None,
    now: datetime,
    comment: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Move the version along `transition` and perform every effect the spec names."""
    failed = ctx.failed_guards(transition.guards)
    if failed:
        raise NotAllowedNow(
            f"cannot {transition.event} now: " + "; ".join(LIFECYCLE.guards[g] for g in failed),
            current_state=ctx.version.state,
            allowed_events=[],
            reasons=[LIFECYCLE.guards[g] for g in failed],
        )
    before = version_summary(ctx.version)
    source = ctx.version.state
    if not trigger(ctx, transition.event):
        raise RuntimeError(f"machine refused {transition.event} after its guards held")
    ctx.version.state_changed_at = now
    if transition.dest == LIFECYCLE.initial:
        ctx.version.cycle += 1
    data: dict[str, Any] = {"from_state": source, "to_state": ctx.version.state}
    if comment:
        data["comment"] = comment
    if transition.cancels_open_tasks:
        data["cancelled_tasks"] = cancel_open_tasks(ctx, now)
    if transition.dest == "gap_analysis":
        data["gaps"] = compute_gaps(ctx, now)
    if transition.dest == "active":
        data.update(_activate(ctx, actor, now))
    opened = _add_tasks(
        ctx,
        [
            (tpl, "")
            for tpl in transition.opens
            if tpl.condition is None or getattr(ctx, tpl.condition)()
        ],
        grant=grant,
        now=now,
    )
    ctx.session.add(ctx.version)
    # One flush for everything above: the version's UPDATE checks and bumps lock_version
    # (which the audit "after" and the outbox dedupe key need), task changes are written and
    # new tasks get their ids.
    flush(ctx.session)
    _announce_tasks(ctx, opened, now)
    if opened:
        data["opened_tasks"] = [t.id for t in opened]
    if extra:
        data.update(extra)
    data["before"], data["after"] = before, version_summary(ctx.version)
    audit.append(
        ctx.session,
        action=f"version.{transition.event}",
        now=now,
        agreement_id=ctx.agreement.id,
        version_id=ctx.version.id,
        actor_id=actor.user_id if actor else None,
        on_behalf_of_id=grant.on_behalf_of_id if grant else None,
        data=data,
    )
    outbox.enqueue(
        ctx.session,
        topic=transition.topic,
        dedupe_key=f"{transition.topic}:{ctx.version.id}:{ctx.version.lock_version}",
        now=now,
        agreement_id=ctx.agreement.id,
        recipients=ALL_STAKEHOLDERS,
        payload={
            **agreement_payload(ctx),
            "event": transition.event,
            "from_state": source,
            "to_state": ctx.version.state,
            "actor": actor.name if actor else "Accord",
            "comment": comment,
        },
    )


def _activate(ctx: VersionContext, actor: Actor | None, now: datetime) -> dict[str, Any]:
    """Supersede the previous active version and turn conditions into follow-up tasks."""
    ctx.version.activated_at = now
    effects: dict[str, Any] = {}
    previous = ctx.active_version
    if previous is not None:
        old = VersionContext(ctx.session, ctx.agreement, previous, now=now)
        apply_transition(old, LIFECYCLE.transition("supersede"), actor=None, grant=None, now=now)
        effects["superseded_version"] = previous.number
    follow_ups = []
    for approval in ctx.current("approval"):
        if approval.outcome == "approved_with_conditions":
            approver = ctx.session.get(User, approval.completed_by_id)
            task = open_task(
                ctx,
                FOLLOW_UP,
                grant=Grant(Side(approval.side), Role(approval.role)),
                now=now,
                detail=f"Condition of approval by {approver.name if approver else 'an approver'}"
                f": {approval.comment}",
            )
            follow_ups.append(task.id)
    if follow_ups:
        effects["follow_up_tasks"] = follow_ups
    return effects
