"""Service-credit money: fees per window, credits per miss, the at-risk cap."""

from __future__ import annotations

from decimal import Decimal

from workflow.compliance.remedies import capped, percent_of, window_fee
from workflow.content import Window


def test_the_window_fee_is_a_calendar_share_of_the_annual_cost() -> None:
    assert window_fee(Decimal("120000"), Window.MONTH) == Decimal("10000.00")  # 120000 / 12
    assert window_fee(Decimal("120000"), Window.QUARTER) == Decimal("30000.00")  # 120000 / 4
    # 100000 / 12 = 8333.333… → 8333.33
    assert window_fee(Decimal("100000"), Window.MONTH) == Decimal("8333.33")
    # 1000.10 / 4 = 250.025 → 250.03 (half up)
    assert window_fee(Decimal("1000.10"), Window.QUARTER) == Decimal("250.03")


def test_a_credit_is_a_percent_of_the_fee_in_cents() -> None:
    # 8333.33 · 5 / 100 = 416.6665 → 416.67
    assert percent_of(Decimal("8333.33"), 5.0) == Decimal("416.67")
    # 10000 · 2.5 / 100 = 250
    assert percent_of(Decimal("10000.00"), 2.5) == Decimal("250.00")
    # 0.1 is read as the decimal 0.1, not its binary neighbour: 10000 · 0.1 / 100 = 10
    assert percent_of(Decimal("10000.00"), 0.1) == Decimal("10.00")
    assert percent_of(Decimal("10000.00"), Decimal("12.5")) == Decimal("1250.00")


def test_the_cap_limits_the_sum_of_a_windows_credits() -> None:
    cap = Decimal("1000.00")
    assert capped([Decimal("500.00"), Decimal("800.00")], cap) == cap  # 1300 > 1000
    assert capped([Decimal("100.00"), Decimal("150.00")], cap) == Decimal("250.00")
    assert capped([Decimal("500.00"), Decimal("500.00")], cap) == cap  # exactly at the cap
    assert capped([Decimal("500.00"), Decimal("800.00")], None) == Decimal("1300.00")
    assert capped([], cap) == Decimal("0.00")
