"""A final report as the email carries it: a fragment for the email's layout, and text lines."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from tests.workflow.test_compliance_report import report
from workflow.compliance import RemedyPolicy
from workflow.compliance.closing import closing_in
from workflow.report_mail import report_fragment, status_lines


def test_the_fragment_has_no_page_around_it_and_escapes_names() -> None:
    base = report(RemedyPolicy.SERVICE_CREDITS)
    evil = replace(base, metrics=(replace(base.metrics[0], name="<script>x</script>"),))
    html = report_fragment(evil, title="<b>T</b>")
    assert "<body" not in html
    assert "<html" not in html
    assert "<script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "&lt;b&gt;T&lt;/b&gt;" in html


def test_one_text_line_per_metric_and_window_of_the_period() -> None:
    july = closing_in(report(RemedyPolicy.SERVICE_CREDITS), date(2027, 7, 1), date(2027, 7, 31))
    lines = status_lines(july)
    assert len(lines) == sum(len(m.windows) for m in july.metrics)
    assert lines
    assert all(" 2027-07: " in line for line in lines)
    no_data = [line for line in lines if ": no data" in line]
    assert all("actual" not in line for line in no_data)


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
