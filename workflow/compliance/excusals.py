"""Excusals: a miss attributed to a party, with a reason.

Any excusal turns a miss into `excused` and waives its remedy (no credit, no corrective
action); the party decides whose responsiveness the miss counts against. An excusal on a
window that was not missed changes nothing and is reported as unused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Attribution(StrEnum):
    CUSTOMER = "customer"
    PROVIDER = "provider"
    THIRD_PARTY = "third_party"


@dataclass(frozen=True, slots=True)
class Excusal:
    metric_key: str
    window: str  # the window's label: 2027-01 or 2027-Q1
    party: Attribution
    reason: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("an excusal needs a reason")


@dataclass(frozen=True, slots=True)
class ExcusedCounts:
    """Excused misses per attributed party; the customer's count is a responsiveness figure."""

    customer: int = 0
    provider: int = 0
    third_party: int = 0


def index_excusals(excusals: Iterable[Excusal]) -> dict[tuple[str, str], Excusal]:
    """Excusals by (metric key, window label); ValueError when one window has two."""
    indexed: dict[tuple[str, str], Excusal] = {}
    for excusal in excusals:
        key = (excusal.metric_key, excusal.window)
        if key in indexed:
            raise ValueError(f"two excusals for {excusal.metric_key} in {excusal.window}")
        indexed[key] = excusal
    return indexed


def count_by_party(used: Iterable[Excusal]) -> ExcusedCounts:
    parties = [e.party for e in used]
    return ExcusedCounts(
        customer=parties.count(Attribution.CUSTOMER),
        provider=parties.count(Attribution.PROVIDER),
        third_party=parties.count(Attribution.THIRD_PARTY),
    )
