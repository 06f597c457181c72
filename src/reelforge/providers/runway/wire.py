"""Reading Runway's answers: the task object, and every failure as a Reelforge error.

:func:`parse_task` turns ``GET /v1/tasks/{id}`` into one of our states: ``PENDING`` and
``THROTTLED`` (accepted, waiting on the tier's concurrency) are queued, ``RUNNING`` running with
``progress`` (0-1), ``SUCCEEDED`` finished with its ``output`` URLs (which expire in 24-48 h),
``FAILED`` a failure, ``CANCELLED`` canceled. :func:`runway_error` is the one translation of a
failure, whether it came as an HTTP answer (``{"error": ...}``), a transport error or a task's
``failure`` / ``failureCode`` (:class:`RunwayFailure`): ``SAFETY.*`` codes (content moderation,
not to be retried) are :class:`~reelforge.errors.ContentRejected`, ``INPUT_PREPROCESSING.*`` and
``ASSET.*`` rejected input, 429 rate limiting with ``Retry-After``, 502/503/504 load shedding.
Nothing typed by httpx leaves it.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from typing import Any

import httpx

from reelforge.errors import (
    ContentRejected,
    ProviderError,
    ProviderRateLimited,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnavailable,
    RunwayError,
)
from reelforge.providers.base import (
    Canceled,
    Failed,
    GenerationMetadata,
    JobState,
    OutputMedia,
    Queued,
    Running,
    Succeeded,
)
from reelforge.providers.http import decode_json, json_object, parse_retry_after, transport_error

__all__ = ["KEY_ENV", "PROVIDER_ID", "RunwayFailure", "loads_json", "parse_task", "runway_error"]

PROVIDER_ID = "runway"
KEY_ENV = "RUNWAYML_API_SECRET"
_MODERATION = re.compile(r"content moderation|moderation|flagged|unsafe", re.I)


@dataclass(frozen=True, slots=True)
class RunwayFailure:
    """A failure Runway reported in a body (a failed task) rather than as an HTTP error."""

    message: str
    failure_code: str | None = None
    status_code: int | None = None


def parse_task(body: Any, *, model: str) -> JobState:
    """A task object as one of our states."""
    if not isinstance(body, dict):
        return Failed(runway_error("status", RunwayFailure("The task is not an object.")))
    status = body.get("status")
    if status in ("PENDING", "THROTTLED"):
        return Queued()
    if status == "RUNNING":
        progress = body.get("progress")
        if isinstance(progress, int | float):
            return Running(progress=min(max(float(progress), 0.0), 1.0))
        return Running()
    if status == "SUCCEEDED":
        return _succeeded(body, model)
    if status == "FAILED":
        failure = RunwayFailure(
            str(body.get("failure") or "The task failed."),
            body.get("failureCode") if isinstance(body.get("failureCode"), str) else None,
        )
        return Failed(runway_error("task", failure))
    if status == "CANCELLED":
        return Canceled("The task was cancelled.")
    return Failed(
        runway_error("status", RunwayFailure(f"Runway reported an unknown status {status!r}."))
    )


def _succeeded(body: dict[str, Any], model: str) -> JobState:
    urls = [url for url in body.get("output") or () if isinstance(url, str) and url]
    if not urls:
        return Failed(runway_error("result", RunwayFailure("The task's output holds no media.")))
    outputs = tuple(
        OutputMedia(url=url, content_type=mimetypes.guess_type(url.split("?", 1)[0])[0])
        for url in urls
    )
    extra = {"task_id": body.get("id"), "created_at": body.get("createdAt")}
    return Succeeded(outputs=outputs, metadata=GenerationMetadata(model=model, extra=extra))


def runway_error(
    operation: str, source: httpx.Response | httpx.HTTPError | RunwayFailure
) -> ProviderError:
    """The one translation of a Runway failure (HTTP answer, transport error, or task failure)."""
    if isinstance(source, httpx.HTTPError):
        return transport_error(PROVIDER_ID, "Runway", operation, source)
    retry_after: float | None = None
    if isinstance(source, RunwayFailure):
        failure = source
    else:
        failure = _failure_of(source)
        retry_after = parse_retry_after(source.headers.get("retry-after"))
    code, failure_code = failure.status_code, failure.failure_code or ""
    details: dict[str, Any] = {
        "operation": operation,
        "http_status": code,
        "failure_code": failure.failure_code,
        "vendor_message": failure.message[:300],
    }
    if "SAFETY" in failure_code.split(".") or (code == 400 and _MODERATION.search(failure.message)):
        return ContentRejected(
            "Runway refused the content (content moderation).",
            provider=PROVIDER_ID,
            details=details,
        )
    if failure_code.startswith(("INPUT_PREPROCESSING", "ASSET")) or code == 400:
        return ProviderRejectedInput(
            f"Runway refused the input: {failure.message[:200]}",
            provider=PROVIDER_ID,
            details=details,
        )
    if code == 429:
        return ProviderRateLimited(
            "Runway is rate limiting us.",
            provider=PROVIDER_ID,
            details=details,
            retry_after=retry_after,
        )
    if code in (401, 403):
        return RunwayError(
            f"Runway refused the credentials (HTTP {code}): check the key in {KEY_ENV}.",
            provider=PROVIDER_ID,
            details=details | {"env_var": KEY_ENV},
        )
    if code == 408:
        return ProviderTimeout("Runway timed out.", provider=PROVIDER_ID, details=details)
    if (code is not None and code >= 500) or failure_code == "INTERNAL":
        return ProviderUnavailable(
            f"Runway is unavailable (HTTP {code})." if code else "Runway failed internally.",
            provider=PROVIDER_ID,
            details=details,
            retry_after=retry_after,
        )
    return RunwayError(
        f"Runway failed ({operation}): {failure.message[:200]}",
        provider=PROVIDER_ID,
        details=details,
    )


def _failure_of(response: httpx.Response) -> RunwayFailure:
    body = json_object(response) or {}
    message = body.get("error") or body.get("message") or response.reason_phrase
    failure_code = body.get("failureCode")
    return RunwayFailure(
        str(message or f"HTTP {response.status_code}"),
        failure_code if isinstance(failure_code, str) else None,
        response.status_code,
    )


def loads_json(content: bytes, operation: str) -> Any:
    """A body that must be JSON; if it is not, Runway's error."""
    return decode_json(
        content,
        lambda: runway_error(
            operation, RunwayFailure("Runway answered with a body that is not valid JSON.")
        ),
    )
