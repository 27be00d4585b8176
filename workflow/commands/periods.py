"""The reporting cycle: periods open when they end; results are submitted, reviewed, disputed,
resubmitted and accepted; an accepted report is final and frozen, corrected only by amendments.

Each command is one transaction under the agreement lock (as every version command is), so two
people acting on one period at once are serialised and the second sees the first's result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from states import REPORTING, SUBMIT_RESULTS, ProposalKind, VersionState
from workflow.access import Actor, require_role
from workflow.calendar import BUSINESS_TIME_ZONE, local_date
from workflow.command import Command, command
from workflow.compliance.windows import TimeWindow, window_for_day
from workflow.content import Window
from workflow.engine import fire, transition_named
from workflow.errors import InvalidInput
from workflow.models import Agreement, AgreementVersion, Proposal, ReportingPeriod
from workflow.permissions import actor_grants, lock_agreement
from workflow.subjects.amendments import require_final, totals_now
from workflow.subjects.period import PeriodSubject, lock_period
from workflow.subjects.period_effects import REASON_MAX
from workflow.subjects.proposal import make_proposal
from workflow.transaction import flush

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
_ENDED = (VersionState.EXPIRED, VersionState.TERMINATED)
_GOVERNED = (
    sa.select(
        _A.c.id,
        _A.c.key,
        _A.c.reporting_period,
        sa.func.min(_V.c.activated_at).label("first_active"),
        sa.func.sum(sa.case((_V.c.state == VersionState.ACTIVE, 1), else_=0)).label("active"),
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
    with command(session) as tx:
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
            tx.rollback()
            return
        flush(session)
        for period in opened:
            subject = PeriodSubject(tx, agreement, period, now=now)
            tasks = subject.open_new_tasks(
                [(SUBMIT_RESULTS, _submit_detail(period))], now=now, due_on=period.due_on
            )
            tx.audit(
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
    exceptions: list[dict[str, str]] | None = None,
) -> ReportingPeriod:
    """Fire `event` on the agreement's period as `actor`; one transaction, one commit."""
    with command(session) as tx:
        subject = lock_period(
            tx,
            agreement_id,
            actor,
            now,
            label=period,
            disputes=disputes,
            exceptions=exceptions,
        )
        fire(subject, transition_named(REPORTING, event), actor, now=now, comment=comment)
    return subject.period


# ---- amendments ---------------------------------------------------------------------------


def amend_period(
    session: Session,
    *,
    actor: Actor,
    agreement_id: int,
    period: str,
    reason: str,
    now: datetime,
) -> Proposal:
    """Propose to correct a final report; once the other side accepts, it is recomputed as a
    numbered, audited amendment and sent (`workflow.subjects.amendments`)."""
    with command(session) as tx:
        return _propose_amendment(tx, actor, agreement_id, period, reason, now)


def _propose_amendment(
    tx: Command, actor: Actor, agreement_id: int, period: str, reason: str, now: datetime
) -> Proposal:
    session = tx.session
    ctx = lock_period(tx, agreement_id, actor, now, label=period)
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
    require_final(ctx)
    row = ctx.period
    before = {"totals": (row.results or {}).get("totals", {}), "content_hash": row.results_hash}
    after = totals_now(ctx, now)
    changes = [
        {
            "what": name.replace("_", " "),
            "before": str(before["totals"].get(name, 0)),
            "after": str(after["totals"].get(name, 0)),
        }
        for name in ("met", "warning", "missed", "excused", "missing_data")
    ]
    changes.append(
        {
            "what": "content hash",
            "before": str(before["content_hash"]),
            "after": str(after["content_hash"]),
        }
    )
    return make_proposal(
        tx,
        ctx.agreement,
        kind=ProposalKind.AMENDMENT,
        actor=actor,
        on_behalf_of_id=grant.on_behalf_of_id,
        summary=f"amend the final report for {period}: {reason.strip()}",
        effect={
            "period": period,
            "reason": reason.strip(),
            "before": before,
            "after": after,
            "changes": changes,
        },
        now=now,
    )
