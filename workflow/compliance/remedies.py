"""What a miss costs: service credits (money) or a corrective-action task (no money).

Money is Decimal, rounded to cents half up at each step a person would see: the window's fee
(annual cost / 12 for a month, / 4 for a quarter — calendar shares, not day counts), each
miss's credit (fee * the metric's service-credit percent) and the window's cap (fee * the
at-risk percent). A window owes the sum of its misses' credits, at most the cap; monthly and
quarterly metrics have separate windows and so separate caps. Without an annual cost no credit
can be computed (None); without an at-risk percent credits are not capped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from states import Role, Side
from workflow.content import Window

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
WINDOWS_PER_YEAR = {Window.MONTH: 12, Window.QUARTER: 4}


class RemedyPolicy(StrEnum):
    SERVICE_CREDITS = "service_credits"
    CORRECTIVE_ACTION = "corrective_action"


@dataclass(frozen=True, slots=True)
class CorrectiveAction:
    """One unexcused miss, needing a corrective-action task for the provider's Program Manager."""

    metric_key: str
    window: str
    target: float
    actual: float
    side: Side = Side.PROVIDER
    role: Role = Role.PROGRAM_MANAGER


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def window_fee(annual_cost: Decimal, kind: Window) -> Decimal:
    """The fee for one window: a twelfth of the annual cost for a month, a quarter for a quarter."""
    return cents(annual_cost / WINDOWS_PER_YEAR[kind])


def percent_of(amount: Decimal, percent: Decimal | float) -> Decimal:
    """`percent`% of `amount` in cents; a float percent is read as its shortest decimal text."""
    share = percent if isinstance(percent, Decimal) else Decimal(repr(percent))
    return cents(amount * share / HUNDRED)


def capped(owed: Iterable[Decimal], cap: Decimal | None) -> Decimal:
    """The sum of `owed`, at most `cap` (no cap when None)."""
    total = sum(owed, Decimal("0.00"))
    return total if cap is None else min(total, cap)
