"""Status thresholds in both directions, with and without a warning band."""

from __future__ import annotations

import pytest

from workflow.compliance.status import Status, judge
from workflow.content import Category, Direction, Metric, Party


def metric(direction: Direction, target: float, warning: float | None) -> Metric:
    return Metric(
        key="m",
        name="M",
        category=Category.AVAILABILITY,
        unit="%",
        direction=direction,
        target=target,
        warning=warning,
        responsible_party=Party.PROVIDER,
    )


HIGHER = metric(Direction.HIGHER_IS_BETTER, 99.5, 99.8)
LOWER = metric(Direction.LOWER_IS_BETTER, 4.0, 3.0)


@pytest.mark.parametrize(
    ("actual", "status"),
    [
        (99.4, Status.MISSED),  # below target
        (99.5, Status.WARNING),  # exactly on target: met the target, inside the band
        (99.7, Status.WARNING),
        (99.8, Status.MET),  # reaching the warning value clears it
        (100.0, Status.MET),
    ],
)
def test_higher_is_better(actual: float, status: Status) -> None:
    assert judge(HIGHER, actual) is status


@pytest.mark.parametrize(
    ("actual", "status"),
    [
        (4.1, Status.MISSED),  # above target
        (4.0, Status.WARNING),
        (3.5, Status.WARNING),
        (3.0, Status.MET),
        (0.0, Status.MET),
    ],
)
def test_lower_is_better(actual: float, status: Status) -> None:
    assert judge(LOWER, actual) is status


def test_without_a_warning_value_there_is_no_warning_band() -> None:
    higher = metric(Direction.HIGHER_IS_BETTER, 99.5, None)
    assert judge(higher, 99.5) is Status.MET
    assert judge(higher, 99.49) is Status.MISSED
    lower = metric(Direction.LOWER_IS_BETTER, 4.0, None)
    assert judge(lower, 4.0) is Status.MET
    assert judge(lower, 4.01) is Status.MISSED


def test_no_target_and_no_data() -> None:
    assert judge(None, 99.9) is Status.NO_TARGET
    assert judge(None, None) is Status.NO_TARGET
    assert judge(HIGHER, None) is Status.NO_DATA
