"""The deployment files parse and describe the tested topology (their alert rules are checked
against /metrics in tests/api/test_observability.py). The container image itself is not built
here: the test machines have no container engine."""

from __future__ import annotations

from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def test_compose_runs_postgres_two_replicas_a_scheduler_and_a_mail_catcher() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    assert {"postgres", "migrate", "web1", "web2", "scheduler", "mailpit"} <= set(services)
    assert services["scheduler"]["command"] == ["scheduler"]


def test_kubernetes_has_the_migration_job_both_deployments_and_probes() -> None:
    documents = list(yaml.safe_load_all((DEPLOY / "k8s" / "accord.yaml").read_text()))
    kinds = {(d["kind"], d["metadata"]["name"]) for d in documents}
    assert {
        ("Job", "accord-migrate"),
        ("Deployment", "accord-web"),
        ("Deployment", "accord-scheduler"),
        ("Service", "accord"),
    } <= kinds
    web = next(d for d in documents if d["metadata"]["name"] == "accord-web")
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
