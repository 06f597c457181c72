"""Every HTTP request in a span, under the caller's W3C ``traceparent`` when it sends one.

:class:`TraceRequests` (the app's outermost middleware) reads ``traceparent`` and
``tracestate`` (an invalid one is ignored: the request starts a new trace), makes the request's
server span current, so a run the request starts is its child (:mod:`reelforge.engine.run_tracing`),
and binds its trace id to every log line of the request. The span is named by method and route
template (``POST /v1/segments``) once routing has found it; it records the path, never the query
or a header.
"""

from __future__ import annotations

from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelforge.tracing import Tracing, bind_trace

__all__ = ["TraceRequests"]

_PROPAGATOR = TraceContextTextMapPropagator()


class TraceRequests:
    """ASGI middleware: see the module docstring."""

    def __init__(self, app: ASGIApp, *, tracing: Tracing) -> None:
        self.app = app
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        carrier = {name: headers[name] for name in ("traceparent", "tracestate") if name in headers}
        # No valid traceparent: an empty context, so the request's span starts a trace.
        parent = _PROPAGATOR.extract(carrier)
        method = str(scope.get("method", "GET"))
        attributes = {"http.request.method": method, "url.path": str(scope.get("path", ""))}
        with self.tracing.span(
            method, parent=parent, kind=SpanKind.SERVER, attributes=attributes
        ) as span:
            status = 500

            async def send_noting_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                await send(message)

            with bind_trace(f"{span.get_span_context().trace_id:032x}"):
                try:
                    await self.app(scope, receive, send_noting_status)
                finally:
                    route = _route_template(scope)
                    if route is not None:
                        span.update_name(f"{method} {route}")
                        span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))


def _route_template(scope: Scope) -> str | None:
    """The matched route's path template (``/v1/runs/{run_id}``): the request's path with each
    path parameter's value put back as its name. None when no route matched (a 404), so that
    span names stay few."""
    if scope.get("route") is None:
        return None
    template = str(scope.get("path", ""))
    params = scope.get("path_params") or {}
    for name, value in sorted(params.items(), key=lambda item: -len(str(item[1]))):
        text = str(value)
        start = template.rfind(f"/{text}")
        while start >= 0:
            end = start + 1 + len(text)
            if text and (end == len(template) or template[end] == "/"):
                template = f"{template[: start + 1]}{{{name}}}{template[end:]}"
                break
            start = template.rfind(f"/{text}", 0, start)
    return template
