"""A period's report: the windows closing in the period, recounted."""

from __future__ import annotations

from datetime import date

from tests.workflow.test_compliance_report import report
from workflow.compliance import RemedyPolicy
from workflow.compliance.closing import closing_in


def test_a_period_keeps_the_windows_closing_in_it_and_recounts() -> None:
    full = report(RemedyPolicy.SERVICE_CREDITS)
    kinds = {(w.window, w.kind.value) for m in full.metrics for w in m.windows}
    june = closing_in(full, date(2027, 6, 1), date(2027, 6, 30))
    kept = {w.window for m in june.metrics for w in m.windows}
    expected = {label for label, kind in kinds if label in ("2027-06", "2027-Q2")}
    assert "2027-06" in expected
    assert kept == expected
    statuses = [w.status for m in june.metrics for w in m.windows]
    assert june.totals.missed == sum(1 for s in statuses if s.value == "missed")
    assert {c.window for c in june.window_credits} <= kept
