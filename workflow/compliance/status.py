"""A window's actual against its target: met, warning, missed, or why it cannot be judged.

The warning value sits on the better side of the target (`Metric` enforces it), so it marks an
early-warning band: with higher-is-better, actual < target is missed, target ≤ actual < warning
is warning and actual ≥ warning is met; with lower-is-better the mirror image. Reaching the
target exactly is never a miss, and reaching the warning value exactly clears the warning.
"""

from __future__ import annotations

from enum import StrEnum

from workflow.content import Direction, Metric


class Status(StrEnum):
    MET = "met"
    WARNING = "warning"
    MISSED = "missed"
    EXCUSED = "excused"  # missed, but an excusal attributes the miss to someone
    # A closed window without usable observations: the party providing the data missed its
    # reporting obligation (`workflow.compliance.report` decides; `judge` never answers it).
    MISSING_DATA = "missing_data"
    # The window has not closed: whatever its data say so far is neither met nor missed.
    PROVISIONAL = "provisional"
    NO_DATA = "no_data"  # what `judge` answers without data; reports made before missing_data
    NO_TARGET = "no_target"  # the version in force does not have the metric


def judge(metric: Metric | None, actual: float | None) -> Status:
    """The status of `actual` against `metric`'s target (before any excusal)."""
    if metric is None:
        return Status.NO_TARGET
    if actual is None:
        return Status.NO_DATA
    if metric.direction is Direction.HIGHER_IS_BETTER:
        missed = actual < metric.target
        warned = metric.warning is not None and actual < metric.warning
    else:
        missed = actual > metric.target
        warned = metric.warning is not None and actual > metric.warning
    if missed:
        return Status.MISSED
    return Status.WARNING if warned else Status.MET
