"""The reporting cycle: periods open when they end; results are submitted, reviewed, disputed,
resubmitted and accepted; an accepted report is final and frozen, corrected only by amendments.

Each command is one transaction under the agreement lock (as every version command is), so two
people acting on one period at once are serialised and the second sees the first's result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from states import (
    CORRECTIVE_ACTION,
    REPORTING,
    SUBMIT_RESULTS,
    FiredBy,
    Role,
    Side,
    TaskTemplate,
    Transition,
)
from workflow import audit, outbox
from workflow.access import Actor, require_role
from workflow.calendar import BUSINESS_TIME_ZONE, add_business_days, local_date
from workflow.completion import chosen_outcome, record_completion
from workflow.compliance.windows import TimeWindow, window_for_day
from workflow.content import Window
from workflow.db import begin_write
from workflow.effects import announce_task
from workflow.errors import Forbidden, InvalidInput, NotAllowedNow, NotFound
from workflow.models import (
    Agreement,
    AgreementVersion,
    PeriodAmendment,
    PeriodDispute,
    ReportingPeriod,
    Task,
)
from workflow.period_context import PeriodContext, trigger
from workflow.permissions import actor_grants, lock_agreement
from workflow.queries.periods import (
    FinalReportData,
    period_report,
    results_hash,
    results_of,
    stored_report,
    trend_report,
)
from workflow.transaction import command_body, commit, flush

ALL_STAKEHOLDERS: dict[str, Any] = {"stakeholders": "all"}
FINAL_TOPIC = "period.final"
AMENDED_TOPIC = "period.amended"
REASON_MAX = 4000
# A scheduler that was off for years must not open hundreds of periods in one run.
MAX_PERIODS_PER_RUN = 36
MAX_WINDOWS_SCANNED = 12 * 100  # an agreement's whole life, monthly, with room to spare


def period_label_kind(label: str) -> Window:
    return Window.QUARTER if "Q" in label else Window.MONTH


# ---- opening periods (the scheduler) ---------------------------------------------------------


@dataclass
class PeriodsOpened:
    today: date
    agreements_checked: int = 0
    opened: list[tuple[str, str]] = field(default_factory=list)  # (agreement key, period)


_V = AgreementVersion.__table__  # type: ignore[attr-defined]
_A = Agreement.__table__  # type: ignore[attr-defined]
_ENDED = ("expired", "terminated")
_GOVERNED = (
    sa.select(
        _A.c.id,
        _A.c.key,
        _A.c.reporting_period,
        sa.func.min(_V.c.activated_at).label("first_active"),
        sa.func.sum(sa.case((_V.c.state == "active", 1), else_=0)).label("active"),
        sa.func.max(sa.case((_V.c.state.in_(_ENDED), _V.c.state_changed_at))).label("ended_at"),
    )
    .select_from(_A.join(_V, _V.c.agreement_id == _A.c.id))
    .where(_V.c.activated_at.is_not(None))
    .group_by(_A.c.id, _A.c.key, _A.c.reporting_period)
)
_P = ReportingPeriod.__table__  # type: ignore[attr-defined]
_EXISTING = sa.select(_P.c.agreement_id, _P.c.period)


def open_due_periods(session: Session, *, now: datetime) -> PeriodsOpened:
    """Open every period that has ended since each agreement's first activation.

    A period ends with its last local day; it is opened the next day or on the first run after
    it, with a `submit_results` task for the provider's Program Manager due on the reporting
    day. One transaction per agreement with something to open; exactly once, because the
    missing periods are re-read under the agreement lock (and (agreement, period) is unique).
    """
    today = local_date(now)
    report = PeriodsOpened(today=today)
    rows = session.connection().execute(_GOVERNED).all()
    report.agreements_checked = len(rows)
    existing: dict[int, set[str]] = {}
    for agreement_id, label in session.connection().execute(_EXISTING):
        existing.setdefault(agreement_id, set()).add(label)
    session.rollback()
    for row in rows:
        end = None if row.active else _end_day(row.ended_at)
        due = ended_windows(
            local_date(row.first_active),
            today,
            Window(row.reporting_period),
            end,
            opened=existing.get(row.id, set()),
        )
        if due:
            _open(session, row.id, due, now, report)
    return report


def _end_day(ended_at: datetime | str | None) -> date | None:
    if ended_at is None:
        return None
    if isinstance(ended_at, str):  # SQLite returns MAX() of a datetime column as text
        ended_at = datetime.fromisoformat(ended_at)
    return local_date(ended_at)


def ended_windows(
    first_active: date,
    today: date,
    kind: Window,
    end: date | None,
    *,
    opened: set[str] | frozenset[str] = frozenset(),
) -> list[TimeWindow]:
    """The periods not yet `opened`, from the one holding the first activation to the last
    ended before `today` (and not after `end`), oldest first, at most MAX_PERIODS_PER_RUN."""
    missing: list[TimeWindow] = []
    window = window_for_day(first_active, kind, BUSINESS_TIME_ZONE)
    for _ in range(MAX_WINDOWS_SCANNED):
        if window.last_day >= today or (end is not None and window.first_day > end):
            break
        if window.label not in opened:
            missing.append(window)
            if len(missing) == MAX_PERIODS_PER_RUN:
                break
        window = window_for_day(window.last_day + timedelta(days=1), kind, BUSINESS_TIME_ZONE)
    return missing


def _open(
    session: Session,
    agreement_id: int,
    due: Sequence[TimeWindow],
    now: datetime,
    report: PeriodsOpened,
) -> None:
    begin_write(session)
    agreement = lock_agreement(session, agreement_id, None)
    present = set(
        session.exec(
            select(ReportingPeriod.period).where(ReportingPeriod.agreement_id == agreement_id)
        ).all()
    )
    opened = []
    for window in due:
        if window.label in present:
            continue  # another process opened it after our unlocked read
        period = ReportingPeriod(
            agreement_id=agreement_id,
            period=window.label,
            kind=window.kind.value,
            first_day=window.first_day,
            last_day=window.last_day,
            due_on=window.last_day + timedelta(days=agreement.reporting_day),
            state_changed_at=now,
            created_at=now,
        )
        session.add(period)
        opened.append(period)
    if not opened:
        session.rollback()
        return
    flush(session)
    for period in opened:
        ctx = PeriodContext(session, agreement, period, now=now)
        tasks = _open_tasks(
            ctx,
            [(SUBMIT_RESULTS, _submit_detail(period))],
            now=now,
            due_on=period.due_on,
        )
        audit.append(
            session,
            action="period.opened",
            now=now,
            agreement_id=agreement_id,
            data={
                "period": period.period,
                "first_day": period.first_day.isoformat(),
                "last_day": period.last_day.isoformat(),
                "due_on": period.due_on.isoformat(),
                "opened_tasks": [t.id for t in tasks],
            },
        )
        report.opened.append((agreement.key, period.period))
    commit(session)


def _submit_detail(period: ReportingPeriod) -> str:
    return (
        f"Period {period.period} ({period.first_day:%d %b %Y} to {period.last_day:%d %b %Y}) "
        f"has ended. Make sure its measurements are uploaded and misses excused where another "
        f"party caused them, then submit the results by {period.due_on:%d %b %Y}."
    )


# ---- events -------------------------------------------------------------------------------


def fire_period_event(
    session: Session,
    *,
    actor: Actor,
    agreement_id: int,
    period: str,
    event: str,
    now: datetime,
    comment: str | None = None,
    disputes: list[dict[str, str]] | None = None,
) -> ReportingPeriod:
    """Fire `event` on the agreement's period as `actor`; one transaction, one commit."""
    begin_write(session)
    with command_body(session):
        ctx = _fire(session, actor, agreement_id, period, event, now, comment, disputes)
    commit(session)
    return ctx.period


