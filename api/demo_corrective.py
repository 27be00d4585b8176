"""The demo's corrective action plan in progress: an agreement active for eight weeks whose first
month missed invoice-payment-timeliness. The month's report is final, the provider's Program
Manager planned the correction and the customer's Program Manager accepted the plan, so the
provider now carries it out (actions with owners and due dates, a target date). The customer
accepted that report with an exception (how the miss was counted), which waits for the next
service review.

Its story runs first and in the past, from the demo's start, then gives the clock back, so the
rest of the demo unfolds as before. Everything goes through commands, as the rest of the demo.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from sqlmodel import select

from api.demo_history import observations
from states import Role, Side
from workflow import commands
from workflow.access import Actor
from workflow.calendar import local_date, time_zone
from workflow.corrective_plan import Plan, PlannedAction
from workflow.example import LifecycleDriver
from workflow.measurements.rules import RawRow
from workflow.models import Agreement, CorrectiveAction

TITLE = "Payroll Services O&M SLA FY2027"
METRIC = "invoice-payment-timeliness"
MISSED_BY = 3.0  # points below the target, every day of the first month
EXCEPTION = (
    "Invoices received after 4 pm were counted the next day; we count them on the day received"
)
C, P = Side.CUSTOMER, Side.PROVIDER
PM = Role.PROGRAM_MANAGER


def add_corrective_action_story(
    driver: LifecycleDriver,
    create: Callable[[str, Actor], Agreement],
    *,
    until: datetime,
) -> Agreement | None:
    """The agreement with a plan in progress (None when its first month has not ended by
    `until`); the driver's clock is where it was when this returns."""
    begun = driver.now
    try:
        agreement = create(TITLE, driver.who(C, PM))
        driver.to_active(agreement)
        label = _final_first_month(driver, agreement, until)
        if label is not None:
            _plan_accepted(driver, agreement, local_date(until))
        return agreement
    finally:
        driver.now = begun


def _final_first_month(
    driver: LifecycleDriver, agreement: Agreement, until: datetime
) -> str | None:
    assert agreement.id is not None
    version = driver.version(agreement)
    zone = version.terms.get("time_zone") or "America/New_York"
    first = max(local_date(driver.now, zone), date.fromisoformat(version.terms["period_start"]))
    month_end = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    if month_end >= local_date(until, zone):
        return None
    rows = [
        _missed(row, version.metrics)
        for row in observations(list(version.metrics), first, month_end, zone)
    ]
    commands.import_measurements(
        driver.session,
        actor=driver.who(P, Role.PMO_TEAM),
        agreement_id=agreement.id,
        rows=rows,
        source="json",
        now=driver.tick(),
    )
    driver.now = datetime.combine(month_end + timedelta(days=1), time(9), tzinfo=time_zone(zone))
    commands.open_due_periods(driver.session, now=driver.tick())
    label = f"{month_end:%Y-%m}"
    commands.fire_period_event(
        driver.session,
        actor=driver.who(P, PM),
        agreement_id=agreement.id,
        period=label,
        event="submit",
        now=driver.tick(),
    )
    # Final, but the customer still disputes how the miss was measured: an exception for the
    # next service review (docs/reporting.md).
    commands.fire_period_event(
        driver.session,
        actor=driver.who(C, Role.FUNCTIONAL_LEAD),
        agreement_id=agreement.id,
        period=label,
        event="accept_with_exceptions",
        now=driver.tick(),
        exceptions=[{"metric": METRIC, "reason": EXCEPTION}],
    )
    return label


def _missed(row: RawRow, metrics: list[dict[str, object]]) -> RawRow:
    if row.metric != METRIC:
        return row
    target = next(float(str(m["target"])) for m in metrics if m["key"] == METRIC)
    return row._replace(value=round(target - MISSED_BY, 3))


def _plan_accepted(driver: LifecycleDriver, agreement: Agreement, today: date) -> None:
    action_id = driver.session.exec(
        select(CorrectiveAction.id).where(
            CorrectiveAction.agreement_id == agreement.id, CorrectiveAction.metric_key == METRIC
        )
    ).one()
    driver.session.rollback()
    assert action_id is not None
    lead, pm = driver.who(P, Role.TECHNICAL_LEAD), driver.who(P, PM)
    plan = Plan(
        "Invoices received after the 3 p.m. cut-off waited a day in the scanning queue, and "
        "the nightly matching batch failed twice without anyone being paged.",
        (
            PlannedAction(
                "Page the on-call engineer when the matching batch fails",
                lead.user_id,
                today + timedelta(days=14),
            ),
            PlannedAction(
                "Scan invoices received after the cut-off first the next morning",
                pm.user_id,
                today + timedelta(days=21),
            ),
            PlannedAction(
                "Report the daily backlog to the customer until two months are met",
                pm.user_id,
                today + timedelta(days=35),
            ),
        ),
        today + timedelta(days=42),
    )
    commands.fire_corrective_action_event(
        driver.session,
        actor=pm,
        action_id=action_id,
        event="submit_plan",
        now=driver.tick(),
        plan=plan,
    )
    commands.fire_corrective_action_event(
        driver.session,
        actor=driver.who(C, PM),
        action_id=action_id,
        event="accept_plan",
        now=driver.tick(),
    )
