"""``reelforge.tracing``: where spans go, and the ids that cross processes."""

from __future__ import annotations

import structlog
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from reelforge.tracing import (
    Tracing,
    bind_trace,
    context_of,
    is_trace_id,
    otlp_traces_endpoint,
    span_id_for,
    trace_id_of,
    traceparent_of,
)

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_the_endpoint_is_the_setting_then_the_standard_variables() -> None:
    both = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4318/v1/traces",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318/",
    }
    assert otlp_traces_endpoint("http://set:1/v1/traces", both) == "http://set:1/v1/traces"
    assert otlp_traces_endpoint(None, both) == "http://traces:4318/v1/traces"
    base = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318/"}
    assert otlp_traces_endpoint(None, base) == "http://base:4318/v1/traces"
    assert otlp_traces_endpoint(None, {}) is None


def test_without_an_endpoint_nothing_is_recorded_and_ids_still_flow() -> None:
    tracing = Tracing.build(endpoint=None, environ={})
    assert not tracing.exporting
    with tracing.span("outer", parent=context_of(TRACEPARENT)) as span:
        assert not span.is_recording()
        assert trace_id_of(traceparent_of(span)) == "4bf92f3577b34da6a3ce929d0e0e4736"
    tracing.shutdown()
    exporting = Tracing.build(endpoint=None, environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"})
    assert exporting.exporting
    exporting.shutdown()


def test_a_span_takes_the_ids_it_is_given() -> None:
    exporter = InMemorySpanExporter()
    tracing = Tracing.exporting_to(exporter)
    job_span = span_id_for("9f2c0e5a1b7d4c3e8f6a2b1c0d9e8f7a")
    assert job_span == span_id_for("9f2c0e5a1b7d4c3e8f6a2b1c0d9e8f7a") != 0
    tracing.start_span("job", parent=context_of(TRACEPARENT), span_id=job_span).end()
    chosen = int("0af7651916cd43dd8448eb211c80319c", 16)
    tracing.start_span("root", trace_id=chosen).end()
    job, root = exporter.get_finished_spans()
    assert job.context is not None
    assert job.context.span_id == job_span
    assert job.parent is not None
    assert job.parent.span_id == 0x00F067AA0BA902B7
    assert root.context is not None
    assert root.context.trace_id == chosen
    assert root.parent is None
    # Ids are given only to the span they were given for.
    tracing.start_span("next").end()
    follower = exporter.get_finished_spans()[-1]
    assert follower.context is not None
    assert follower.context.span_id != job_span
    tracing.shutdown()


def test_trace_ids_and_traceparents_are_checked() -> None:
    assert is_trace_id("4bf92f3577b34da6a3ce929d0e0e4736")
    assert not is_trace_id("4BF92F3577B34DA6A3CE929D0E0E4736")
    assert not is_trace_id("0" * 32)
    assert trace_id_of("00-zz-00f067aa0ba902b7-01") is None
    assert trace_id_of(None) is None
    assert context_of("not a traceparent") is None


def test_bound_trace_ids_are_on_each_log_line() -> None:
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        with bind_trace("4bf92f3577b34da6a3ce929d0e0e4736", job_id="j1", run_id=None):
            structlog.get_logger().info("inside")
        structlog.get_logger().info("outside")
    inside, outside = logs
    assert inside["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert inside["job_id"] == "j1"
    assert "run_id" not in inside
    assert "trace_id" not in outside
