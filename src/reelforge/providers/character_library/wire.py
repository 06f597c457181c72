"""Reading the Character Library's answers: finished images, and every failure as an error.

:func:`finished` turns a generation answer (shapes in :mod:`.adapter`) into a finished job whose
outputs are the ``publicUrl`` s; :func:`character_library_error` is the one translation of a
failure. The spec asks that a 500 be surfaced as is, without retries: it stays a
:class:`CharacterLibraryError` (not retryable), where other adapters say ProviderUnavailable.

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

from reelforge.errors import (
    CharacterLibraryError,
    ContentRejected,
    ProviderError,
    ProviderRateLimited,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnavailable,
)
from reelforge.providers.base import GenerationMetadata, OutputMedia, Succeeded
from reelforge.providers.http import json_object, transport_error

__all__ = [
    "PROVIDER_ID",
    "URL_ENV",
    "LibraryKind",
    "character_library_error",
    "finished",
    "loads_json",
]

PROVIDER_ID = "character_library"
URL_ENV = "CHARACTER_LIBRARY_API_URL"
LibraryKind = Literal["reference", "portfolio", "scene"]


def character_library_error(
    operation: str, source: httpx.Response | httpx.HTTPError
) -> ProviderError:
    """The one translation of a Character Library failure. 500 stays a CharacterLibraryError."""
    if isinstance(source, httpx.HTTPError):
        return transport_error(PROVIDER_ID, "The Character Library", operation, source)
    body = json_object(source)
    message = str(body.get("error") or source.reason_phrase) if body else source.reason_phrase
    code = str(body.get("code") or "") if body else ""
    status = source.status_code
    details = {"operation": operation, "http_status": status, "vendor_message": message[:300]}
    if code == "CONTENT_REJECTED":
        return ContentRejected(
            "The Character Library refused the content.", provider=PROVIDER_ID, details=details
        )
    if status == 429:
        retry = source.headers.get("retry-after", "")
        return ProviderRateLimited(
            "The Character Library is rate limiting us.",
            provider=PROVIDER_ID,
            details=details,
            retry_after=float(retry) if retry.replace(".", "", 1).isdigit() else None,
        )
    if status in (400, 422):
        return ProviderRejectedInput(
            f"The Character Library refused the input: {message[:200]}",
            provider=PROVIDER_ID,
            details=details,
        )
    if status in (502, 503):
        return ProviderUnavailable(
            f"The Character Library is unavailable (HTTP {status}).",
            provider=PROVIDER_ID,
            details=details,
        )
    if status in (408, 504):
        return ProviderTimeout(
            "The Character Library timed out.", provider=PROVIDER_ID, details=details
        )
    hint = (
        " (it is configured without a key: check its access rules)" if status in (401, 403) else ""
    )
    return CharacterLibraryError(
        f"The Character Library failed ({operation}, HTTP {status}){hint}: {message[:200]}",
        provider=PROVIDER_ID,
        details=details,
    )


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
