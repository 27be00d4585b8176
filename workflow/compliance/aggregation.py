"""A window's observations reduced to one number, the way the metric says.

Values are floats (double precision, as stored); every aggregate is rounded to 6 decimal places
(`round_actual`) before it is compared or shown, so that a database summing in another order
agrees with this reference to the last reported digit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from workflow.compliance.windows import require_aware
from workflow.content import Aggregation

ACTUAL_DECIMALS = 6


@dataclass(frozen=True, slots=True)
class Observation:
    """One measured value of a metric; `weight` (e.g. a transaction count) only weighs means."""

    metric_key: str
    observed_at: datetime
    value: float
    weight: float | None = None

    def __post_init__(self) -> None:
        require_aware(self.observed_at)
        if not math.isfinite(self.value):
            raise ValueError(f"{self.metric_key}: value must be a finite number")
        if self.weight is not None and (not math.isfinite(self.weight) or self.weight < 0):
            raise ValueError(f"{self.metric_key}: weight must be a finite number ≥ 0")


def round_actual(value: float) -> float:
    """`value` to 6 decimals, half away from zero (SQL: `round(value::numeric, 6)`)."""
    quantum = Decimal(1).scaleb(-ACTUAL_DECIMALS)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def weighted_mean(observations: Sequence[Observation]) -> float | None:
    """Σ w·v / Σ w, where an observation without a weight weighs 1; None when Σ w is 0.

    SQL: `sum(coalesce(weight, 1) * value) / nullif(sum(coalesce(weight, 1)), 0)`.
    """
    total_weight = math.fsum(1.0 if o.weight is None else o.weight for o in observations)
    if total_weight == 0:
        return None
    weighted = math.fsum((1.0 if o.weight is None else o.weight) * o.value for o in observations)
    return weighted / total_weight


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's `percentile_cont(fraction)`.

    With the values sorted x[0] ≤ … ≤ x[n-1], h = (n-1)·fraction and the result is
    x[⌊h⌋] + (h-⌊h⌋)·(x[⌊h⌋+1] - x[⌊h⌋]); None for no values.
    """
    if not 0 <= fraction <= 1:
        raise ValueError("fraction must be between 0 and 1")
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (position - lower) * (ordered[upper] - ordered[lower])


def last(observations: Sequence[Observation]) -> float | None:
    """The value observed latest; of two at the same instant, the greater value."""
    if not observations:
        return None
    return max(observations, key=lambda o: (require_aware(o.observed_at), o.value)).value


def aggregate(aggregation: Aggregation, observations: Sequence[Observation]) -> float | None:
    """The window's actual (rounded to 6 decimals); None when there is nothing to aggregate."""
    if not observations:
        return None
    values = [o.value for o in observations]
    result: float | None
    if aggregation is Aggregation.MEAN:
        result = weighted_mean(observations)
    elif aggregation is Aggregation.P95:
        result = percentile(values, 0.95)
    elif aggregation is Aggregation.MIN:
        result = min(values)
    elif aggregation is Aggregation.MAX:
        result = max(values)
    elif aggregation is Aggregation.SUM:
        result = math.fsum(values)
    else:
        result = last(observations)
    return None if result is None else round_actual(result)
