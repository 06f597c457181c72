"""Reading Google's answers: long-running operations, and every failure as a Reelforge error.

:func:`parse_operation` turns a Veo operation (reference §3.3) into one of our job states; a done
operation with videos is :class:`VideoSamples` (the adapter downloads them). :func:`google_error`
is the one translation of a failure, whether it came as an HTTP answer (a ``google.rpc.Status``
under ``error``, §3.4), a transport error, or a status Google reported in a body
(:class:`RpcStatus`: an operation's ``error``). Nothing typed by httpx leaves it. It reads the
status name (from the body, else from the HTTP status) and hands it to :data:`FAILURES`, Google's
rows (by status name) over the shared table of :mod:`reelforge.providers.http`;
:class:`GoogleError` is Google's own error class (``GOOGLE_ERROR``):

    RESOURCE_EXHAUSTED (429)              -> ProviderRateLimited (retry_after from RetryInfo)
    INVALID_ARGUMENT / FAILED_PRECONDITION / OUT_OF_RANGE (400)
        with ErrorInfo reason API_KEY_INVALID -> GoogleError naming GEMINI_API_KEY
        with a Responsible-AI / safety message -> ContentRejected   (a guess: §3 is silent)
        otherwise                         -> ProviderRejectedInput
    UNAUTHENTICATED / PERMISSION_DENIED (401, 403) -> GoogleError naming GEMINI_API_KEY
    DEADLINE_EXCEEDED (504), transport timeout     -> ProviderTimeout
    INTERNAL / UNAVAILABLE / UNKNOWN, any 5xx      -> ProviderUnavailable
    anything else (NOT_FOUND...)                   -> GoogleError
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from reelforge.errors import (
    ContentRejected,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from reelforge.providers.base import Canceled, Failed, JobState, Running
from reelforge.providers.http import (
    REJECTED,
    TIMED_OUT,
    FailureTable,
    Outcome,
    VendorFailure,
    json_object,
    malformed_body,
    read_json,
)

__all__ = [
    "FAILURES",
    "KEY_ENV",
    "PROVIDER_ID",
    "READS",
    "SPEC_KEY_ENVS",
    "GoogleError",
    "RpcStatus",
    "VideoSamples",
    "google_error",
    "loads_json",
    "parse_operation",
]

PROVIDER_ID = "google"
KEY_ENV = "GEMINI_API_KEY"
#: The SDK's other name for the key (it prefers this one when both are set; we read
#: ``GEMINI_API_KEY`` first, as we always have, and say so at start-up when both differ).
SPEC_KEY_ENVS: tuple[str, ...] = ("GOOGLE_API_KEY",)


class GoogleError(ProviderError):
    """A Google failure no shared class names."""

    code = "GOOGLE_ERROR"


# google.rpc.Code numbers, as an operation's ``error.code`` carries them.
_RPC_CODES = {
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    11: "OUT_OF_RANGE",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    16: "UNAUTHENTICATED",
}
_BY_HTTP = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_REFUSED_INPUT = {"INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE"}
_SAFETY_WORDS = re.compile(r"responsible ai|safety|usage guidelines|sensitive words", re.I)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
_API_KEY_INVALID = "API_KEY_INVALID"
_SAFETY = "SAFETY"
_UNAVAILABLE = Outcome(ProviderUnavailable, "{vendor} is unavailable ({kind}).", retry_after=True)
_GOOGLE_CREDENTIALS = Outcome(
    None, "{vendor} refused the credentials ({kind}): check the key in {key_env}.", names_key=True
)
#: Google's rows, by ``google.rpc`` status name (a body's, else the HTTP status's).
FAILURES = FailureTable(
    PROVIDER_ID,
    "Google",
    GoogleError,
    KEY_ENV,
    key_env_aliases=SPEC_KEY_ENVS,
    by_kind={
        "RESOURCE_EXHAUSTED": Outcome(
            ProviderRateLimited, "{vendor} is rate limiting us ({kind}).", retry_after=True
        ),
        "UNAUTHENTICATED": _GOOGLE_CREDENTIALS,
        "PERMISSION_DENIED": _GOOGLE_CREDENTIALS,
        _API_KEY_INVALID: _GOOGLE_CREDENTIALS,
        **dict.fromkeys(_REFUSED_INPUT, REJECTED),
        _SAFETY: Outcome(ContentRejected, "{vendor} refused the content (safety)."),
        "DEADLINE_EXCEEDED": TIMED_OUT,
        "INTERNAL": _UNAVAILABLE,
        "UNAVAILABLE": _UNAVAILABLE,
        "UNKNOWN": _UNAVAILABLE,
    },
)


@dataclass(frozen=True, slots=True)
class RpcStatus:
    """A ``google.rpc.Status``: from an HTTP error body, or an operation's ``error``."""

    message: str
    status: str | None = None
    http_status: int | None = None
    details: tuple[Any, ...] = ()

    @classmethod
    def from_operation(cls, error: Any) -> RpcStatus:
        if not isinstance(error, dict):
            return cls("Google reported a failed operation without an error.")
        code = error.get("code")
        return cls(
            str(error.get("message") or "Google reported a failed operation."),
            _RPC_CODES.get(code) if isinstance(code, int) else None,
            None,
            tuple(error.get("details") or ()),
        )


