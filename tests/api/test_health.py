"""Liveness, readiness, metrics and the OpenAPI document need no token."""

from __future__ import annotations

from tests.api.conftest import Api


def test_health_and_readiness(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json() == {"status": "ready"}


def test_metrics_count_requests_by_route_template(api: Api) -> None:
    api.client.get("/api/v1/me")
    text = api.client.get("/metrics").text
    assert 'accord_http_requests_total{method="GET",route="/api/v1/me",status="401"} 1.0' in text


def test_openapi_describes_the_contract(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    assert "/api/v1/me" in paths
    assert "/api/v1/users/{user_id}/tokens" in paths