def _fire(
    session: Session,
    actor: Actor,
    agreement_id: int,
    period: str,
    event: str,
    now: datetime,
    comment: str | None,
    disputes: list[dict[str, str]] | None,
) -> PeriodContext:
    ctx = _lock(session, agreement_id, actor, period, now, disputes)
    try:
        transition = REPORTING.transition(event)
    except KeyError:
        raise NotFound(f"no period event named {event!r}") from None
    day = local_date(now)
    if ctx.period.state not in transition.sources:
        allowed = _allowed(ctx, actor, day)
        raise NotAllowedNow(
            f"{event} is not allowed while period {period} is {ctx.period.state}"
            + (f"; you may: {', '.join(allowed)}" if allowed else ""),
            current_state=ctx.period.state,
            allowed_events=allowed,
        )
    if transition.fired_by is FiredBy.SYSTEM:
        raise Forbidden(f"{event} happens automatically; nobody fires it by hand")
    assert transition.task_kind is not None
    task, on_behalf_of = _task_for(ctx, actor, transition.task_kind, day)
    outcome = next(o for o in REPORTING.task_kind(task.kind).outcomes if o.fires == event)
    _finish(ctx, task, outcome.name, actor, on_behalf_of, comment, now)
    return ctx


def complete_period_task(
    session: Session,
    *,
    actor: Actor,
    task: Task,
    agreement_id: int,
    outcome: str,
    comment: str | None,
    now: datetime,
) -> None:
    """The part of `complete_task` for a period's task, inside that command's transaction."""
    assert task.period_id is not None
    label = session.exec(
        select(ReportingPeriod.period).where(ReportingPeriod.id == task.period_id)
    ).one()
    ctx = _lock(session, agreement_id, actor, label, now, None)
    task = next(t for t in ctx.tasks if t.id == task.id)  # read under the lock
    if task.state != "open":
        raise NotAllowedNow(
            f"task {task.id} is already {task.state}", current_state=task.state, allowed_events=[]
        )
    day = local_date(now)
    if task.assignee_id == actor.user_id:
        on_behalf_of = None
    elif task.assignee_id in ctx.delegators(actor.user_id, day):
        on_behalf_of = task.assignee_id
    else:
        raise Forbidden("only the task's assignee or their delegate may complete it")
    _finish(ctx, task, outcome, actor, on_behalf_of, comment, now)


