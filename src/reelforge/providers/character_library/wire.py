"""Reading the Character Library's answers: finished images, and every failure as an error.

:func:`finished` turns a generation answer (shapes in :mod:`.adapter`) into a finished job whose
outputs are the ``publicUrl`` s; :func:`character_library_error` is the one translation of a
failure, through :data:`FAILURES` (the library's rows over the shared table of
:mod:`reelforge.providers.http`). The spec asks that a 500 be surfaced as is, without retries: it
stays a :class:`CharacterLibraryError` (``CHARACTER_LIBRARY_ERROR``, not retryable), where other
adapters say ProviderUnavailable.

    transport timeout, 408, 504      -> ProviderTimeout
    unreachable, 502, 503            -> ProviderUnavailable
    429                              -> ProviderRateLimited (Retry-After)
    code CONTENT_REJECTED            -> ContentRejected
    400, 422                         -> ProviderRejectedInput
    500, 401, 403, 404, anything else -> CharacterLibraryError
"""

from __future__ import annotations

import mimetypes
import uuid
from decimal import Decimal
from typing import Any, Literal

import httpx

from reelforge.errors import ContentRejected, ProviderError, ProviderUnavailable
from reelforge.providers.base import GenerationMetadata, OutputMedia, Succeeded
from reelforge.providers.http import (
    TIMED_OUT,
    FailureTable,
    Outcome,
    VendorFailure,
    json_object,
    parse_retry_after,
)

__all__ = [
    "FAILURES",
    "PROVIDER_ID",
    "URL_ENV",
    "CharacterLibraryError",
    "LibraryKind",
    "character_library_error",
    "finished",
    "loads_json",
]

PROVIDER_ID = "character_library"
URL_ENV = "CHARACTER_LIBRARY_API_URL"
LibraryKind = Literal["reference", "portfolio", "scene"]


class CharacterLibraryError(ProviderError):
    """A Character Library failure no shared class names (a 500 among them: never retried)."""

    code = "CHARACTER_LIBRARY_ERROR"


_FAILED = Outcome(None, "{vendor} failed ({operation}, {status}): {vendor_message}")
_NO_KEY = Outcome(
    None,
    "{vendor} failed ({operation}, {status}) (it is configured without a key: check its access "
    "rules): {vendor_message}",
)
_UNAVAILABLE = Outcome(ProviderUnavailable, "{vendor} is unavailable ({status}).")
#: The library's rows: its CONTENT_REJECTED code, and statuses where it departs from the shared
#: table (a 500 and any other 5xx but 502-504 are its own error).
FAILURES = FailureTable(
    PROVIDER_ID,
    "The Character Library",
    CharacterLibraryError,
    by_kind={"CONTENT_REJECTED": Outcome(ContentRejected, "{vendor} refused the content.")},
    by_status={
        401: _NO_KEY,
        403: _NO_KEY,
        502: _UNAVAILABLE,
        503: _UNAVAILABLE,
        504: TIMED_OUT,
        "5xx": _FAILED,
    },
    otherwise=_FAILED,
)


def character_library_error(
    operation: str, source: httpx.Response | httpx.HTTPError
) -> ProviderError:
    """The one translation of a Character Library failure. 500 stays a CharacterLibraryError."""
    if isinstance(source, httpx.HTTPError):
        return FAILURES.transport(operation, source)
    body = json_object(source)
    message = str(body.get("error") or source.reason_phrase) if body else source.reason_phrase
    code = str(body.get("code") or "") if body else ""
    found = VendorFailure(
        message,
        source.status_code,
        code or None,
        retry_after=parse_retry_after(source.headers.get("retry-after")),
    )
    return FAILURES.error(operation, found)


def finished(
    kind: LibraryKind, answer: Any, body: dict[str, Any], price_per_image: Decimal
) -> tuple[str, Succeeded]:
    """A generation answer as a finished job (its outputs are the ``publicUrl`` s)."""
    if not isinstance(answer, dict) or answer.get("success") is False:
        raise CharacterLibraryError(
            "The Character Library reported a failure.", provider=PROVIDER_ID
        )
    items = answer.get("images") if kind == "portfolio" else [answer]
    images = [
        {
            "image_id": item.get("imageId"),
            "public_url": item["publicUrl"],
            "angle": item.get("angle"),
        }
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict) and isinstance(item.get("publicUrl"), str) and item["publicUrl"]
    ]
    if not images:
        raise CharacterLibraryError(
            "The Character Library's answer holds no publicUrl.", provider=PROVIDER_ID
        )
    outputs = tuple(
        OutputMedia(
            url=image["public_url"], content_type=mimetypes.guess_type(image["public_url"])[0]
        )
        for image in images
    )
    duration = answer.get("durationMs")
    metadata = GenerationMetadata(
        model=f"character-library/{kind}",
        seed=body.get("seed"),
        inference_time_ms=duration if isinstance(duration, int) else None,
        extra={"kind": kind, "library_db_id": answer.get("libraryDbId"), "images": images},
    )
    request_id = answer.get("requestId") or images[0]["image_id"] or uuid.uuid4().hex
    cost = price_per_image * len(outputs)
    return str(request_id), Succeeded(outputs=outputs, metadata=metadata, cost_usd=cost)


def loads_json(response: httpx.Response) -> Any:
    """A body that must be a JSON object; if it is not, the library's error."""
    body = json_object(response)
    if body is None:
        raise CharacterLibraryError(
            "The Character Library answered with a body that is not a JSON object.",
            provider=PROVIDER_ID,
        )
    return body
