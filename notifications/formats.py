"""How Accord writes money, figures, days and moments for people: one place for pages and emails.

Moments are shown in the business time zone (the one due dates are counted in) with its
abbreviation, days without a zone (a due date is a whole business day), money with its
currency and thousands separators, a metric's figures with its unit and one precision for the
target and the actual, so that "99" and "99.0" and "99.69492" never stand side by side.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from workflow.calendar import BUSINESS_TIME_ZONE, time_zone

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
_PERCENT_UNITS = {"percent", "%"}
# A figure's precision is its target's, at least one decimal for a percentage, never more than
# this: beyond it a measured mean is noise.
MAX_DECIMALS = 3


def money(amount: object, currency: str = "USD") -> str:
    """'$4,850,000.00', '€1,200.50', 'CHF 99.00'; text that is not an amount comes back as is."""
    try:
        value = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return str(amount)
    symbol = _SYMBOLS.get(currency)
    text = f"{abs(value):,.2f}"
    sign = "-" if value < 0 else ""
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{currency} {text}"


def _decimals(value: object) -> int:
    if value is None or isinstance(value, bool):
        return 0
    try:
        exponent = Decimal(str(value)).normalize().as_tuple().exponent
    except InvalidOperation:
        return 0
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _field(metric: Mapping[str, Any] | object, name: str) -> Any:
    """A metric's field, whether it is stored content (a mapping) or a model."""
    if isinstance(metric, Mapping):
        return metric.get(name)
    return getattr(metric, name, None)


def precision(metric: Mapping[str, Any] | object) -> int:
    """How many decimals a metric's figures are written with: those of its target (or warning,
    requirement, capability, whichever has most), at least one for a percentage."""
    written = max(
        _decimals(_field(metric, name))
        for name in ("target", "warning", "requirement", "capability")
    )
    floor = 1 if _field(metric, "unit") in _PERCENT_UNITS else 0
    return min(max(written, floor), MAX_DECIMALS)


def unit_of(value_text: str, unit: str) -> str:
    if unit in _PERCENT_UNITS:
        return f"{value_text}%"
    return f"{value_text} {unit}" if unit else value_text


def figure(value: object, metric: Mapping[str, Any] | object, *, finer: int = 0) -> str:
    """A figure of `metric` at its precision (`finer` more decimals): '99.5%', '99.0%', '5 days';
    a dash when absent."""
    if value is None or value == "":
        return "—"
    try:
        number = float(str(value))
    except ValueError:
        return str(value)
    decimals = precision(metric) + finer
    return unit_of(f"{number:,.{decimals}f}", str(_field(metric, "unit") or ""))


def measured(value: object, metric: Mapping[str, Any] | object) -> str:
    """An actual: one decimal finer than the target, so that a miss by a hair never reads as
    the target itself ('99.49%' against '99.5%', '4.3 days' against '5 days')."""
    return figure(value, metric, finer=1)


def words(code: object) -> str:
    """A code name as words: 'submit_for_review' → 'submit for review'."""
    return str(code).replace("_", " ")


def _as_moment(value: dt.datetime | str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def local_moment(value: dt.datetime | str, zone: str = BUSINESS_TIME_ZONE) -> dt.datetime:
    return _as_moment(value).astimezone(time_zone(zone))


def moment(value: dt.datetime | str, zone: str = BUSINESS_TIME_ZONE) -> str:
    """'Thu 3 Dec 2026, 08:45 EST': the business time zone, named."""
    local = local_moment(value, zone)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname()}"


def calendar_day(value: dt.date | dt.datetime | str) -> dt.date:
    """The business day of a date, a moment (placed in the business time zone) or ISO text."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return local_moment(value).date()
    return value


def day(value: dt.date | dt.datetime | str) -> str:
    """'Thu 10 Dec 2026'; a moment is first placed on the business calendar."""
    value = calendar_day(value)
    return f"{value:%a} {value.day} {value:%b %Y}"


def long_day(value: dt.date | dt.datetime | str) -> str:
    """'Thursday 10 December 2026': the day in full, for an email's body."""
    value = calendar_day(value)
    return f"{value:%A} {value.day} {value:%B %Y}"


def zone_name(zone: str = BUSINESS_TIME_ZONE, at: dt.datetime | None = None) -> str:
    """'EST (America/New_York)': what the pages say their times are in."""
    local = (at or dt.datetime.now(dt.UTC)).astimezone(time_zone(zone))
    return f"{local.tzname()} ({zone})"


# Terms people read as money or as days, by the term's name.
MONEY_TERMS = ("annual_cost", "lcce_total")
DAY_TERMS = ("period_start", "period_end")


def term(name: str, value: Any, terms: Mapping[str, Any]) -> str | None:
    """A term's value as people read it, or None to leave it to the generic display."""
    if value is None or value == "":
        return None
    if name in MONEY_TERMS:
        return money(value, str(terms.get("currency") or "USD"))
    if name in DAY_TERMS:
        try:
            return day(str(value))
        except ValueError:
            return None
    return None
