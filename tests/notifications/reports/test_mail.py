"""A final report's email parts, rendered when it is sent from the data its outbox row holds."""

from __future__ import annotations

import json
from datetime import date

import pytest

from notifications.render import RenderError, render
from notifications.reports.mail import final_report_parts, status_lines
from notifications.reports.page import report_fragment
from tests.notifications.test_render import ANN, BASE, period_report_payload
from tests.workflow.test_compliance_report import report
from workflow.compliance import RemedyPolicy
from workflow.compliance.closing import closing_in


def test_one_text_line_per_metric_and_window_of_the_period() -> None:
    july = closing_in(report(RemedyPolicy.SERVICE_CREDITS), date(2027, 7, 1), date(2027, 7, 31))
    lines = status_lines(july)
    assert len(lines) == sum(len(m.windows) for m in july.metrics)
    assert lines
    assert all(" 2027-07: " in line for line in lines)
    no_data = [line for line in lines if ": no data" in line]
    assert all("actual" not in line for line in no_data)
    # By name, with figures at the target's precision and the actual one decimal finer, as
    # the pages write them.
    assert lines == [
        "Availability 2027-07: missed (actual 99.850 u, target 99.90 u)",
        "Incident.Resolution 2027-07: missed (actual 11.6 u, target 8 u)",
        "Backlog 2027-07: missed (actual 11.0 u, target 10 u)",
    ]


def test_the_email_parts_are_rendered_from_the_report_data_in_the_row() -> None:
    payload = period_report_payload()
    full = report(RemedyPolicy.SERVICE_CREDITS)
    july = closing_in(full, date(2027, 7, 1), date(2027, 7, 31))
    parts = final_report_parts(payload)
    assert parts == {
        "report_html": report_fragment(july, title="SLA-2026-0001: results of 2027-07", trend=full),
        "lines": status_lines(july),
    }
    assert ">Status by window<" in parts["report_html"]
    assert ">Trends<" in parts["report_html"]
    stored = json.dumps(payload)
    for markup in ("<td", "<table", "<div", "style="):
        assert markup not in stored, markup


def test_a_row_queued_with_its_html_still_renders_with_it() -> None:
    payload = period_report_payload()
    del payload["report"], payload["trend"]
    payload["lines"] = ["proper-payments 2026-11: missed (actual 99, target 99.5)"]
    payload["report_html"] = "<table><tr><td>proper-payments</td></tr></table>"
    assert final_report_parts(payload) == {}
    rendered = render("period.final", payload, ANN, base_url=BASE)
    assert "<table><tr><td>proper-payments</td></tr></table>" in rendered.html
    assert "- proper-payments 2026-11: missed (actual 99, target 99.5)" in rendered.text


def test_report_data_that_does_not_validate_cannot_render() -> None:
    payload = {**period_report_payload(), "report": {"metrics": "not a report"}}
    with pytest.raises(RenderError, match=r"cannot render period\.final"):
        render("period.final", payload, ANN, base_url=BASE)
