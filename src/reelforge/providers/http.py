"""The HTTP plumbing every hosted adapter shares: sending, the failure table, Retry-After, JSON.

What differs between vendors stays in each one's ``wire.py``: reading a failure out of the
vendor's answer (its body shape, its own error codes, content-policy detection) and the few rows
where the vendor departs from the shared table. What does not is here:

- :data:`FAILURES` is the one table from an HTTP status to our error class (which says whether it
  is retryable) and whether the vendor's ``Retry-After`` rides along. A vendor's
  :class:`FailureTable` adds its own rows, by its own error codes (``by_kind``, checked first) and
  by status (``by_status``, checked before the shared rows); a status no row names is the
  vendor's own error class. :meth:`FailureTable.error` turns a :class:`VendorFailure` into the
  error.
- :class:`ProviderHttp` sends one request with the injected client and hands every failure to the
  vendor's table: a transport error, an error answer (logged as ``<provider>.call.failed``) or
  an invalid URL (a configuration error). Nothing typed by httpx leaves it but the response.
- :func:`transport_error` is the row every table shares for httpx's transport errors: a timeout
  is :class:`~reelforge.errors.ProviderTimeout`, anything else
  :class:`~reelforge.errors.ProviderUnavailable`.
- :class:`TracedTransport` makes each call a span (``<provider> <operation>``, named by
  :meth:`ProviderHttp.send` through the request's extensions), child of the current one: the
  job step that calls. The composition root puts it under the shared client only when spans
  are exported.
- :func:`parse_retry_after` reads ``Retry-After`` (delta-seconds or an HTTP date).
- :func:`decode_json` and :func:`json_object` read bodies: a malformed error body is simply no
  body. :func:`read_json` reads a success body that must be JSON: a malformed answer to a call
  that only reads (a status poll, a result, a listing: the vendor's ``reads``) is a passing glitch
  (:func:`malformed_body`: :class:`~reelforge.errors.ProviderUnavailable`, retryable, since
  asking again is free and the job is unharmed); to any other call (a submit, a synchronous
  generate) it is the vendor's own error, not retried here, because sending it again may be
  billed again. Either way the details say ``reason: malformed_body``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeAlias

import httpx
from opentelemetry.trace import SpanKind, Status, StatusCode

from reelforge.errors import (
    ConfigurationError,
    ProviderError,
    ProviderRateLimited,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnavailable,
    ReelforgeError,
)
from reelforge.log import get_logger
from reelforge.tracing import Tracing

__all__ = [
    "CALL_EXTENSION",
    "CREDENTIALS",
    "FAILED",
    "FAILURES",
    "REJECTED",
    "TIMED_OUT",
    "ErrorTable",
    "FailureTable",
    "Outcome",
    "ProviderHttp",
    "TracedTransport",
    "VendorFailure",
    "decode_json",
    "invalid_url",
    "json_object",
    "malformed_body",
    "parse_retry_after",
    "read_json",
    "transport_error",
]

log = get_logger(__name__)

#: A vendor's one translation of a failure: ``(operation, response or transport error) -> error``.
ErrorTable: TypeAlias = Callable[[str, httpx.Response | httpx.HTTPError], ProviderError]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One row of a failure table: the error class (None: the vendor's own class), the message
    and whether the vendor's Retry-After rides along.

    ``message`` may name ``{vendor}``, ``{operation}``, ``{status}`` (``HTTP 503``, else the
    vendor's code), ``{kind}`` (the vendor's code, else the status), ``{vendor_message}``,
    ``{what}`` (what the vendor said was wrong) and ``{key_env}``; ``names_key`` adds the key's
    variable to the details."""

    error: type[ProviderError] | None
    message: str
    retry_after: bool = False
    names_key: bool = False


#: The vendor failed in a way no row names: its own error class.
FAILED = Outcome(None, "{vendor} failed ({operation}): {vendor_message}")
#: The vendor refused our key.
CREDENTIALS = Outcome(
    None, "{vendor} refused the credentials ({status}): check the key in {key_env}.", names_key=True
)
#: The vendor refused what we sent.
REJECTED = Outcome(ProviderRejectedInput, "{vendor} refused the input: {what}")
#: The vendor ran out of time.
TIMED_OUT = Outcome(ProviderTimeout, "{vendor} timed out.")

