"""Terms and metrics of a version: their shape and the rules every edit must keep."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

NUL = "\x00"

# A figure (target, warning, requirement, capability): finite, and small enough that the
# compliance arithmetic on it stays finite too.
FIGURE_LIMIT = 1e15
Figure = Annotated[float, AllowInfNan(False), Field(ge=-FIGURE_LIMIT, le=FIGURE_LIMIT)]

Text = Annotated[str, StringConstraints(max_length=2000)]
Money = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)]
MetricKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,79}$")]


class Category(StrEnum):
    AVAILABILITY = "availability"
    PERFORMANCE = "performance"
    SUPPORT = "support"
    QUALITY = "quality"
    CUSTOMER_RESPONSIVENESS = "customer_responsiveness"
    FINANCIAL = "financial"


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class Aggregation(StrEnum):
    MEAN = "mean"
    P95 = "p95"
    MAX = "max"
    MIN = "min"
    SUM = "sum"
    LAST = "last"


class Window(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"


class Party(StrEnum):
    CUSTOMER = "customer"
    PROVIDER = "provider"
    SHARED = "shared"


def has_nul(value: Any) -> bool:
    """Does a string, or any string inside a list or mapping (keys too), contain NUL?"""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return any(has_nul(v) for v in value)
    return False


class Strict(BaseModel):
    """An input model: unknown fields, NUL characters and non-finite numbers are refused (no
    column can hold NUL on PostgreSQL, and NaN or Infinity mean nothing as a figure)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError("must not contain NUL characters")
        return value


class TargetChange(Strict):
    """Why a target moved in a revision, and which side drove it."""

    driven_by: Annotated[str, StringConstraints(pattern="^(customer|provider)$")]
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class Terms(Strict):
    period_start: date | None = None
    period_end: date | None = None
    service_hours: Text | None = None
    time_zone: Text | None = None
    maintenance_window: Text | None = None
    annual_cost: Money | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"
    unit_prices: dict[str, Money] = Field(default_factory=dict)
    billing_frequency: Text | None = None
    payment_terms: Text | None = None
    service_credit_policy: Text | None = None
    at_risk_percent: Annotated[Decimal, Field(ge=0, le=100)] | None = None
    lcce_reference: Text | None = None
    lcce_total: Money | None = None
    reporting: Text | None = None
    stabilization: Text | None = None

    @model_validator(mode="after")
    def _period_in_order(self) -> Self:
        if self.period_start and self.period_end and self.period_end < self.period_start:
            raise ValueError("period_end must not be before period_start")
        return self


class Metric(Strict):
    key: MetricKey
    name: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    category: Category
    unit: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    direction: Direction
    target: Figure
    warning: Figure | None = None
    window: Window = Window.MONTH
    aggregation: Aggregation = Aggregation.MEAN
    responsible_party: Party
    # Who provides the window's data (a window closed without data is charged to them);
    # None: the responsible party.
    data_provider: Party | None = None
    requirement: Figure | None = None
    capability: Figure | None = None
    service_credit_percent: Annotated[float, Field(ge=0, le=100)] | None = None
    performing_org: Text | None = None
    reporting_org: Text | None = None
    accountable_org: Text | None = None
    description: Text | None = None
    source: Text | None = None
    source_id: Annotated[str, StringConstraints(max_length=80)] | None = None
    formula: Text | None = None
    precondition: Text | None = None
    target_change: TargetChange | None = None

    @property
    def data_party(self) -> Party:
        """The party whose missing data leaves a window without a figure."""
        return self.data_provider or self.responsible_party

    @model_validator(mode="after")
    def _warning_on_the_right_side(self) -> Self:
        if self.warning is None:
            return self
        better = self.warning > self.target
        if self.direction is Direction.HIGHER_IS_BETTER and not better:
            raise ValueError("warning must be above target when higher is better")
        if self.direction is Direction.LOWER_IS_BETTER and better:
            raise ValueError("warning must be below target when lower is better")
        return self


def unique_keys(metrics: list[Metric]) -> list[Metric]:
    """`metrics` if no two share a key (a validator for any list of metrics)."""
    keys = [m.key for m in metrics]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ValueError(f"duplicate metric keys: {', '.join(dupes)}")
    return metrics


# A field-level check, not a model one, so that its error names `metrics` and not the body.
Metrics = Annotated[list[Metric], Field(max_length=500), AfterValidator(unique_keys)]


class Content(Strict):
    """Terms and metrics together, checked as one."""

    terms: Terms = Field(default_factory=Terms)
    metrics: Metrics = Field(default_factory=list)


def dump_terms(terms: Terms) -> dict[str, Any]:
    return terms.model_dump(mode="json", exclude_none=True)


def dump_metrics(metrics: list[Metric]) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json", exclude_none=True) for m in metrics]


def is_stricter(direction: str, requirement: float, capability: float) -> bool:
    """Does the customer ask for more than the provider can give?"""
    if direction == Direction.HIGHER_IS_BETTER:
        return requirement > capability
    return requirement < capability


def describe_changes(
    old_terms: dict[str, Any],
    old_metrics: list[dict[str, Any]],
    new_terms: dict[str, Any],
    new_metrics: list[dict[str, Any]],
) -> dict[str, Any]:
    """What changed between two contents, field by field (used by edits and diffs)."""
    terms = {
        k: {"from": old_terms.get(k), "to": new_terms.get(k)}
        for k in sorted(set(old_terms) | set(new_terms))
        if old_terms.get(k) != new_terms.get(k)
    }
    old_m = {m["key"]: m for m in old_metrics}
    new_m = {m["key"]: m for m in new_metrics}
    changed = {}
    for key in sorted(set(old_m) & set(new_m)):
        fields = {
            f: {"from": old_m[key].get(f), "to": new_m[key].get(f)}
            for f in sorted(set(old_m[key]) | set(new_m[key]))
            if old_m[key].get(f) != new_m[key].get(f)
        }
        if fields:
            changed[key] = fields
    return {
        "terms": terms,
        "metrics_added": sorted(set(new_m) - set(old_m)),
        "metrics_removed": sorted(set(old_m) - set(new_m)),
        "metrics_changed": changed,
    }