def _lock(
    session: Session,
    agreement_id: int,
    actor: Actor | None,
    label: str,
    now: datetime,
    disputes: list[dict[str, str]] | None,
) -> PeriodContext:
    agreement = lock_agreement(session, agreement_id, actor)
    period = session.exec(
        select(ReportingPeriod)
        .where(ReportingPeriod.agreement_id == agreement_id, ReportingPeriod.period == label)
        .execution_options(populate_existing=True)
    ).first()
    if period is None:
        raise NotFound(f"{agreement.key} has no reporting period {label!r}")
    return PeriodContext(session, agreement, period, now=now, disputes=disputes)


def _task_for(ctx: PeriodContext, actor: Actor, kind: str, day: date) -> tuple[Task, int | None]:
    principals = [actor.user_id, *ctx.delegators(actor.user_id, day)]
    for principal in principals:
        for task in ctx.open_tasks(kind):
            if task.assignee_id == principal:
                return task, None if principal == actor.user_id else principal
    holders = ctx.open_tasks(kind)
    who = (
        f"the {holders[0].side} {Role(holders[0].role).label}"
        if holders
        else "the holder of the task"
    )
    raise Forbidden(f"only {who} (or their delegate) may do this: it is their {kind} task")


def _allowed(ctx: PeriodContext, actor: Actor, day: date) -> list[str]:
    allowed = []
    for t in REPORTING.events_from(ctx.period.state):
        if t.fired_by is not FiredBy.TASK_ASSIGNEE or t.task_kind is None:
            continue
        try:
            _task_for(ctx, actor, t.task_kind, day)
        except Forbidden:
            continue
        allowed.append(t.event)
    return allowed


