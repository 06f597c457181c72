"""Trace context: W3C ``traceparent`` in, OpenTelemetry spans out, trace ids in every log line.

:class:`Tracing` is built once by the composition root (:meth:`Tracing.build`) and handed to
whatever makes spans: the API's request middleware, the engine (runs, jobs and their steps),
the providers' HTTP client (each provider call) and ingest. Its tracer provider is its own,
never OpenTelemetry's global one, so two apps in one process (tests) never share spans.

With no OTLP endpoint configured nothing is recorded or exported: the provider samples nothing
(``ALWAYS_OFF``) and has no processor, but spans still get ids, so a request's trace id (its
``traceparent``'s, else a new one) still reaches the run, its jobs and every log line.

Work crosses processes (a run is started by the API and its jobs run in workers), so a span's
context is stored as a ``traceparent`` string (:func:`traceparent_of`) on the run and its jobs,
and read back (:func:`context_of`) where the work goes on. A job's own span is written when the
job ends, by whichever process ends it; its steps' spans, written as they run, name it as their
parent before it exists, so its span id is fixed in advance from the job's id
(:func:`span_id_for`, :meth:`Tracing.start_span` ``span_id=``).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "TRACE_ID",
    "Tracing",
    "bind_trace",
    "context_of",
    "is_trace_id",
    "otlp_traces_endpoint",
    "span_context_of",
    "span_id_for",
    "trace_id_of",
    "traceparent_of",
]

#: A W3C trace id: 32 lowercase hex digits (not all zero, see :func:`is_trace_id`).
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_PROPAGATOR = TraceContextTextMapPropagator()
# Ids a span about to start must have (a job's span id, a caller's trace id); see _PresetIds.
_PRESET_SPAN_ID: ContextVar[int | None] = ContextVar("reelforge_preset_span_id", default=None)
_PRESET_TRACE_ID: ContextVar[int | None] = ContextVar("reelforge_preset_trace_id", default=None)


def is_trace_id(value: str) -> bool:
    """Whether ``value`` is a valid W3C trace id (32 lowercase hex digits, not all zero)."""
    return bool(TRACE_ID.fullmatch(value)) and int(value, 16) != 0


class _PresetIds(RandomIdGenerator):
    """Random ids, except for a span started under :func:`_preset` (the SDK's id generator is
    its one way to choose a span's ids)."""

    def generate_span_id(self) -> int:
        preset = _PRESET_SPAN_ID.get()
        return preset if preset is not None else super().generate_span_id()

    def generate_trace_id(self) -> int:
        preset = _PRESET_TRACE_ID.get()
        return preset if preset is not None else super().generate_trace_id()


@contextlib.contextmanager
def _preset(span_id: int | None, trace_id: int | None) -> Iterator[None]:
    span_token = _PRESET_SPAN_ID.set(span_id)
    trace_token = _PRESET_TRACE_ID.set(trace_id)
    try:
        yield
    finally:
        _PRESET_SPAN_ID.reset(span_token)
        _PRESET_TRACE_ID.reset(trace_token)


def otlp_traces_endpoint(endpoint: str | None, environ: Mapping[str, str]) -> str | None:
    """Where spans go: ``endpoint`` (``tracing.otlp_endpoint``), else the standard
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, else ``OTEL_EXPORTER_OTLP_ENDPOINT`` with
    ``/v1/traces``; None: nowhere."""
    if endpoint:
        return endpoint
    traces = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if traces:
        return traces
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return f"{base.rstrip('/')}/v1/traces" if base else None


class Tracing:
    """The process's tracer (see the module docstring). ``exporting`` says whether spans go
    anywhere; when not, callers may skip work that only spans need."""

    def __init__(self, provider: TracerProvider, *, exporting: bool) -> None:
        self._provider = provider
        self.exporting = exporting
        self.tracer = provider.get_tracer("reelforge")

    @classmethod
    def build(
        cls,
        *,
        endpoint: str | None,
        service_name: str = "reelforge",
        environ: Mapping[str, str] | None = None,
    ) -> Tracing:
        """Spans sent by OTLP over HTTP to ``endpoint`` (see :func:`otlp_traces_endpoint`),
        batched on a thread of their own; none recorded when there is no endpoint."""
        target = otlp_traces_endpoint(endpoint, environ or {})
        if target is None:
            return cls.off(service_name)
        # Imported only where spans are sent: the exporter brings protobuf and requests.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return cls.exporting_to(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=target)), service_name=service_name
        )

    @classmethod
    def off(cls, service_name: str = "reelforge") -> Tracing:
        """Ids for logs and the catalog, nothing recorded."""
        return cls(_provider(service_name, ALWAYS_OFF), exporting=False)

    @classmethod
    def exporting_to(
        cls, processor: SpanProcessor | SpanExporter, *, service_name: str = "reelforge"
    ) -> Tracing:
        """Spans to ``processor`` (an exporter is sent each span as it ends): a caller's
        sampled trace is recorded, an unsampled one not; a new trace is always recorded."""
        if isinstance(processor, SpanExporter):
            processor = SimpleSpanProcessor(processor)
        provider = _provider(service_name, ParentBased(ALWAYS_ON))
        provider.add_span_processor(processor)
        return cls(provider, exporting=True)

    def start_span(
        self,
        name: str,
        *,
        parent: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[Link] = (),
        start_time_ns: int | None = None,
        span_id: int | None = None,
        trace_id: int | None = None,
    ) -> Span:
        """A span (ended by the caller), child of ``parent`` (None: of the current span).
        ``span_id``: the id it must have; ``trace_id``: its trace's id when it has no parent."""
        with _preset(span_id, trace_id):
            return self.tracer.start_span(
                name,
                context=parent,
                kind=kind,
                attributes=dict(attributes or {}),
                links=links,
                start_time=start_time_ns,
            )

    @contextlib.contextmanager
    def span(
        self,
        name: str,
        *,
        parent: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[Link] = (),
        trace_id: int | None = None,
    ) -> Iterator[Span]:
        """A span current for the block, ended after it; an exception marks it failed."""
        span = self.start_span(
            name, parent=parent, kind=kind, attributes=attributes, links=links, trace_id=trace_id
        )
        with trace.use_span(span, end_on_exit=True, record_exception=False):
            yield span

    def shutdown(self) -> None:
        """Send what is batched, then stop (blocking: call it off the event loop when a
        receiver may be served by that loop)."""
        self._provider.shutdown()


