"""Every aggregation on a hand-computed dataset."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from workflow.compliance.aggregation import (
    Observation,
    aggregate,
    percentile,
    round_actual,
    weighted_mean,
)
from workflow.content import Aggregation


def obs(value: float, weight: float | None = None, day: int = 1, hour: int = 0) -> Observation:
    return Observation("m", datetime(2027, 1, day, hour, tzinfo=UTC), value, weight)


def test_mean_without_weights_is_the_plain_mean() -> None:
    # (99 + 98 + 100) / 3 = 297 / 3 = 99
    assert aggregate(Aggregation.MEAN, [obs(99.0), obs(98.0), obs(100.0)]) == 99.0


def test_mean_with_weights_is_weighted() -> None:
    # (99·100 + 95·300) / (100 + 300) = (9900 + 28500) / 400 = 38400 / 400 = 96
    assert aggregate(Aggregation.MEAN, [obs(99.0, 100), obs(95.0, 300)]) == 96.0


def test_an_observation_without_a_weight_weighs_one_beside_weighted_ones() -> None:
    # (90·3 + 80·1) / (3 + 1) = 350 / 4 = 87.5
    assert aggregate(Aggregation.MEAN, [obs(90.0, 3), obs(80.0)]) == 87.5


def test_a_zero_weight_drops_an_observation_and_all_zero_weights_mean_no_data() -> None:
    # (50·0 + 70·2) / 2 = 70
    assert aggregate(Aggregation.MEAN, [obs(50.0, 0), obs(70.0, 2)]) == 70.0
    assert weighted_mean([obs(50.0, 0), obs(70.0, 0)]) is None
    assert aggregate(Aggregation.MEAN, [obs(50.0, 0)]) is None


def test_p95_interpolates_linearly_between_closest_ranks() -> None:
    ten = [obs(float(v)) for v in (7, 3, 10, 1, 5, 9, 2, 8, 4, 6)]
    # sorted 1..10, h = (10-1)·0.95 = 8.55 → x[8] + 0.55·(x[9]-x[8]) = 9 + 0.55·1 = 9.55
    assert aggregate(Aggregation.P95, ten) == 9.55
    twenty = [obs(float(v)) for v in range(1, 21)]
    # h = 19·0.95 = 18.05 → x[18] + 0.05·(x[19]-x[18]) = 19 + 0.05 = 19.05
    assert aggregate(Aggregation.P95, twenty) == 19.05
    # h = 1·0.95 → 100 + 0.95·(200-100) = 195
    assert aggregate(Aggregation.P95, [obs(200.0), obs(100.0)]) == 195.0
    assert aggregate(Aggregation.P95, [obs(42.0)]) == 42.0


def test_p95_ignores_weights() -> None:
    # 100 + 0.95·(200-100) = 195, whatever the weights
    assert aggregate(Aggregation.P95, [obs(200.0, 1), obs(100.0, 1000)]) == 195.0


def test_median_and_p90_use_the_same_interpolation() -> None:
    # [1,2,3,4]: h = 3·0.5 = 1.5 → 2 + 0.5·1 = 2.5
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    # 1..10: h = 9·0.9 = 8.1 → 9 + 0.1·1 = 9.1
    assert round_actual(percentile([float(v) for v in range(1, 11)], 0.9) or 0) == 9.1
    assert percentile([], 0.5) is None
    with pytest.raises(ValueError, match="fraction"):
        percentile([1.0], 1.5)


def test_min_max_and_sum() -> None:
    values = [obs(3.5, 10), obs(-1.25), obs(10.0, 2)]
    assert aggregate(Aggregation.MIN, values) == -1.25
    assert aggregate(Aggregation.MAX, values) == 10.0
    # 3.5 - 1.25 + 10 = 12.25 (weights do not scale a sum)
    assert aggregate(Aggregation.SUM, values) == 12.25


def test_last_is_the_latest_observation_whatever_the_input_order() -> None:
    values = [obs(1.0, day=3), obs(2.0, day=9), obs(3.0, day=5)]
    assert aggregate(Aggregation.LAST, values) == 2.0


def test_last_breaks_a_tie_in_time_by_the_greater_value() -> None:
    assert aggregate(Aggregation.LAST, [obs(7.0, day=9), obs(8.0, day=9), obs(1.0, day=2)]) == 8.0
    assert aggregate(Aggregation.LAST, [obs(8.0, day=9), obs(7.0, day=9)]) == 8.0


@pytest.mark.parametrize("aggregation", list(Aggregation))
def test_no_observations_is_no_actual(aggregation: Aggregation) -> None:
    assert aggregate(aggregation, []) is None


def test_actuals_are_rounded_to_six_decimals_half_away_from_zero() -> None:
    # 0.1 + 0.2 = 0.30000000000000004 in binary; /2 = 0.15000000000000002 → 0.15
    assert aggregate(Aggregation.MEAN, [obs(0.1), obs(0.2)]) == 0.15
    assert round_actual(2.0000005) == 2.000001
    assert round_actual(-2.0000005) == -2.000001
    assert round_actual(2.00000049) == 2.0


def test_bad_observations_are_refused() -> None:
    with pytest.raises(ValueError, match="weight"):
        obs(1.0, -1)
    with pytest.raises(ValueError, match="finite"):
        obs(float("nan"))
    with pytest.raises(ValueError, match="no time zone"):
        Observation("m", datetime(2027, 1, 1), 1.0)
