"""The HTTP plumbing every hosted adapter shares: sending, transport errors, Retry-After, JSON.

What differs between vendors stays in each one's ``wire.py``: the error table (status codes,
vendor error types, content-policy detection), the failure shapes and the wording. What does not
is here:

- :class:`ProviderHttp` sends one request with the injected client and hands every failure to the
  vendor's table: a transport error, an error answer (logged as ``<provider>.call.failed``) or
  an invalid URL (a configuration error). Nothing typed by httpx leaves it but the response.
- :func:`transport_error` is the row every table shares for httpx's transport errors: a timeout
  is :class:`~reelforge.errors.ProviderTimeout`, anything else
  :class:`~reelforge.errors.ProviderUnavailable`.
- :func:`parse_retry_after` reads ``Retry-After`` (delta-seconds or an HTTP date).
- :func:`decode_json` and :func:`json_object` read bodies: a malformed success body is the
  vendor's error; a malformed error body is simply no body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeAlias

import httpx

from reelforge.errors import (
    ConfigurationError,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    ReelforgeError,
)
from reelforge.log import get_logger

__all__ = [
    "ErrorTable",
    "ProviderHttp",
    "decode_json",
    "invalid_url",
    "json_object",
    "parse_retry_after",
    "transport_error",
]

log = get_logger(__name__)

#: A vendor's one translation of a failure: ``(operation, response or transport error) -> error``.
ErrorTable: TypeAlias = Callable[[str, httpx.Response | httpx.HTTPError], ProviderError]


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
    """An httpx transport error as ours: a timeout, or the vendor could not be reached."""
    details = {"operation": operation}
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
                method, url, json=json, params=params, headers=headers, timeout=timeout_s
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
