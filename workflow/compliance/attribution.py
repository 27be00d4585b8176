"""Who a window's shortfall is charged to, and what remedy each side owes for it.

domain.md, "Joint accountability": a miss is charged to the metric's responsible party; a
window closed without data to the party that provides the data; an excused miss to the party
the accepted excusal names (a third party: nobody). A provider miss earns a service credit or,
under the corrective-action policy, a provider corrective action; a customer miss never costs
the provider anything and always opens a customer corrective action; `shared` is both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from states import Side
from workflow.compliance.excusals import Attribution, Excusal
from workflow.compliance.remedies import RemedyPolicy
from workflow.compliance.status import Status
from workflow.content import Metric, Party


def charged_to(status: Status, metric: Metric | None, excusal: Excusal | None) -> Party | None:
    """The party a window of `status` is charged to; None when nothing is owed by anyone."""
    if status is Status.EXCUSED:
        if excusal is None or excusal.party is Attribution.THIRD_PARTY:
            return None
        return Party(excusal.party.value)
    if metric is None:
        return None
    if status is Status.MISSED:
        return metric.responsible_party
    if status is Status.MISSING_DATA:
        return metric.data_party
    return None


def sides_of(party: Party | None) -> tuple[Side, ...]:
    """The sides a charge falls on: `shared` falls on both."""
    if party is None:
        return ()
    if party is Party.SHARED:
        return (Side.PROVIDER, Side.CUSTOMER)
    return (Side(party.value),)


def earns_credit(party: Party | None) -> bool:
    """A service credit is owed only for a miss the provider is (partly) responsible for."""
    return party in (Party.PROVIDER, Party.SHARED)


def action_sides(party: Party | None, policy: RemedyPolicy) -> tuple[Side, ...]:
    """The sides that owe a corrective action for a miss charged to `party`.

    The customer's part is always an action (credits never run against the customer); the
    provider's part is an action only when the agreement's remedy is corrective action."""
    return tuple(
        side
        for side in sides_of(party)
        if side is Side.CUSTOMER or policy is RemedyPolicy.CORRECTIVE_ACTION
    )


@dataclass(frozen=True, slots=True)
class ChargedCounts:
    """Unexcused misses and windows without data charged to each side (`shared` to both)."""

    customer: int = 0
    provider: int = 0

    @classmethod
    def of(cls, charges: Iterable[tuple[Status, Party | None]]) -> ChargedCounts:
        counts = {Side.CUSTOMER: 0, Side.PROVIDER: 0}
        for status, party in charges:
            if status in (Status.MISSED, Status.MISSING_DATA):
                for side in sides_of(party):
                    counts[side] += 1
        return cls(customer=counts[Side.CUSTOMER], provider=counts[Side.PROVIDER])

    def of_side(self, side: Side) -> int:
        return self.customer if side is Side.CUSTOMER else self.provider