def _finish(
    ctx: PeriodContext,
    task: Task,
    outcome_name: str,
    actor: Actor,
    on_behalf_of: int | None,
    comment: str | None,
    now: datetime,
) -> None:
    """Complete the task with `outcome_name`, then fire the event the outcome leads to."""
    outcome = chosen_outcome(REPORTING.task_kind(task.kind), outcome_name)
    transition = REPORTING.transition(outcome.fires) if outcome.fires else None
    if transition is not None:
        _check(ctx, transition)  # a dispute naming nothing is refused for that, first
    if outcome.comment_required and not (comment and comment.strip()) and not ctx.disputes:
        raise InvalidInput(
            f"{outcome.name} needs a comment", [{"field": "comment", "message": "required"}]
        )
    record_completion(task, outcome, actor, on_behalf_of, comment=comment, now=now)
    ctx.session.add(task)
    audit.append(
        ctx.session,
        action="task.completed",
        now=now,
        agreement_id=ctx.agreement.id,
        actor_id=actor.user_id,
        on_behalf_of_id=on_behalf_of,
        data={
            "task_id": task.id,
            "period": ctx.period.period,
            "outcome": outcome.name,
            "comment": comment,
        },
    )
    if transition is not None:
        _apply(ctx, transition, actor, on_behalf_of, comment, now)


def _check(ctx: PeriodContext, transition: Transition) -> None:
    if ctx.period.state not in transition.sources:
        raise NotAllowedNow(
            f"{transition.event} is not allowed while period {ctx.period.period} is "
            f"{ctx.period.state}",
            current_state=ctx.period.state,
            allowed_events=[],
        )
    failed = ctx.failed_guards(transition.guards)
    if failed:
        reasons = [REPORTING.guards[g] for g in failed]
        raise NotAllowedNow(
            f"cannot {transition.event} now: " + "; ".join(reasons),
            current_state=ctx.period.state,
            allowed_events=[],
            reasons=reasons + _dispute_problems(ctx),
        )


def _dispute_problems(ctx: PeriodContext) -> list[str]:
    reported = ctx.reported_metrics
    problems = []
    for d in ctx.disputes:
        if d.get("metric") not in reported:
            problems.append(f"{d.get('metric')!r} is not a metric of this period's results")
        if not (d.get("reason") or "").strip():
            problems.append(f"the dispute of {d.get('metric')!r} gives no reason")
    return problems


def _apply(
    ctx: PeriodContext,
    transition: Transition,
    actor: Actor | None,
    on_behalf_of: int | None,
    comment: str | None,
    now: datetime,
) -> None:
    _check(ctx, transition)
    period = ctx.period
    source = period.state
    if not trigger(ctx, transition.event):
        raise RuntimeError(f"machine refused {transition.event} after its guards held")
    period.state_changed_at = now
    data: dict[str, Any] = {"period": period.period, "from_state": source, "to_state": period.state}
    if comment:
        data["comment"] = comment
    if transition.event in ("submit", "resubmit"):
        _submit(ctx, actor, comment, now)
        data["round"], data["results_hash"] = period.round, period.results_hash
    elif transition.event == "dispute":
        data["disputes"] = _record_disputes(ctx, actor, now)
    elif transition.event == "finalize":
        period.final_hash, period.finalized_at = period.results_hash, now
        data["final_hash"] = period.final_hash
    ctx.session.add(period)
    flush(ctx.session)
    opened = _open_tasks(ctx, [(t, _detail(ctx, t)) for t in transition.opens], now=now)
    if transition.event == "finalize":
        opened += _corrective_actions(ctx, now)
    if opened:
        data["opened_tasks"] = [t.id for t in opened]
    audit.append(
        ctx.session,
        action=f"period.{transition.event}",
        now=now,
        agreement_id=ctx.agreement.id,
        actor_id=actor.user_id if actor else None,
        on_behalf_of_id=on_behalf_of,
        data=data,
    )
    if transition.event == "finalize":
        _announce_final(ctx, now)
    if transition.event == "accept":
        _apply(ctx, REPORTING.transition("finalize"), None, None, None, now)


