"""A catalogue measure as a metric of a draft, with defaults for what workbooks do not say."""

from __future__ import annotations

import re
from typing import Any

from workflow.catalog.targets import PERCENT, describes_percentage
from workflow.content import Category, Direction, Party, Window
from workflow.errors import InvalidInput
from workflow.models import CatalogMeasure

# FIBF measure types → Accord categories. A measure the customer performs is always
# customer_responsiveness (the domain's category for the customer's own obligations).
_CATEGORY_BY_TYPE = {
    "availability": Category.AVAILABILITY,
    "reliability": Category.AVAILABILITY,
    "timeliness": Category.PERFORMANCE,
    "efficiency": Category.PERFORMANCE,
    "volume": Category.PERFORMANCE,
    "utilization": Category.PERFORMANCE,
    "quality": Category.QUALITY,
    "accuracy": Category.QUALITY,
    "compliance": Category.QUALITY,
    "satisfaction": Category.QUALITY,
    "responsiveness": Category.SUPPORT,
    "support": Category.SUPPORT,
    "cost": Category.FINANCIAL,
    "financial": Category.FINANCIAL,
}
_TEXT = 2000


def metric_key(catalog_key: str) -> str:
    """A metric key (`^[a-z0-9][a-z0-9._-]{0,79}$`) from a catalogue key."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", catalog_key.lower()).strip("-._")
    return slug[:80] or "measure"


def direction_for(comparator: str | None, value: float) -> Direction:
    """`<`/`<=` mean lower is better; a bare 0 can only be met from below; else higher."""
    if comparator in ("<", "<="):
        return Direction.LOWER_IS_BETTER
    if comparator in (">", ">="):
        return Direction.HIGHER_IS_BETTER
    return Direction.LOWER_IS_BETTER if value == 0 else Direction.HIGHER_IS_BETTER


def party_for(performing_org: str | None) -> Party:
    """Customer or provider when the performing organisation says so; provider otherwise,
    since third parties (e.g. Treasury) act under the provider's service."""
    text = (performing_org or "").lower()
    customer, provider = "customer" in text, "provider" in text
    if customer and provider:
        return Party.SHARED
    return Party.CUSTOMER if customer else Party.PROVIDER


def category_for(measure_type: str | None, party: Party) -> Category:
    if party is Party.CUSTOMER:
        return Category.CUSTOMER_RESPONSIVENESS
    return _CATEGORY_BY_TYPE.get((measure_type or "").strip().lower(), Category.PERFORMANCE)


def window_for(frequency: str | None) -> Window:
    return Window.QUARTER if "quarter" in (frequency or "").lower() else Window.MONTH


def metric_from_measure(
    measure: CatalogMeasure, *, key: str | None = None, target: float | None = None
) -> dict[str, Any]:
    """The metric (as stored on a version) for a measure; `target` overrides the workbook's."""
    if target is None and measure.target_value is None:
        raise InvalidInput(
            f"the catalogue target of {measure.measure_id} cannot be used "
            f"({measure.target_problem}): give a target",
            [{"field": "target", "message": measure.target_problem or "uninterpretable"}],
        )
    value = target if target is not None else measure.target_value
    assert value is not None
    unit = measure.target_unit or (
        PERCENT if describes_percentage(measure.name, measure.description) else "count"
    )
    comparator = measure.target_comparator if measure.target_value is not None else None
    party = party_for(measure.performing_org)
    metric: dict[str, Any] = {
        "key": key or metric_key(measure.key),
        "name": " ".join(measure.name.split())[:300],
        "category": category_for(measure.measure_type, party).value,
        "unit": unit,
        "direction": direction_for(comparator, value).value,
        "target": value,
        "window": window_for(measure.frequency).value,
        "aggregation": "mean",
        "responsible_party": party.value,
        "performing_org": measure.performing_org,
        "reporting_org": measure.reporting_org,
        "accountable_org": measure.accountable_org,
        "description": measure.description,
        "source": measure.measurement_source,
        "source_id": measure.measure_id[:80],
        "formula": measure.formula,
    }
    return {k: v[:_TEXT] if isinstance(v, str) else v for k, v in metric.items() if v is not None}
