"""How long a failed email waits before its next attempt, and when it is given up."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from workflow.settings import Settings


@dataclass(frozen=True)
class RetryPolicy:
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    horizon: timedelta = timedelta(hours=48)
    lease: timedelta = timedelta(minutes=5)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            base=timedelta(seconds=settings.retry_base_seconds),
            cap=timedelta(seconds=settings.retry_max_seconds),
            horizon=timedelta(hours=settings.retry_horizon_hours),
            lease=timedelta(seconds=settings.dispatch_lease_seconds),
        )

    def nominal(self, attempt: int) -> timedelta:
        """The wait after the `attempt`-th failure, before jitter."""
        # min() before multiplying far: 2**60 seconds would overflow timedelta.
        doublings = min(max(attempt - 1, 0), 40)
        return min(self.base * (1 << doublings), self.cap)

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        return self.nominal(attempt) * (0.5 + 0.5 * rng.random())

    def gives_up(self, attempt: int) -> bool:
        """Whether the nominal waits of `attempt` failures add up beyond the horizon."""
        total = timedelta(0)
        for k in range(1, attempt + 1):
            total += self.nominal(k)
            if total > self.horizon:
                return True
        return False
