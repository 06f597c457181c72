"""Reading Leonardo's answers: a generation's status, callbacks, and every failure as an error.

:func:`parse_generation` turns ``generations_by_pk`` (reference §5: ``PENDING`` / ``COMPLETE`` /
``FAILED``) into one of our job states; :func:`leonardo_error` is the one translation of a
failure, through :data:`FAILURES` (a moderation row over the shared table of
:mod:`reelforge.providers.http`). Leonardo has no queue position, so ``PENDING`` is
:class:`Running` with no progress. :class:`LeonardoError` is Leonardo's own error class
(``LEONARDO_ERROR``).

Where §5 is silent these are guesses, kept here in one place:

- Error bodies are Hasura-style ``{"error": "<message>", "path": "$...", "code": "<code>"}``.
- A moderation refusal is recognised by ``moderation`` / ``nsfw`` / ``content filter`` in the
  code or the message (-> :class:`ContentRejected`).
- A finished generation whose images are *all* flagged ``nsfw`` is a content rejection when
  ``reject_nsfw`` is on (as fal's all-flagged outputs are).
- The image-to-video clip is ``generated_images[].motionMP4URL`` (§8 open item 6).
- The callback's ``data.object`` carries the generation ``id``, ``status`` and ``images`` shaped
  like ``generated_images``.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from reelforge.errors import ContentRejected, ProviderError
from reelforge.providers.base import (
    Failed,
    GenerationMetadata,
    JobState,
    OutputMedia,
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

__all__ = [
    "FAILURES",
    "KEY_ENV",
    "PROVIDER_ID",
    "READS",
    "VIDEO_MODELS",
    "LeonardoError",
    "billed_usd",
    "callback_body",
    "callback_object",
    "leonardo_error",
    "loads_json",
    "parse_generation",
]

PROVIDER_ID = "leonardo"
KEY_ENV = "LEONARDO_API_KEY"
#: Image-to-video models named in §5 (``model`` of ``POST /generations-image-to-video``).
VIDEO_MODELS = frozenset({"MOTION2", "MOTION2FAST", "VEO3", "VEO3FAST", "KLING2_1", "KLING2_5"})
_MODERATION = re.compile(r"moderation|nsfw|content filter", re.I)
_MODERATED = "moderation"


class LeonardoError(ProviderError):
    """A Leonardo failure no shared class names."""

    code = "LEONARDO_ERROR"


#: Leonardo's one row of its own (a moderation refusal); statuses as the shared table says.
FAILURES = FailureTable(
    PROVIDER_ID,
    "Leonardo",
    LeonardoError,
    KEY_ENV,
    by_kind={_MODERATED: Outcome(ContentRejected, "{vendor} refused the content (moderation).")},
)


def leonardo_error(operation: str, source: httpx.Response | httpx.HTTPError) -> ProviderError:
    """The one translation of a Leonardo failure (HTTP answer or transport error)."""
    if isinstance(source, httpx.HTTPError):
        return FAILURES.transport(operation, source)
    code, message = _error_of(source)
    found = VendorFailure(
        message,
        source.status_code,
        _MODERATED if _MODERATION.search(f"{code} {message}") else None,
        retry_after=parse_retry_after(source.headers.get("retry-after")),
        details={"vendor_code": code},
    )
    return FAILURES.error(operation, found)


def parse_generation(body: Any, *, model: str, video: bool, reject_nsfw: bool = True) -> JobState:
    """``GET /generations/{id}``'s answer as one of our states. An answer that is not an object
    is unreadable: a retryable error is raised."""
    if not isinstance(body, dict):
        raise malformed_body(FAILURES, "get_generation", transient=True)
    generation = body.get("generations_by_pk")
    if not isinstance(generation, dict):
        return Failed(LeonardoError("Leonardo has no such generation.", provider=PROVIDER_ID))
    status = generation.get("status")
    if status == "PENDING":
        return Running()
    if status == "FAILED":
        return Failed(
            LeonardoError(
                "Leonardo reported the generation FAILED.",
                provider=PROVIDER_ID,
                details={"generation_id": generation.get("id")},
            )
        )
    if status != "COMPLETE":
        return Failed(
            LeonardoError(f"Leonardo reported an unknown status {status!r}.", provider=PROVIDER_ID)
        )
    images = generation.get("generated_images")
    try:
        return finished(
            images if isinstance(images, list) else [],
            model=str(generation.get("modelId") or model),
            seed=generation.get("seed"),
            video=video,
            reject_nsfw=reject_nsfw,
        )
    except ProviderError as exc:
        return Failed(exc)


def finished(
    images: list[Any], *, model: str, seed: Any, video: bool, reject_nsfw: bool
) -> Succeeded:
    """The outputs of a COMPLETE generation (raises when there are none or all are refused)."""
    kept = [image for image in images if isinstance(image, dict)]
    field = "motionMP4URL" if video else "url"
    outputs = tuple(
        OutputMedia(url=image[field], content_type="video/mp4" if video else None)
        for image in kept
        if isinstance(image.get(field), str) and image[field]
    )
    flags = [image.get("nsfw") is True for image in kept]
    if reject_nsfw and flags and all(flags):
        raise ContentRejected(
            "Leonardo flagged every output as NSFW.",
            provider=PROVIDER_ID,
            details={"nsfw": flags},
        )
    if not outputs:
        raise LeonardoError(
            f"Leonardo's finished generation holds no {'video' if video else 'image'} "
            f"(no {field}).",
            provider=PROVIDER_ID,
        )
    metadata = GenerationMetadata(
        model=model,
        seed=seed if isinstance(seed, int) else None,
        extra={"image_ids": [image.get("id") for image in kept], "nsfw": flags},
    )
    return Succeeded(outputs=outputs, metadata=metadata)


#: Leonardo's calls that only read: a malformed answer to one of them is a passing glitch.
READS = frozenset({"get_generation", "get_user", "list_generations"})


def loads_json(content: bytes, operation: str) -> Any:
    """A body that must be JSON; if it is not, a retryable error for a call that only reads
    (:data:`READS`), else Leonardo's own (see :func:`reelforge.providers.http.read_json`)."""
    return read_json(FAILURES, content, operation, READS)


def _error_of(response: httpx.Response) -> tuple[str, str]:
    body = json_object(response)
    if body is None:
        return "", response.reason_phrase or f"HTTP {response.status_code}"
    message = body.get("error") or body.get("message") or response.reason_phrase
    return str(body.get("code") or ""), str(message)


def callback_body(body: bytes) -> dict[str, Any] | None:
    """A callback's JSON object, or None when it is not one."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def callback_object(payload: dict[str, Any]) -> dict[str, Any]:
    """The generation a callback is about (``data.object``), or an empty dict."""
    data = payload.get("data")
    found = data.get("object") if isinstance(data, dict) else None
    return found if isinstance(found, dict) else {}


def billed_usd(job: Any) -> Decimal | None:
    """The dollars a submit answer says the job bills (``cost: {"amount", "unit": "DOLLARS"}``,
    Leonardo's pay-as-you-go answer); None for credits (``apiCreditCost``, the deprecated field,
    or a ``cost`` in ``CREDITS``) or anything unreadable."""
    cost = job.get("cost") if isinstance(job, dict) else None
    if not isinstance(cost, dict) or cost.get("unit") != "DOLLARS":
        return None
    try:
        amount = Decimal(str(cost.get("amount")))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount >= 0 else None