def _submit(ctx: PeriodContext, actor: Actor | None, comment: str | None, now: datetime) -> None:
    period = ctx.period
    report = period_report(
        ctx.session, ctx.agreement.id or 0, period.first_day, period.last_day, now=now
    )
    period.results = results_of(report)
    period.results_hash = results_hash(period.results)
    period.round += 1
    period.submitted_at, period.submitted_by_id = now, actor.user_id if actor else None
    if period.round > 1:
        for dispute in ctx.session.exec(
            select(PeriodDispute).where(
                PeriodDispute.period_id == period.id,
                PeriodDispute.round == period.round - 1,
                col(PeriodDispute.answer).is_(None),
            )
        ):
            dispute.answer = (comment or "").strip() or "resubmitted without comment"
            dispute.answered_at = now
            ctx.session.add(dispute)


def _record_disputes(
    ctx: PeriodContext, actor: Actor | None, now: datetime
) -> list[dict[str, str]]:
    recorded = []
    for d in ctx.disputes:
        reason = d["reason"].strip()[:REASON_MAX]
        ctx.session.add(
            PeriodDispute(
                period_id=ctx.period.id or 0,
                round=ctx.period.round,
                metric_key=d["metric"],
                reason=reason,
                raised_by_id=actor.user_id if actor else None,
                raised_at=now,
            )
        )
        recorded.append({"metric": d["metric"], "reason": reason})
    return recorded


def _detail(ctx: PeriodContext, template: TaskTemplate) -> str:
    period = ctx.period
    if template.kind == "address_dispute":
        named = "; ".join(f"{d['metric']}: {d['reason'].strip()}" for d in ctx.disputes)
        return f"The customer disputed round {period.round} of {period.period}: {named}"
    totals = (period.results or {}).get("totals", {})
    return (
        f"Round {period.round} of {period.period}'s results: {totals.get('met', 0)} met, "
        f"{totals.get('warning', 0)} warning, {totals.get('missed', 0)} missed, "
        f"{totals.get('excused', 0)} excused, {totals.get('no_data', 0)} without data. "
        "Accept them, or dispute the metrics you disagree with, each with a reason."
    )


def _open_tasks(
    ctx: PeriodContext,
    templates: list[tuple[TaskTemplate, str]],
    *,
    now: datetime,
    due_on: date | None = None,
    titles: Sequence[str] | None = None,
) -> list[Task]:
    opened = []
    for i, (template, detail) in enumerate(templates):
        side = Side(template.side.value)
        opened.append(
            Task(
                agreement_id=ctx.agreement.id or 0,
                version_id=None,
                period_id=ctx.period.id,
                kind=template.kind,
                side=side.value,
                role=template.role.value,
                assignee_id=ctx.assignee_for(side, template.role),
                title=titles[i] if titles else f"{template.title} ({ctx.period.period})",
                detail=detail,
                required=template.required,
                due_on=due_on
                or add_business_days(
                    local_date(now), template.due_business_days, ctx.calendars[side]
                ),
                escalation_roles=[r.value for r in template.escalation_roles],
                created_at=now,
            )
        )
    if not opened:
        return []
    ctx.session.add_all(opened)
    flush(ctx.session)
    ctx.tasks.extend(opened)
    for task in opened:
        announce_task(ctx.session, task, about=_payload(ctx), now=now)
    return opened


def _corrective_actions(ctx: PeriodContext, now: datetime) -> list[Task]:
    """A task per unexcused miss not yet given one in this period (corrective-action policy)."""
    misses = (ctx.period.results or {}).get("corrective_actions", [])
    have = {t.title for t in ctx.tasks if t.kind == CORRECTIVE_ACTION.kind}
    wanted = []
    for miss in misses:
        title = f"Corrective action: {miss['metric_key']} missed in {miss['window']}"
        if title not in have:
            have.add(title)
            wanted.append(
                (
                    title,
                    f"{miss['metric_key']} was {miss['actual']} in {miss['window']} against a "
                    f"target of {miss['target']}. Find the cause, plan the correction and "
                    "report it to the customer.",
                )
            )
    return _open_tasks(
        ctx,
        [(CORRECTIVE_ACTION, detail) for _title, detail in wanted],
        now=now,
        titles=[title for title, _detail in wanted],
    )


