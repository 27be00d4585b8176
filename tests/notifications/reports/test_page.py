"""The compliance report as an HTML page: the status grid, then a trend chart per metric."""

from __future__ import annotations

from dataclasses import replace

from notifications.reports.page import report_fragment, to_html
from tests.notifications.reports.test_charts import AMBER, GREEN, RED, Tree
from tests.workflow.test_compliance_report import report
from workflow.compliance import RemedyPolicy


def test_the_report_page_is_email_safe_and_holds_a_chart_per_metric() -> None:
    result = report(RemedyPolicy.SERVICE_CREDITS)
    html = to_html(result, title="Compliance of <agreement> 7")
    lowered = html.lower()
    for banned in ("<script", "<style", "<svg", "<img", "<link", "javascript:", "position:"):
        assert banned not in lowered, banned
    assert "Compliance of &lt;agreement&gt; 7" in html
    tree = Tree(html)
    captions = [c.content() for c in tree.root.all("caption")]
    assert len(captions) == 1 + len(result.metrics)  # the status grid, then one per metric
    assert all("Axis" in caption for caption in captions[1:])
    titled = [td for td in tree.root.all("td") if "title" in td.attrs]
    grid_and_charts = 2 * sum(len(m.windows) for m in result.metrics)  # 14 windows, twice
    assert len(titled) == grid_and_charts == 28
    for colour in (RED, GREEN, AMBER):
        assert f'bgcolor="{colour}"' in html


def test_the_fragment_has_no_page_around_it_and_escapes_names() -> None:
    base = report(RemedyPolicy.SERVICE_CREDITS)
    evil = replace(base, metrics=(replace(base.metrics[0], name="<script>x</script>"),))
    html = report_fragment(evil, title="<b>T</b>")
    assert "<body" not in html
    assert "<html" not in html
    assert "<script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "&lt;b&gt;T&lt;/b&gt;" in html
