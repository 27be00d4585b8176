"""The compliance report as CSV: cells a spreadsheet would run as formulas are neutralised."""

from __future__ import annotations

from notifications.reports.csv_export import neutralise, to_csv
from tests.workflow.test_compliance_report import report
from workflow.compliance import RemedyPolicy


def test_every_formula_start_is_neutralised() -> None:
    for text in ("=1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(text) == "'" + text
    assert neutralise("plain =1") == "plain =1"
    text = to_csv(report(RemedyPolicy.SERVICE_CREDITS))
    assert text.splitlines()[0].startswith("metric,name,unit,window")
