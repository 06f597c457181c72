"""Reading Runway's answers: the task object, and every failure as a Reelforge error.

:func:`parse_task` turns ``GET /v1/tasks/{id}`` into one of our states: ``PENDING`` and
``THROTTLED`` (accepted, waiting on the tier's concurrency) are queued, ``RUNNING`` running with
``progress`` (0-1), ``SUCCEEDED`` finished with its ``output`` URLs (which expire in 24-48 h),
``FAILED`` a failure, ``CANCELLED`` canceled. :func:`runway_error` is the one translation of a
failure, whether it came as an HTTP answer (``{"error": ...}``), a transport error or a task's
``failure`` / ``failureCode`` (:class:`RunwayFailure`); :data:`FAILURES` holds Runway's rows over
the shared table of :mod:`reelforge.providers.http`: ``SAFETY.*`` codes (content moderation, not
to be retried) are :class:`~reelforge.errors.ContentRejected`, ``INPUT_PREPROCESSING.*`` and
``ASSET.*`` rejected input, 502/503/504 load shedding, 422 Runway's own error. Nothing typed by
httpx leaves it. :class:`RunwayError` is Runway's own error class (``RUNWAY_ERROR``).
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from typing import Any

import httpx

from reelforge.errors import ContentRejected, ProviderError, ProviderUnavailable
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
from reelforge.providers.http import (
    FAILED,
    REJECTED,
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
    "RunwayError",
    "RunwayFailure",
    "loads_json",
    "parse_task",
    "runway_error",
]

PROVIDER_ID = "runway"
KEY_ENV = "RUNWAYML_API_SECRET"
#: The Cinematic Switch spec's name for the key (``RUNWAYML_API_SECRET`` is the SDK's).
SPEC_KEY_ENVS: tuple[str, ...] = ("RUNWAY_API_KEY",)
_MODERATION = re.compile(r"content moderation|moderation|flagged|unsafe", re.I)


class RunwayError(ProviderError):
    """A Runway failure no shared class names."""

    code = "RUNWAY_ERROR"


_UNAVAILABLE = Outcome(ProviderUnavailable, "{vendor} is unavailable ({kind}).", retry_after=True)
#: Runway's rows: by its failure codes (read into SAFETY / INPUT / INTERNAL), and statuses
#: where it departs from the shared table.
FAILURES = FailureTable(
    PROVIDER_ID,
    "Runway",
    RunwayError,
    KEY_ENV,
    key_env_aliases=SPEC_KEY_ENVS,
    by_kind={
        "SAFETY": Outcome(ContentRejected, "{vendor} refused the content (content moderation)."),
        "INPUT": REJECTED,
        "INTERNAL": _UNAVAILABLE,
    },
    by_status={422: FAILED, 504: _UNAVAILABLE},
)


@dataclass(frozen=True, slots=True)
class RunwayFailure:
    """A failure Runway reported in a body (a failed task) rather than as an HTTP error."""

    message: str
    failure_code: str | None = None
    status_code: int | None = None


def parse_task(body: Any, *, model: str) -> JobState:
    """A task object as one of our states. An answer that is not an object is unreadable: a
    retryable error is raised."""
    if not isinstance(body, dict):
        raise malformed_body(FAILURES, "status", transient=True)
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
        return FAILURES.transport(operation, source)
    retry_after: float | None = None
    if isinstance(source, RunwayFailure):
        failure = source
    else:
        failure = _failure_of(source)
        retry_after = parse_retry_after(source.headers.get("retry-after"))
    found = VendorFailure(
        failure.message,
        failure.status_code,
        _kind(failure),
        retry_after=retry_after,
        details={"failure_code": failure.failure_code},
    )
    return FAILURES.error(operation, found)


def _kind(failure: RunwayFailure) -> str | None:
    """The row of Runway's table a failure belongs to, from its failure code and wording."""
    code = failure.failure_code or ""
    if "SAFETY" in code.split(".") or (
        failure.status_code == 400 and _MODERATION.search(failure.message)
    ):
        return "SAFETY"
    if code.startswith(("INPUT_PREPROCESSING", "ASSET")):
        return "INPUT"
    return "INTERNAL" if code == "INTERNAL" else None


def _failure_of(response: httpx.Response) -> RunwayFailure:
    body = json_object(response) or {}
    message = body.get("error") or body.get("message") or response.reason_phrase
    failure_code = body.get("failureCode")
    return RunwayFailure(
        str(message or f"HTTP {response.status_code}"),
        failure_code if isinstance(failure_code, str) else None,
        response.status_code,
    )


#: Runway's calls that only read: a malformed answer to one of them is a passing glitch.
READS = frozenset({"status"})


def loads_json(content: bytes, operation: str) -> Any:
    """A body that must be JSON; if it is not, a retryable error for a call that only reads
    (:data:`READS`), else Runway's own (see :func:`reelforge.providers.http.read_json`)."""
    return read_json(FAILURES, content, operation, READS)