#: The shared table: HTTP status (or a class such as ``"5xx"``) -> what it becomes.
FAILURES: Mapping[int | str, Outcome] = {
    400: REJECTED,
    401: CREDENTIALS,
    403: CREDENTIALS,
    408: TIMED_OUT,
    422: REJECTED,
    429: Outcome(ProviderRateLimited, "{vendor} is rate limiting us.", retry_after=True),
    504: TIMED_OUT,
    "5xx": Outcome(ProviderUnavailable, "{vendor} is unavailable ({status}).", retry_after=True),
}


@dataclass(frozen=True, slots=True)
class VendorFailure:
    """A failure as the vendor's reader found it: in an error answer or in a failed job's body.

    ``kind`` is the vendor's own code for it, as the vendor's table keys it (read by the vendor's
    ``wire.py``: ``content_policy``, ``RESOURCE_EXHAUSTED``...); ``details`` are extra facts to
    carry (never a secret)."""

    message: str
    status: int | None = None
    kind: str | None = None
    what: str | None = None
    retry_after: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FailureTable:
    """How one vendor's failures become our errors: its own rows over the shared ones."""

    provider_id: str
    vendor_name: str
    error_class: type[ProviderError]
    key_env: str | None = None
    by_kind: Mapping[str, Outcome] = field(default_factory=dict)
    by_status: Mapping[int | str, Outcome] = field(default_factory=dict)
    otherwise: Outcome = FAILED
    #: Other variables the key may be in (the specs' names), named beside ``key_env``.
    key_env_aliases: tuple[str, ...] = ()

    def outcome(self, failure: VendorFailure) -> Outcome:
        """The row for ``failure``: its kind, then its status (exact, then its class such as
        ``5xx``; the vendor's rows before the shared ones), else :attr:`otherwise`."""
        if failure.kind is not None and failure.kind in self.by_kind:
            return self.by_kind[failure.kind]
        if failure.status is None:
            return self.otherwise
        status_class = f"{failure.status // 100}xx"
        for key in (failure.status, status_class):
            for table in (self.by_status, FAILURES):
                if key in table:
                    return table[key]
        return self.otherwise

    def error(self, operation: str, failure: VendorFailure) -> ProviderError:
        """``failure`` of ``operation`` as our error, with the vendor's words in its details."""
        outcome = self.outcome(failure)
        details: dict[str, Any] = {
            "operation": operation,
            "http_status": failure.status,
            "vendor_message": failure.message[:300],
            **failure.details,
        }
        if outcome.names_key and self.key_env:
            details["env_var"] = self.key_env
            if self.key_env_aliases:
                details["alternatives"] = list(self.key_env_aliases)
        status = f"HTTP {failure.status}" if failure.status is not None else failure.kind
        status = status or operation
        message = outcome.message.format(
            vendor=self.vendor_name,
            operation=operation,
            status=status,
            kind=failure.kind or status,
            vendor_message=failure.message[:200],
            what=failure.what or failure.message[:200],
            key_env=self.key_names,
        )
        cls = outcome.error or self.error_class
        retry_after = failure.retry_after if outcome.retry_after else None
        return cls(message, provider=self.provider_id, details=details, retry_after=retry_after)

    @property
    def key_names(self) -> str | None:
        """The key's variables as messages name them: ``A`` or ``A (or B, C)``."""
        if self.key_env is None or not self.key_env_aliases:
            return self.key_env
        return f"{self.key_env} (or {', '.join(self.key_env_aliases)})"

    def transport(self, operation: str, exc: httpx.HTTPError) -> ProviderError:
        """An httpx transport error of ``operation``: the row every vendor shares."""
        return transport_error(self.provider_id, self.vendor_name, operation, exc)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (never negative); None if absent or unread."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max((parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


def transport_error(
    provider_id: str, vendor_name: str, operation: str, exc: httpx.HTTPError
) -> ProviderError:
    """An httpx transport error as ours: a timeout, or the vendor could not be reached.
    ``details.reason`` is ``not_connected`` when no connection was made (nothing was sent), so
    the engine knows such a failed submit cannot have been accepted."""
    details = {"operation": operation}
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        details["reason"] = "not_connected"
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(
            f"{vendor_name} did not answer in time ({operation}).",
            provider=provider_id,
            details=details,
        )
    return ProviderUnavailable(
        f"{vendor_name} could not be reached ({operation}): {type(exc).__name__}.",
        provider=provider_id,
        details=details,
    )


