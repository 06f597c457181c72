"""Reading fal's answers: the status object, and every failure as a Reelforge error.

:func:`parse_status` turns fal's status into one of our job states (a ``COMPLETED`` without an
error is :class:`Completed`: the outputs are at the response URL). :func:`fal_error` is the one
translation of a failure, whether it came as an HTTP answer, a transport error or a failure fal
reported in a body (:class:`FalFailure`): it reads fal's error type (the body's ``error_type``
or the ``X-Fal-Error-Type`` header, a content-policy ``detail``) and hands it to :data:`FAILURES`,
fal's rows over the shared table of :mod:`reelforge.providers.http`. Nothing typed by httpx leaves
it. :class:`FalError` is fal's own error class (``FAL_ERROR``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from reelforge.errors import ContentRejected, ProviderError, ProviderTimeout, ProviderUnavailable
from reelforge.providers.base import Canceled, Failed, JobState, Queued, Running
from reelforge.providers.http import (
    FailureTable,
    Outcome,
    VendorFailure,
    json_object,
    malformed_body,
    parse_retry_after,
    read_json,
)

__all__ = [
    "FAILURES",
    "KEY_ENV",
    "PROVIDER_ID",
    "READS",
    "SPEC_KEY_ENVS",
    "Completed",
    "FalError",
    "FalFailure",
    "fal_error",
    "loads_json",
    "parse_status",
    "webhook_failure",
]

PROVIDER_ID = "fal"
KEY_ENV = "FAL_KEY"
#: The motion-segments spec's names for its fal credentials (one per capability there; one key
#: here: the first that is set, when ``FAL_KEY`` is not).
SPEC_KEY_ENVS: tuple[str, ...] = ("FAL_IMAGE_TO_VIDEO", "FAL_TEXT_TO_VIDEO")


class FalError(ProviderError):
    """A fal failure no shared class names."""

    code = "FAL_ERROR"


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
    """fal's status object as one of our states (COMPLETED without error: fetch the result).
    An answer that is not an object is unreadable: a retryable error is raised."""
    if not isinstance(body, dict):
        raise malformed_body(FAILURES, "status", transient=True)
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


_CONTENT_POLICY = "content_policy_violation"
_TIMED_OUT = Outcome(ProviderTimeout, "{vendor} failed ({kind}): {vendor_message}", True)
_UNAVAILABLE = Outcome(ProviderUnavailable, "{vendor} failed ({kind}): {vendor_message}", True)
#: fal's rows: by its error type; statuses as the shared table says.
FAILURES = FailureTable(
    PROVIDER_ID,
    "fal",
    FalError,
    KEY_ENV,
    key_env_aliases=SPEC_KEY_ENVS,
    by_kind={
        _CONTENT_POLICY: Outcome(ContentRejected, "{vendor} refused the content (content policy)."),
        "request_timeout": _TIMED_OUT,
        "startup_timeout": _TIMED_OUT,
        "runner_scheduling_failure": _UNAVAILABLE,
        "runner_connection_timeout": _UNAVAILABLE,
        "runner_disconnected": _UNAVAILABLE,
        "runner_connection_refused": _UNAVAILABLE,
        "runner_connection_error": _UNAVAILABLE,
        "runner_incomplete_response": _UNAVAILABLE,
        "runner_server_error": _UNAVAILABLE,
        "internal_error": _UNAVAILABLE,
    },
)


def fal_error(
    operation: str, source: httpx.Response | httpx.HTTPError | FalFailure
) -> ProviderError:
    """The one translation of a fal failure (HTTP answer, transport error, or reported failure)."""
    if isinstance(source, httpx.HTTPError):
        return FAILURES.transport(operation, source)
    if isinstance(source, FalFailure):
        failure = source
        retry_after = None
    else:
        failure = _failure_of(source)
        retry_after = parse_retry_after(source.headers.get("retry-after"))
    details: dict[str, Any] = {"error_type": failure.error_type}
    if failure.vendor_status is not None:
        details["vendor_status"] = failure.vendor_status
    content = failure.error_type == _CONTENT_POLICY or _content_violation(failure.detail)
    found = VendorFailure(
        failure.message,
        failure.status_code,
        _CONTENT_POLICY if content else failure.error_type,
        retry_after=retry_after,
        details=details,
    )
    return FAILURES.error(operation, found)


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


#: fal's calls that only read: a malformed answer to one of them is a passing glitch.
READS = frozenset({"status", "result", "list_requests", "jwks"})


def loads_json(content: bytes, operation: str) -> Any:
    """A body that must be JSON; if it is not, a retryable error for a call that only reads
    (:data:`READS`), else fal's own (see :func:`reelforge.providers.http.read_json`)."""
    return read_json(FAILURES, content, operation, READS)


def _log_messages(logs: Any) -> tuple[str, ...]:
    if not isinstance(logs, list):
        return ()
    return tuple(str(e.get("message", "")) for e in logs if isinstance(e, dict))
