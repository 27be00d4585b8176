"""What an operator sees: a request id in the response, the error body and the log line; JSON
log lines; and /metrics figures about the business (work open and overdue, the outbox, jobs)."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from api.logs import JsonFormatter
from notifications.scheduler import Job, housekeeping_job, tick
from states import Role
from tests.api.conftest import Api
from tests.api.flows import create_sla, fire, sla_url
from tests.helpers import C

DEPLOY = Path(__file__).resolve().parent.parent.parent / "deploy"
PM = Role.PROGRAM_MANAGER
FL = Role.FUNCTIONAL_LEAD


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "accord.request"]


def test_a_request_id_is_in_the_answer_the_error_body_and_the_log_line(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="accord.request")
    headers = {**api.auth(C, PM), "X-Request-ID": "support-ticket-4711"}
    missing = api.client.get(f"{sla_url(999)}", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["x-request-id"] == "support-ticket-4711"
    assert missing.json()["request_id"] == "support-ticket-4711"
    assert missing.headers["content-length"] == str(len(missing.content))
    (line,) = _request_lines(caplog)
    fields = vars(line)
    assert fields["request_id"] == "support-ticket-4711"
    assert (fields["method"], fields["route"], fields["status"]) == (
        "GET",
        "/api/v1/slas/{sla_id}",
        404,
    )
    assert fields["user_id"] == api.world.parties.actors[(C, PM)].user_id
    assert fields["agreement_id"] == "999"
    assert fields["duration_ms"] >= 0


def test_a_missing_or_unsafe_request_id_is_replaced_by_a_new_one(api: Api) -> None:
    plain = api.client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", plain.headers["x-request-id"])
    unsafe = api.client.get("/healthz", headers={"X-Request-ID": "x" * 65})
    assert unsafe.headers["x-request-id"] != "x" * 65
    assert plain.headers["x-request-id"] != unsafe.headers["x-request-id"]


def test_json_log_lines_carry_the_request_fields() -> None:
    record = logging.LogRecord("accord.request", logging.INFO, "", 0, "GET / 200", None, None)
    record.request_id = "r-1"
    record.status = 200
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "GET / 200"
    assert (line["level"], line["logger"]) == ("info", "accord.request")
    assert (line["request_id"], line["status"]) == ("r-1", 200)
    assert line["ts"].endswith("+00:00")


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match is not None, f"{name} not in /metrics"
    return float(match[1])


def test_metrics_show_open_work_the_outbox_and_commands(api: Api) -> None:
    sla = create_sla(api)
    assert fire(api, sla["id"], "submit_for_review", (C, PM)).status_code == 200
    refused = fire(api, sla["id"], "submit_for_approval", (C, PM))
    assert refused.status_code == 409
    text = api.client.get("/metrics").text
    assert _metric(text, "accord_database_up") == 1.0
    assert _metric(text, 'accord_tasks_open{kind="review",side="customer"}') == 1.0
    assert _metric(text, 'accord_tasks_open{kind="review",side="provider"}') == 1.0
    assert _metric(text, 'accord_tasks_overdue{kind="review",side="customer"}') == 0.0
    assert _metric(text, "accord_approvals_waiting") == 0.0
    assert _metric(text, 'accord_outbox_messages{status="pending"}') >= 2.0
    assert _metric(text, 'accord_outbox_messages{status="dead"}') == 0.0
    event = "POST /api/v1/slas/{sla_id}/versions/{number}/events/{event}"
    assert _metric(text, f'accord_commands_total{{command="{event}",outcome="ok"}}') == 1.0
    assert _metric(text, f'accord_commands_total{{command="{event}",outcome="conflict"}}') == 1.0
    # Eleven business days on, the review tasks are overdue.
    api.clock[0] += timedelta(days=20)
    later = api.client.get("/metrics").text
    assert _metric(later, 'accord_tasks_overdue{kind="review",side="customer"}') == 1.0
    assert _metric(later, "accord_outbox_oldest_pending_seconds") > 19 * 24 * 3600


def test_metrics_show_when_each_job_last_succeeded(api: Api) -> None:
    job = Job("housekeeping", timedelta(hours=1), housekeeping_job, "expired keys")
    tick(job, api.client.app.state.engine, lambda: api.clock[0])  # type: ignore[attr-defined]
    text = api.client.get("/metrics").text
    success = 'accord_job_last_success_timestamp_seconds{job="housekeeping"}'
    assert _metric(text, success) == api.clock[0].timestamp()
    assert _metric(text, 'accord_job_last_duration_seconds{job="housekeeping"}') >= 0.0


def test_every_alert_rule_watches_a_metric_that_exists(api: Api) -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    watched = {
        name
        for group in rules["groups"]
        for rule in group["rules"]
        for name in re.findall(r"\b(accord_[a-z_]+)", rule["expr"])
    }
    served = api.client.get("/metrics").text
    api.client.get("/api/v1/me")  # one request, so the request counters have a sample
    served += api.client.get("/metrics").text
    exposed = set(re.findall(r"^# TYPE (accord_[a-z_]+) ", served, re.MULTILINE))
    exposed |= {f"{name}_total" for name in exposed}  # counters are served with _total
    assert watched
    assert watched <= exposed, watched - exposed
