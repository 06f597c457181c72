"""Reading Replicate's answers: the prediction object, and every failure as a Reelforge error.

:func:`parse_prediction` turns a prediction (from create, get, cancel or a webhook) into one of
our job states: ``starting`` is queued, ``processing`` running (progress read from tqdm-style
log lines), ``succeeded`` finished with its outputs, ``failed`` a failure, ``canceled`` and
``aborted`` (a ``Cancel-After`` deadline reached before the prediction started) canceled.
:func:`replicate_error` is the one translation of a failure, whether it came as an HTTP answer
(RFC 7807 problem details), a transport error or an ``error`` string in a failed prediction
(:class:`ReplicateFailure`): it reads the invalid fields, the throttling delay and NSFW or
"flagged as sensitive" wording, and hands the failure to :data:`FAILURES`, Replicate's rows over
the shared table of :mod:`reelforge.providers.http`. Nothing typed by httpx leaves it.
:class:`ReplicateError` is Replicate's own error class (``REPLICATE_ERROR``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import httpx

from reelforge.errors import ContentRejected, ProviderError
from reelforge.providers.base import (
    Canceled,
    Failed,
    GenerationMetadata,
    JobState,
    Queued,
    Running,
    Succeeded,
)
from reelforge.providers.http import (
    FailureTable,
    Outcome,
    VendorFailure,
    json_object,
    malformed_body,
    parse_retry_after,
    read_json,
)
from reelforge.providers.replicate.models import parse_outputs

__all__ = [
    "FAILURES",
    "KEY_ENV",
    "PROVIDER_ID",
    "READS",
    "ReplicateError",
    "ReplicateFailure",
    "loads_json",
    "parse_prediction",
    "replicate_error",
]

PROVIDER_ID = "replicate"
KEY_ENV = "REPLICATE_API_TOKEN"
_MAX_LOG_LINES = 50
_PROGRESS = re.compile(r"^\s*(\d{1,3})%\s*\|")
_SEED = re.compile(r"\bseed[:=]?\s*(\d+)", re.I)
# Replicate's safety checkers and its E005 platform error; the wording is the models' own.
_CONTENT_FLAGS = re.compile(
    r"nsfw|flagged as sensitive|\(E005\)|content (policy|moderation)|safety (checker|filter)",
    re.I,
)
_RESETS_IN = re.compile(r"resets in ~?\s*(\d+(?:\.\d+)?)\s*s", re.I)
_FLAGGED = "flagged"


class ReplicateError(ProviderError):
    """A Replicate failure no shared class names."""

    code = "REPLICATE_ERROR"


#: Replicate's one row of its own (a safety checker's refusal); statuses as the shared table says.
FAILURES = FailureTable(
    PROVIDER_ID,
    "Replicate",
    ReplicateError,
    KEY_ENV,
    by_kind={_FLAGGED: Outcome(ContentRejected, "{vendor} refused the content (safety checker).")},
)


@dataclass(frozen=True, slots=True)
class ReplicateFailure:
    """A failure Replicate reported in a body (a failed prediction) or that we found in one."""

    message: str
    status_code: int | None = None
    title: str | None = None
    fields: tuple[str, ...] = ()


def parse_prediction(body: Any, *, model: str | None = None) -> JobState:
    """A prediction object as one of our states (outputs normalised for ``succeeded``). An
    answer that is not an object is unreadable: a retryable error is raised."""
    if not isinstance(body, dict):
        raise malformed_body(FAILURES, "status", transient=True)
    status = body.get("status")
    logs = _lines(body.get("logs"))
    if status == "starting":
        return Queued()
    if status == "processing":
        return Running(progress=_progress(logs), logs=logs[-_MAX_LOG_LINES:])
    if status == "succeeded":
        return _succeeded(body, logs, model)
    if status == "failed":
        failure = ReplicateFailure(str(body.get("error") or "The prediction failed."))
        return Failed(replicate_error("prediction", failure))
    if status == "canceled":
        return Canceled("The prediction was canceled.")
    if status == "aborted":
        return Canceled("The prediction's deadline passed before it started (aborted).")
    failure = ReplicateFailure(f"Replicate reported an unknown status {status!r}.")
    return Failed(replicate_error("status", failure))


def _succeeded(body: dict[str, Any], logs: tuple[str, ...], model: str | None) -> JobState:
    if body.get("data_removed") and body.get("output") is None:
        failure = ReplicateFailure(
            "Replicate has removed this prediction's outputs (data_removed)."
        )
        return Failed(replicate_error("result", failure))
    try:
        outputs = parse_outputs(body.get("output"))
    except ValueError as exc:
        return Failed(replicate_error("result", ReplicateFailure(str(exc))))
    metrics = body.get("metrics")
    predict_time = metrics.get("predict_time") if isinstance(metrics, dict) else None
    extra: dict[str, Any] = {"prediction_id": body.get("id")}
    if isinstance(body.get("version"), str):
        extra["version"] = body["version"]
    metadata = GenerationMetadata(
        model=str(body.get("model") or model or "unknown"),
        seed=_seed(body.get("input"), logs),
        steps=_int_input(body.get("input"), "num_inference_steps"),
        inference_time_ms=(
            math.ceil(float(predict_time) * 1000) if isinstance(predict_time, int | float) else None
        ),
        extra=extra,
    )
    return Succeeded(outputs=outputs, metadata=metadata)


def replicate_error(
    operation: str, source: httpx.Response | httpx.HTTPError | ReplicateFailure
) -> ProviderError:
    """The one translation of a Replicate failure (HTTP answer, transport error, or report)."""
    if isinstance(source, httpx.HTTPError):
        return FAILURES.transport(operation, source)
    retry_after: float | None = None
    if isinstance(source, ReplicateFailure):
        failure = source
    else:
        failure = _failure_of(source)
        retry_after = _retry_after(source.headers.get("retry-after"), failure.message)
    flagged = _CONTENT_FLAGS.search(failure.message) or _CONTENT_FLAGS.search(failure.title or "")
    found = VendorFailure(
        failure.message,
        failure.status_code,
        _FLAGGED if flagged else None,
        what=", ".join(failure.fields) or None,
        retry_after=retry_after,
        details={"fields": list(failure.fields)} if failure.fields else {},
    )
    return FAILURES.error(operation, found)


def _failure_of(response: httpx.Response) -> ReplicateFailure:
    body = json_object(response) or {}
    detail, title = body.get("detail"), body.get("title")
    fields = tuple(
        str(item.get("field"))
        for item in body.get("invalid_fields") or ()
        if isinstance(item, dict) and item.get("field")
    )
    message = str(detail or title or response.reason_phrase or f"HTTP {response.status_code}")
    return ReplicateFailure(
        message, response.status_code, title if isinstance(title, str) else None, fields
    )


def _retry_after(value: str | None, message: str) -> float | None:
    """The header, else the "resets in ~Ns" Replicate writes in a throttling message."""
    delay = parse_retry_after(value)
    if delay is not None:
        return delay
    found = _RESETS_IN.search(message)
    return float(found.group(1)) if found else None


#: Replicate's calls that only read: a malformed answer to one of them is a passing glitch.
READS = frozenset({"status", "list", "webhook_secret"})


def loads_json(content: bytes, operation: str) -> Any:
    """A body that must be JSON; if it is not, a retryable error for a call that only reads
    (:data:`READS`), else Replicate's own (see :func:`reelforge.providers.http.read_json`)."""
    return read_json(FAILURES, content, operation, READS)


def _lines(logs: Any) -> tuple[str, ...]:
    if not isinstance(logs, str):
        return ()
    return tuple(line for line in logs.splitlines() if line.strip())


def _progress(logs: tuple[str, ...]) -> float | None:
    for line in reversed(logs):
        found = _PROGRESS.match(line)
        if found:
            return min(int(found.group(1)), 100) / 100
    return None


def _seed(inputs: Any, logs: tuple[str, ...]) -> int | None:
    given = _int_input(inputs, "seed")
    if given is not None:
        return given
    for line in logs:
        found = _SEED.search(line)
        if found:
            return int(found.group(1))
    return None


def _int_input(inputs: Any, name: str) -> int | None:
    value = inputs.get(name) if isinstance(inputs, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
