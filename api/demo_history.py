"""The demo's active agreement with a past: eight weeks of measurements and a reporting period
waiting for the customer's review, so the report, gap and what-if pages have data to show.

Values are drawn from a seeded generator (the same demo every time) around each metric's target,
with a few deliberate misses in the first month so the status grid, the trend charts and a
review have something to say. Everything goes through commands, as the rest of the demo does.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from states import Role, Side
from workflow import commands
from workflow.calendar import local_date, time_zone
from workflow.example import LifecycleDriver
from workflow.measurements.rules import RawRow
from workflow.models import Agreement

HISTORY = timedelta(weeks=8)
SEED = 2027
# (metric, month) → how far below (above, for lower-is-better) the target that month runs.
MISSES = {("proper-payments", 10): 0.45, ("fbwt-difference", 10): 0.9}


def observations(
    metrics: list[dict[str, object]], first: date, last: date, zone: str
) -> Iterator[RawRow]:
    """One reading per metric and day in [first, last], at noon local time."""
    draw = random.Random(SEED)  # noqa: S311 - a repeatable demo, not a secret
    line = 0
    day = first
    while day <= last:
        moment = datetime.combine(day, time(12), tzinfo=time_zone(zone))
        for metric in metrics:
            line += 1
            yield RawRow(line, metric["key"], moment.isoformat(), _value(metric, day, draw))
        day += timedelta(days=1)


def _value(metric: dict[str, object], day: date, draw: random.Random) -> float:
    target = float(metric["target"])  # type: ignore[arg-type]
    miss = MISSES.get((str(metric["key"]), day.month), 0.0)
    if metric["direction"] == "lower_is_better":
        return round(max(0.0, target * 0.6 + draw.uniform(-0.3, 0.3) + miss), 3)
    ceiling = 100.0 if metric["unit"] == "percent" else target * 1.5
    headroom = min(0.3, ceiling - target)
    value = target + headroom * draw.uniform(0.2, 1.0) - miss
    if target >= ceiling:  # a 100% target: perfect most days, one slip in the first month
        value = ceiling - (5.0 if day.day == 15 and day.month == 10 else 0.0)
    return round(min(ceiling, value), 3)


def add_history(driver: LifecycleDriver, agreement: Agreement, *, until: datetime) -> str | None:
    """Measurements from activation to the day before `until`, then open the ended periods and
    submit the oldest as the provider; returns that period's label (None if none ended)."""
    assert agreement.id is not None
    version = driver.version(agreement)
    zone = version.terms.get("time_zone") or "America/New_York"
    start = driver.now
    first = max(local_date(start, zone), date.fromisoformat(version.terms["period_start"]))
    last = local_date(until, zone) - timedelta(days=1)
    commands.import_measurements(
        driver.session,
        actor=driver.who(Side.PROVIDER, Role.PMO_TEAM),
        agreement_id=agreement.id,
        rows=observations(list(version.metrics), first, last, zone),
        source="json",
        now=driver.tick(),
    )
    driver.now = until
    opened = commands.open_due_periods(driver.session, now=driver.tick())
    labels = sorted(label for key, label in opened.opened if key == agreement.key)
    if not labels:
        return None
    commands.fire_period_event(
        driver.session,
        actor=driver.who(Side.PROVIDER, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,
        period=labels[0],
        event="submit",
        now=driver.tick(),
    )
    return labels[0]