def decode_json(content: bytes, on_error: Callable[[], ReelforgeError]) -> Any:
    """The JSON in ``content``; if it is not JSON, the error ``on_error`` makes is raised."""
    try:
        return json.loads(content)
    except ValueError:
        raise on_error() from None


def malformed_body(table: FailureTable, operation: str, *, transient: bool) -> ProviderError:
    """A success answer of ``operation`` that cannot be read (not JSON, or not the shape every
    answer of it has): retryable :class:`ProviderUnavailable` when ``transient``, else the
    vendor's own error."""
    cls = ProviderUnavailable if transient else table.error_class
    return cls(
        f"{table.vendor_name} answered with a body that cannot be read ({operation}).",
        provider=table.provider_id,
        details={"operation": operation, "reason": "malformed_body"},
    )


def read_json(table: FailureTable, content: bytes, operation: str, reads: frozenset[str]) -> Any:
    """The JSON of a success answer; if it is not JSON, :func:`malformed_body` (transient when
    ``operation`` is one of the vendor's ``reads``)."""
    return decode_json(
        content, lambda: malformed_body(table, operation, transient=operation in reads)
    )


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """An (error) answer's body if it is a JSON object, else None."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def invalid_url(
    provider_id: str, vendor_name: str, hint: str
) -> Callable[[str], ConfigurationError]:
    """The usual error for a URL httpx refuses: it names the operation and the settings to check."""

    def error(operation: str) -> ConfigurationError:
        return ConfigurationError(
            f"A {vendor_name} URL is invalid ({operation}): {hint}.",
            details={"provider": provider_id, "operation": operation},
        )

    return error


@dataclass(frozen=True, slots=True)
class ProviderHttp:
    """How one vendor is called: its id, its error table and its error for an invalid URL.

    Holds no client: the adapter passes its injected one to each :meth:`send`.
    """

    provider_id: str
    translate: ErrorTable
    url_error: Callable[[str], ReelforgeError]

    async def send(
        self,
        client: httpx.AsyncClient,
        operation: str,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        timeout_s: float,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; a successful response, or the vendor's error raised."""
        try:
            response = await client.request(
                method,
                url,
                json=json,
                params=params,
                headers=headers,
                timeout=timeout_s,
                extensions={CALL_EXTENSION: (self.provider_id, operation)},
            )
        except httpx.HTTPError as exc:
            raise self.translate(operation, exc) from None
        except httpx.InvalidURL:
            raise self.url_error(operation) from None
        if response.is_error:
            error = self.translate(operation, response)
            log.warning(
                f"{self.provider_id}.call.failed",
                operation=operation,
                status=response.status_code,
                code=error.code,
            )
            raise error
        return response


#: The httpx request extension that names a provider call: ``(provider id, operation)``.
CALL_EXTENSION = "reelforge.provider_call"


class TracedTransport(httpx.AsyncBaseTransport):
    """Each request sent through ``transport`` in a client span (see the module docstring):
    method, host, port and path (never the query, which may carry a key), and the answer's
    status; an error answer or a transport error marks it failed."""

    def __init__(self, transport: httpx.AsyncBaseTransport, tracing: Tracing) -> None:
        self._transport = transport
        self._tracing = tracing

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        call = request.extensions.get(CALL_EXTENSION)
        attributes: dict[str, Any] = {
            "http.request.method": request.method,
            "server.address": request.url.host,
            "url.path": request.url.path,
        }
        if request.url.port is not None:
            attributes["server.port"] = request.url.port
        name = f"HTTP {request.method}"
        if isinstance(call, tuple) and len(call) == 2:
            name = f"{call[0]} {call[1]}"
            attributes["reelforge.provider"] = str(call[0])
            attributes["reelforge.operation"] = str(call[1])
        with self._tracing.span(name, kind=SpanKind.CLIENT, attributes=attributes) as span:
            response = await self._transport.handle_async_request(request)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 400:
                span.set_status(Status(StatusCode.ERROR, f"HTTP {response.status_code}"))
            return response

    async def aclose(self) -> None:
        await self._transport.aclose()
