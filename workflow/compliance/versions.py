"""Which version's targets govern a window: the one in force when the window began.

A version is in force from its `activated_at` until its `ended_at` (superseded, expired or
terminated), end excluded. A window is judged by the version in force at its first instant, so
a revision activated mid-window takes effect from the next window: nobody is measured against a
target that was not agreed when the window opened. When no version was in force at the start
(the agreement was first activated mid-window), the first version activated during the window
governs it; when none was in force at any time during it, the window has no target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from workflow.compliance.windows import TimeWindow, require_aware
from workflow.content import Metric, Terms

if TYPE_CHECKING:
    from workflow.models.agreements import AgreementVersion

ENDED_STATES = frozenset({"superseded", "expired", "terminated"})


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """What compliance needs of a version; versions never activated are left out."""

    number: int
    activated_at: datetime
    ended_at: datetime | None
    metrics: tuple[Metric, ...]
    terms: Terms = field(default_factory=Terms)

    def __post_init__(self) -> None:
        start = require_aware(self.activated_at)
        if self.ended_at is not None and require_aware(self.ended_at) < start:
            raise ValueError(f"version {self.number} ends before it was activated")

    def metric(self, key: str) -> Metric | None:
        return next((m for m in self.metrics if m.key == key), None)

    def in_force_at(self, moment: datetime) -> bool:
        return self.activated_at <= moment and (self.ended_at is None or moment < self.ended_at)


def version_record(version: AgreementVersion) -> VersionRecord | None:
    """The record of a stored version; None when it was never activated."""
    if version.activated_at is None:
        return None
    ended = version.state_changed_at if version.state in ENDED_STATES else None
    return VersionRecord(
        number=version.number,
        activated_at=version.activated_at,
        ended_at=ended,
        metrics=tuple(Metric.model_validate(m) for m in version.metrics),
        terms=Terms.model_validate(version.terms),
    )


def version_in_force(versions: Sequence[VersionRecord], moment: datetime) -> VersionRecord | None:
    """The version in force at `moment`: the latest activated of those not yet ended."""
    moment = require_aware(moment)
    live = [v for v in versions if v.in_force_at(moment)]
    return max(live, key=lambda v: (v.activated_at, v.number), default=None)


def version_for_window(
    versions: Sequence[VersionRecord], window: TimeWindow
) -> VersionRecord | None:
    """The version whose targets judge `window` (see the module docstring)."""
    at_start = version_in_force(versions, window.start)
    if at_start is not None:
        return at_start
    activated_inside = [v for v in versions if window.start <= v.activated_at < window.end]
    return min(activated_inside, key=lambda v: (v.activated_at, v.number), default=None)