def _provider(service_name: str, sampler: Sampler) -> TracerProvider:
    return TracerProvider(
        sampler=sampler,
        resource=Resource.create({SERVICE_NAME: service_name}),
        id_generator=_PresetIds(),
        # Shut down by the services' close, not at interpreter exit (tests build many).
        shutdown_on_exit=False,
    )


def traceparent_of(span: Span | SpanContext) -> str | None:
    """The W3C ``traceparent`` of ``span`` (None for an invalid one)."""
    context = span if isinstance(span, SpanContext) else span.get_span_context()
    if not context.is_valid:
        return None
    flags = int(context.trace_flags) & TraceFlags.SAMPLED
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"


def span_context_of(traceparent: str | None) -> SpanContext | None:
    """The remote span context a ``traceparent`` names; None when it is missing or invalid."""
    if not traceparent:
        return None
    context = _PROPAGATOR.extract({"traceparent": traceparent})
    span_context = trace.get_current_span(context).get_span_context()
    return span_context if span_context.is_valid else None


def context_of(traceparent: str | None, *, span_id: int | None = None) -> Context | None:
    """An OpenTelemetry context whose current span is the one ``traceparent`` names (or, with
    ``span_id``, that span's trace and flags with another span id); None when invalid."""
    found = span_context_of(traceparent)
    if found is None:
        return None
    if span_id is not None:
        found = SpanContext(found.trace_id, span_id, is_remote=True, trace_flags=found.trace_flags)
    return trace.set_span_in_context(trace.NonRecordingSpan(found))


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id (32 hex digits) of a ``traceparent``; None when it is missing or invalid."""
    found = span_context_of(traceparent)
    return None if found is None else f"{found.trace_id:032x}"


def span_id_for(record_id: str) -> int:
    """A span id fixed by a record's id (its hash), so every process finds the same span for
    it without storing one."""
    digest = hashlib.sha256(record_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") or 1


@contextlib.contextmanager
def bind_trace(trace_id: str | None, **ids: str | None) -> Iterator[None]:
    """Every log line logged within the block carries ``trace_id`` (and ``ids``: run id, job
    id), through structlog's context variables; None values are left out."""
    values = {"trace_id": trace_id, **ids}
    bound = {name: value for name, value in values.items() if value is not None}
    if not bound:
        yield
        return
    with structlog.contextvars.bound_contextvars(**bound):
        yield