def _payload(ctx: PeriodContext) -> dict[str, Any]:
    period = ctx.period
    return {
        "agreement": {
            "id": ctx.agreement.id,
            "key": ctx.agreement.key,
            "title": ctx.agreement.title,
        },
        "version": {"id": None, "number": None, "modification_number": None, "state": None},
        "period": {
            "label": period.period,
            "first_day": period.first_day.isoformat(),
            "last_day": period.last_day.isoformat(),
            "state": period.state,
            "round": period.round,
        },
    }


def _announce_final(ctx: PeriodContext, now: datetime, *, amendment: int | None = None) -> None:
    period = ctx.period
    topic = FINAL_TOPIC if amendment is None else AMENDED_TOPIC
    outbox.enqueue(
        ctx.session,
        topic=topic,
        dedupe_key=f"{topic}:{period.id}:{amendment or 0}",
        now=now,
        agreement_id=ctx.agreement.id,
        recipients=ALL_STAKEHOLDERS,
        payload={
            **_payload(ctx),
            "content_hash": period.final_hash if amendment is None else period.results_hash,
            "amendment": amendment,
            "totals": (period.results or {}).get("totals", {}),
            # Data, not HTML: notifications renders the email when it is sent.
            **FinalReportData(
                report=stored_report(period.results or {}),
                trend=trend_report(ctx.session, ctx.agreement.id or 0, period.last_day, now=now),
            ).payload(),
        },
    )


# ---- amendments ---------------------------------------------------------------------------


def amend_period(
    session: Session,
    *,
    actor: Actor,
    agreement_id: int,
    period: str,
    reason: str,
    now: datetime,
) -> PeriodAmendment:
    """Correct a final report: recompute it as a numbered, audited amendment, and send it."""
    begin_write(session)
    with command_body(session):
        amendment = _amend(session, actor, agreement_id, period, reason, now)
    commit(session)
    return amendment


def _amend(
    session: Session, actor: Actor, agreement_id: int, period: str, reason: str, now: datetime
) -> PeriodAmendment:
    ctx = _lock(session, agreement_id, actor, period, now, None)
    grant = require_role(
        actor_grants(session, ctx.agreement, actor, local_date(now)),
        REPORTING.action("amend_report").roles,
        "amending a final report",
    )
    if not reason.strip():
        raise InvalidInput(
            "an amendment needs a reason", [{"field": "reason", "message": "required"}]
        )
    if len(reason.strip()) > REASON_MAX:
        raise InvalidInput(
            "the reason is too long", [{"field": "reason", "message": f"at most {REASON_MAX}"}]
        )
    row = ctx.period
    if row.state != "final":
        raise NotAllowedNow(
            f"only a final report is amended; {period} is {row.state}",
            current_state=row.state,
            allowed_events=[],
        )
    report = period_report(session, agreement_id, row.first_day, row.last_day, now=now)
    results = results_of(report)
    digest = results_hash(results)
    row.amendments += 1
    amendment = PeriodAmendment(
        period_id=row.id or 0,
        number=row.amendments,
        reason=reason.strip(),
        results=results,
        content_hash=digest,
        created_by_id=actor.user_id,
        created_at=now,
    )
    # The final report stays as frozen; `results` follow the newest amendment.
    row.results, row.results_hash = results, digest
    session.add_all([row, amendment])
    flush(session)
    opened = _corrective_actions(ctx, now)
    audit.append(
        session,
        action="period.amended",
        now=now,
        agreement_id=agreement_id,
        actor_id=actor.user_id,
        on_behalf_of_id=grant.on_behalf_of_id,
        data={
            "period": period,
            "amendment": amendment.number,
            "reason": amendment.reason,
            "content_hash": digest,
            "final_hash": row.final_hash,
            "opened_tasks": [t.id for t in opened],
        },
    )
    _announce_final(ctx, now, amendment=amendment.number)
    return amendment
