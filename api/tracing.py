"""Optional OpenTelemetry tracing (`pip install accord[otel]`, ACCORD_OTEL_ENABLED=true).

Each request becomes a span named by its route template, exported over OTLP/HTTP to the
collector the standard OTEL_EXPORTER_OTLP_* variables name. Off by default: nothing is
imported and nothing runs unless switched on.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

MISSING = "ACCORD_OTEL_ENABLED needs the tracing extra: pip install 'accord[otel]'"


def install(app: FastAPI, exporter: Any = None) -> None:
    """Trace the app's requests; `exporter` replaces OTLP (tests pass an in-memory one)."""
    try:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError as exc:
        raise RuntimeError(MISSING) from exc
    provider = TracerProvider(resource=Resource.create({"service.name": "accord"}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
