"""Business formatting from one place: money, a metric's figures, days and moments."""

from __future__ import annotations

import datetime as dt

import pytest

from notifications import formats
from workflow.content import Metric

PERCENT = {"unit": "percent", "target": 99.5, "direction": "higher_is_better"}


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("4850000.00", "USD", "$4,850,000.00"),
        (1200.5, "EUR", "€1,200.50"),
        ("99", "CHF", "CHF 99.00"),
        ("-12.345", "USD", "-$12.35"),
        ("TBD", "USD", "TBD"),
    ],
)
def test_money_has_its_currency_and_thousands_separators(
    amount: object, currency: str, shown: str
) -> None:
    assert formats.money(amount, currency) == shown


def test_a_metric_s_figures_share_its_precision_and_unit() -> None:
    assert formats.figure(99.5, PERCENT) == "99.5%"
    assert formats.figure(99, PERCENT) == "99.0%"  # never "99" beside "99.5"
    assert formats.figure(99.69492, PERCENT) == "99.7%"
    assert formats.figure(None, PERCENT) == "—"
    assert formats.figure(5, {"unit": "days", "target": 5}) == "5 days"
    assert formats.figure(1234.5, {"unit": "invoices", "target": 1000.25}) == "1,234.50 invoices"


def test_an_actual_is_one_decimal_finer_so_a_near_miss_never_reads_as_the_target() -> None:
    assert formats.measured(99.49, PERCENT) == "99.49%"
    assert formats.figure(99.49, PERCENT) == "99.5%"  # which is why actuals are finer
    assert formats.measured(4.3, {"unit": "days", "target": 5}) == "4.3 days"


def test_precision_reads_stored_content_and_models_alike() -> None:
    metric = Metric.model_validate(
        {
            "key": "m",
            "name": "M",
            "category": "availability",
            "unit": "percent",
            "direction": "higher_is_better",
            "target": 99.95,
            "responsible_party": "provider",
        }
    )
    assert formats.precision(metric) == 2
    assert formats.precision({"unit": "percent", "target": 99}) == 1
    assert formats.precision({"unit": "ratio", "target": 0.123456}) == formats.MAX_DECIMALS


def test_moments_are_in_the_business_zone_with_its_abbreviation() -> None:
    winter = dt.datetime(2026, 12, 3, 13, 45, tzinfo=dt.UTC)
    summer = dt.datetime(2026, 7, 3, 13, 45, tzinfo=dt.UTC)
    assert formats.moment(winter) == "Thu 3 Dec 2026, 08:45 EST"
    assert formats.moment(summer) == "Fri 3 Jul 2026, 09:45 EDT"
    assert formats.moment("2026-12-03T13:45:00+00:00") == "Thu 3 Dec 2026, 08:45 EST"


def test_a_day_is_placed_on_the_business_calendar() -> None:
    assert formats.day(dt.date(2026, 12, 10)) == "Thu 10 Dec 2026"
    # 02:00 UTC on the 4th is still the 3rd in New York.
    assert formats.day(dt.datetime(2026, 12, 4, 2, 0, tzinfo=dt.UTC)) == "Thu 3 Dec 2026"


def test_terms_read_as_money_and_days_and_the_rest_is_left_alone() -> None:
    terms = {"currency": "EUR"}
    assert formats.term("annual_cost", "4850000.00", terms) == "€4,850,000.00"
    assert formats.term("period_end", "2027-09-30", terms) == "Thu 30 Sep 2027"
    assert formats.term("period_end", "not a date", terms) is None
    assert formats.term("payment_terms", "net 30", terms) is None


def test_code_names_read_as_words() -> None:
    assert formats.words("submit_for_review") == "submit for review"