@dataclass(frozen=True, slots=True)
class VideoSamples:
    """A done Veo operation with videos: each ``(uri, inline bytes, mime type)``."""

    videos: tuple[tuple[str | None, bytes | None, str | None], ...]
    extra: dict[str, Any] = field(default_factory=dict)


def google_error(
    operation: str, source: httpx.Response | httpx.HTTPError | RpcStatus
) -> ProviderError:
    """The one translation of a Google failure (HTTP answer, transport error, reported status)."""
    if isinstance(source, httpx.HTTPError):
        return FAILURES.transport(operation, source)
    rpc = source if isinstance(source, RpcStatus) else _status_of(source)
    header_delay = None if isinstance(source, RpcStatus) else source.headers.get("retry-after")
    status = rpc.status or _BY_HTTP.get(rpc.http_status or 0)
    if status is None and rpc.http_status is not None and rpc.http_status >= 500:
        status = "INTERNAL"
    kind = status
    if _api_key_invalid(rpc.details):
        kind = _API_KEY_INVALID
    elif status in _REFUSED_INPUT and _SAFETY_WORDS.search(rpc.message):
        kind = _SAFETY
    found = VendorFailure(
        rpc.message,
        rpc.http_status,
        kind,
        retry_after=_retry_delay(rpc.details, header_delay),
        details={"vendor_status": status},
    )
    return FAILURES.error(operation, found)


def parse_operation(body: Any) -> JobState | VideoSamples:
    """A Veo operation as one of our states (done with videos: :class:`VideoSamples`). An
    answer that is not an object is unreadable: a retryable error is raised."""
    if not isinstance(body, dict):
        raise malformed_body(FAILURES, "operation", transient=True)
    if not body.get("done"):
        return Running()
    error = body.get("error")
    if error:
        rpc = RpcStatus.from_operation(error)
        if rpc.status == "CANCELLED":
            return Canceled(rpc.message)
        return Failed(google_error("operation", rpc))
    response = body.get("response")
    answer = response.get("generateVideoResponse") if isinstance(response, dict) else None
    if not isinstance(answer, dict):
        return Failed(google_error("operation", RpcStatus("The operation holds no video answer.")))
    videos = tuple(
        video
        for sample in answer.get("generatedSamples") or ()
        if (video := _video_of(sample)) is not None
    )
    filtered = answer.get("raiMediaFilteredCount")
    reasons = answer.get("raiMediaFilteredReasons") or []
    extra: dict[str, Any] = {"operation": body.get("name")}
    if filtered:
        extra |= {"rai_media_filtered_count": filtered, "rai_media_filtered_reasons": reasons}
    if videos:
        return VideoSamples(videos, extra)
    if filtered:
        return Failed(
            ContentRejected(
                "Google's safety filters removed every video.",
                provider=PROVIDER_ID,
                details={"rai_media_filtered_reasons": [str(r)[:200] for r in reasons]},
            )
        )
    return Failed(google_error("operation", RpcStatus("The operation finished without videos.")))


#: Google's calls that only read (a Veo operation's status): a malformed answer to one of them
#: is a passing glitch. A still's generate call is not one: its answer is the paid result.
READS = frozenset({"operation"})


def loads_json(content: bytes, operation: str) -> Any:
    """A body that must be JSON; if it is not, a retryable error for a call that only reads
    (:data:`READS`), else Google's own (see :func:`reelforge.providers.http.read_json`)."""
    return read_json(FAILURES, content, operation, READS)


def _video_of(sample: Any) -> tuple[str | None, bytes | None, str | None] | None:
    video = sample.get("video") if isinstance(sample, dict) else None
    if not isinstance(video, dict):
        return None
    uri = video.get("uri") if isinstance(video.get("uri"), str) else None
    encoded = video.get("encodedVideo")
    data = None
    if isinstance(encoded, str) and encoded:
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            data = None
    mime = video.get("encoding") if isinstance(video.get("encoding"), str) else None
    if uri is None and data is None:
        return None
    return uri, data, mime


def _status_of(response: httpx.Response) -> RpcStatus:
    body = json_object(response) or {}
    error = body.get("error")
    if not isinstance(error, dict):
        error = body
    status = error.get("status")
    return RpcStatus(
        str(error.get("message") or response.reason_phrase or "Google failed"),
        status if isinstance(status, str) else None,
        response.status_code,
        tuple(error.get("details") or ()),
    )


def _retry_delay(details: tuple[Any, ...], header: str | None) -> float | None:
    for detail in details:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            found = _DURATION.match(str(detail.get("retryDelay", "")))
            if found:
                return float(found.group(1))
    if header:
        try:
            return max(float(header), 0.0)
        except ValueError:
            return None
    return None


def _api_key_invalid(details: tuple[Any, ...]) -> bool:
    return any(
        isinstance(d, dict)
        and str(d.get("@type", "")).endswith("ErrorInfo")
        and d.get("reason") == "API_KEY_INVALID"
        for d in details
    )
