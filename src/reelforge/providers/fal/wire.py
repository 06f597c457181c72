"""Reading fal's answers: the status object, and every failure as a Reelforge error.

:func:`parse_status` turns fal's status into one of our job states (a ``COMPLETED`` without an
error is :class:`Completed`: the outputs are at the response URL). :func:`fal_error` is the one
translation of a failure, whether it came as an HTTP answer, a transport error or a failure fal
reported in a body (:class:`FalFailure`): timeouts, 429 with ``Retry-After``, 5xx, invalid
input, content-policy rejection, refused credentials. Nothing typed by httpx leaves it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from reelforge.errors import (
    ContentRejected,
    FalError,
    ProviderError,
    ProviderRateLimited,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnavailable,
)
from reelforge.providers.base import Canceled, Failed, JobState, Queued, Running
from reelforge.providers.http import decode_json, json_object, parse_retry_after, transport_error

__all__ = [
    "KEY_ENV",
    "PROVIDER_ID",
    "Completed",
    "FalFailure",
    "fal_error",
    "loads_json",
    "parse_status",
    "webhook_failure",
]

PROVIDER_ID = "fal"
KEY_ENV = "FAL_KEY"


@dataclass(frozen=True, slots=True)
class Completed:
    """A COMPLETED status without an error: the outputs are at the response URL."""

    inference_time_s: float | None


@dataclass(frozen=True, slots=True)
class FalFailure:
    """A failure fal reported in a body (status, webhook) rather than as an HTTP error."""

    message: str
    error_type: str | None = None
    status_code: int | None = None
    detail: Any = None
    vendor_status: str | None = None


def parse_status(body: Any) -> JobState | Completed:
    """fal's status object as one of our states (COMPLETED without error: fetch the result)."""
    if not isinstance(body, dict):
        return Failed(fal_error("status", FalFailure("fal's status answer is not an object.")))
    status = body.get("status")
    if status == "IN_QUEUE":
        position = body.get("queue_position")
        return Queued(position=position if isinstance(position, int) else None)
    if status == "IN_PROGRESS":
        return Running(logs=_log_messages(body.get("logs")))
    if status == "COMPLETED":
        if body.get("error") or body.get("error_type"):
            error_type = body.get("error_type")
            if error_type in ("request_cancelled", "cancelled"):
                return Canceled(str(body.get("error") or "canceled"))
            return Failed(
                fal_error("status", FalFailure(str(body.get("error") or "fal failed"), error_type))
            )
        metrics = body.get("metrics")
        seconds = metrics.get("inference_time") if isinstance(metrics, dict) else None
        return Completed(float(seconds) if isinstance(seconds, int | float) else None)
    return Failed(fal_error("status", FalFailure(f"fal reported an unknown status {status!r}.")))


_ERROR_TYPES: dict[str, type[ProviderError]] = {
    "content_policy_violation": ContentRejected,
    "request_timeout": ProviderTimeout,
    "startup_timeout": ProviderTimeout,
    "runner_scheduling_failure": ProviderUnavailable,
    "runner_connection_timeout": ProviderUnavailable,
    "runner_disconnected": ProviderUnavailable,
    "runner_connection_refused": ProviderUnavailable,
    "runner_connection_error": ProviderUnavailable,
    "runner_incomplete_response": ProviderUnavailable,
    "runner_server_error": ProviderUnavailable,
    "internal_error": ProviderUnavailable,
}


def fal_error(
    operation: str, source: httpx.Response | httpx.HTTPError | FalFailure
) -> ProviderError:
    """The one translation of a fal failure (HTTP answer, transport error, or reported failure)."""
    if isinstance(source, httpx.HTTPError):
        return transport_error(PROVIDER_ID, "fal", operation, source)
    if isinstance(source, FalFailure):
        failure = source
        retry_after = None
    else:
        failure = _failure_of(source)
        retry_after = parse_retry_after(source.headers.get("retry-after"))
    code, error_type = failure.status_code, failure.error_type
    details: dict[str, Any] = {
        "operation": operation,
        "http_status": code,
        "error_type": error_type,
        "vendor_message": failure.message[:300],
    }
    if failure.vendor_status is not None:
        details["vendor_status"] = failure.vendor_status
    if error_type == "content_policy_violation" or _content_violation(failure.detail):
        return ContentRejected(
            "fal refused the content (content policy).", provider=PROVIDER_ID, details=details
        )
    if code == 429:
        return ProviderRateLimited(
            "fal is rate limiting us.",
            provider=PROVIDER_ID,
            details=details,
            retry_after=retry_after,
        )
    if code in (401, 403):
        return FalError(
            f"fal refused the credentials (HTTP {code}): check the key in {KEY_ENV}.",
            provider=PROVIDER_ID,
            details=details | {"env_var": KEY_ENV},
        )
    if error_type in _ERROR_TYPES:
        cls = _ERROR_TYPES[error_type]
        return cls(
            f"fal failed ({error_type}): {failure.message[:200]}",
            provider=PROVIDER_ID,
            details=details,
            retry_after=retry_after,
        )
    if code in (400, 422):
        return ProviderRejectedInput(
            f"fal refused the input: {_fields(failure.detail)}.",
            provider=PROVIDER_ID,
            details=details,
        )
    if code in (408, 504):
        return ProviderTimeout("fal timed out.", provider=PROVIDER_ID, details=details)
    if code is not None and code >= 500:
        return ProviderUnavailable(
            f"fal is unavailable (HTTP {code}).",
            provider=PROVIDER_ID,
            details=details,
            retry_after=retry_after,
        )
    return FalError(
        f"fal failed ({operation}): {failure.message[:200]}", provider=PROVIDER_ID, details=details
    )


def _failure_of(response: httpx.Response) -> FalFailure:
    body = json_object(response) or {}
    detail = body.get("detail")
    message = detail if isinstance(detail, str) else _fields(detail) or response.reason_phrase
    status = body.get("status")
    return FalFailure(
        message,
        body.get("error_type") or response.headers.get("x-fal-error-type"),
        response.status_code,
        detail,
        status if isinstance(status, str) else None,
    )


def webhook_failure(payload: dict[str, Any]) -> FalFailure:
    inner = payload.get("payload")
    found = re.search(r"(\d{3})", str(payload.get("error", "")))
    detail = inner.get("detail") if isinstance(inner, dict) else None
    error_type = inner.get("error_type") if isinstance(inner, dict) else None
    return FalFailure(
        str(payload.get("error") or "fal reported an error"),
        error_type,
        int(found.group(1)) if found else None,
        detail,
    )


def _content_violation(detail: Any) -> bool:
    return isinstance(detail, list) and any(
        isinstance(item, dict) and item.get("type") == "content_policy_violation" for item in detail
    )


def _fields(detail: Any) -> str:
    if not isinstance(detail, list):
        return str(detail or "")
    parts = []
    for item in detail:
        if isinstance(item, dict):
            where = ".".join(str(p) for p in item.get("loc", []) if p != "body")
            parts.append(f"{where or 'body'}: {item.get('msg', 'invalid')}")
    return "; ".join(parts)


def loads_json(content: bytes, operation: str) -> Any:
    """A body that must be JSON; if it is not, fal's error."""
    return decode_json(
        content,
        lambda: fal_error(
            operation, FalFailure("fal answered with a body that is not valid JSON.")
        ),
    )


def _log_messages(logs: Any) -> tuple[str, ...]:
    if not isinstance(logs, list):
        return ()
    return tuple(str(e.get("message", "")) for e in logs if isinstance(e, dict))
