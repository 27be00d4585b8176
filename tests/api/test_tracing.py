"""Optional tracing: with the `otel` extra switched on, each request is a span named by its
route template; without it nothing is traced."""

from __future__ import annotations

from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.engine import Engine

from api import tracing
from api.app import create_app


def test_requests_become_spans_named_by_their_route(engine: Engine) -> None:
    app = create_app(engine)
    spans = InMemorySpanExporter()
    tracing.install(app, exporter=spans)
    with TestClient(app) as client:
        assert client.get("/api/v1/me").status_code == 401
        assert client.get("/healthz").status_code == 200
    server = [s for s in spans.get_finished_spans() if s.kind.name == "SERVER"]
    routes = sorted(str((s.attributes or {}).get("http.route")) for s in server)
    assert routes == ["/api/v1/me", "/healthz"]
    statuses = sorted(int(str((s.attributes or {}).get("http.status_code", 0))) for s in server)
    assert statuses == [200, 401]


def test_tracing_is_off_unless_switched_on(engine: Engine) -> None:
    app = create_app(engine)
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)
