"""What Runway's models take: options, task bodies, ratios, durations and credit prices.

Runway takes sizes as a ``ratio`` of pixel dimensions from a per-model list; the request's
width:height picks the nearest one (then the nearest in pixel count). ``gen4_turbo`` clips are 5
or 10 s (SDK of Apr 2025), Veo's 4, 6 or 8 s, ``gen4.5`` any whole 2-10 s. Input images go as
their URL or as a data URI of our bytes (Runway takes data URIs up to 5 MB).

Reference images (a character's look) go to ``gen4_image`` text-to-image tasks as
``referenceImages``: a list of ``{"uri", "tag"}``, the URI an https URL or a data URI (Runway's
API reference for ``POST /v1/text_to_image`` and its image-generation guide, read 2026-12: up to
3 references; a tag of 3-16 letters, digits or underscores, starting with a letter, which the
prompt may mention as ``@tag``). We tag them ``ref1``, ``ref2``... in order.

Prices are in Runway credits (reference §6: ``gen4_turbo`` 5 credits/s; the rest from Runway's API
pricing, https://docs.dev.runwayml.com/guides/pricing, as its own integration guide copies it:
``gen4.5`` 12 credits/s, ``veo3`` 40, ``veo3.1`` 40 with audio and 20 without, ``veo3.1_fast``
15 and 10; ``gen4_image`` 5 credits per 720p image, 8 per 1080p, ``gen4_image_turbo`` 2) times
the settings' ``credit_usd`` (reference §6: $0.01). A Veo clip is priced with audio unless
``options.audio`` is false. Other models can be priced in ``providers.runway.prices``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reelforge.errors import InvalidInput, MediaTooLarge
from reelforge.providers.base import Capability, GenerationRequest, InputImage, ProviderOptions

__all__ = [
    "CREDIT_FACTS",
    "IMAGE_RATIOS",
    "MAX_REFERENCES",
    "PROMPT_LIMIT",
    "SILENT_CREDITS",
    "VIDEO_RATIOS",
    "RunwayOptions",
    "RunwayPrice",
    "build_task",
    "nearest_ratio",
    "price_for",
    "task_shape",
]

PriceUnit = Literal["second", "image"]
_DATA_URI_LIMIT = 5 * 1024 * 1024
PROMPT_LIMIT = 1000
#: Reference images one ``gen4_image`` task takes.
MAX_REFERENCES = 3
_GEN4_RATIOS = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
_VEO_RATIOS = ("1280:720", "720:1280", "1080:1920", "1920:1080")
VIDEO_RATIOS: Mapping[str, tuple[str, ...]] = {
    "gen4_turbo": _GEN4_RATIOS,
    "gen4.5": _GEN4_RATIOS,
    "veo3": _VEO_RATIOS,
    "veo3.1": _VEO_RATIOS,
    "veo3.1_fast": _VEO_RATIOS,
}
_IMAGE_720P = ("1280:720", "720:1280", "720:720", "960:720", "720:960", "1680:720")
IMAGE_RATIOS: tuple[str, ...] = (
    *_IMAGE_720P,
    *("1024:1024", "1080:1080", "1168:880", "1360:768", "1440:1080", "1080:1440"),
    *("1808:768", "1920:1080", "1080:1920", "2112:912"),
)


class RunwayOptions(ProviderOptions):
    """Task parameters beyond the request's own fields (unset: derived from the request)."""

    ratio: str | None = Field(default=None, pattern=r"^[0-9]+:[0-9]+$")
    duration: int | None = Field(default=None, ge=2, le=10)
    seed: int | None = Field(default=None, ge=0, le=4_294_967_295)
    public_figure_threshold: Literal["auto", "low"] | None = None
    audio: bool | None = Field(default=None, description="Veo models only")


class RunwayPrice(BaseModel):
    """A price fact in Runway credits per unit, and where it comes from (with its date)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: PriceUnit
    credits: Decimal = Field(ge=0)
    source: str = "providers.runway.prices"


def _fact(unit: PriceUnit, credits: int, source: str) -> RunwayPrice:
    return RunwayPrice(unit=unit, credits=Decimal(credits), source=source)


_PRICING = "https://docs.dev.runwayml.com/guides/pricing"
_IMAGE_SOURCE = f"{_PRICING}, Aug 2026 (as listed by Runway's API guide and inference.sh)"
_API_PRICING = f"{_PRICING}, 2026"
CREDIT_FACTS: Mapping[str, RunwayPrice] = {
    "gen4_turbo": _fact(
        "second", 5, f"{_PRICING}, May 2026 (Runway's credit table at help.runwayml.com)"
    ),
    "gen4.5": _fact("second", 12, _API_PRICING),
    "veo3": _fact("second", 40, _API_PRICING),
    "veo3.1": _fact("second", 40, f"{_API_PRICING}; with audio"),
    "veo3.1_fast": _fact("second", 15, f"{_API_PRICING}; with audio"),
    "gen4_image": _fact("image", 8, f"{_IMAGE_SOURCE}; 1080p"),
    "gen4_image_turbo": _fact("image", 2, _IMAGE_SOURCE),
}
#: The Veo 3.1 tiers' rates without audio.
SILENT_CREDITS: Mapping[str, RunwayPrice] = {
    "veo3.1": _fact("second", 20, f"{_API_PRICING}; no audio"),
    "veo3.1_fast": _fact("second", 10, f"{_API_PRICING}; no audio"),
}


def price_for(
    model: str, body: Mapping[str, Any], overrides: Mapping[str, RunwayPrice]
) -> RunwayPrice | None:
    """The credit price of ``model`` for this task body (settings first)."""
    if model in overrides:
        return overrides[model]
    if model == "gen4_image" and body.get("ratio") in _IMAGE_720P:
        return _fact("image", 5, f"{_IMAGE_SOURCE}; 720p")
    if body.get("audio") is False and model in SILENT_CREDITS:
        return SILENT_CREDITS[model]
    return CREDIT_FACTS.get(model)


def build_task(
    model: str, request: GenerationRequest, options: RunwayOptions
) -> tuple[str, dict[str, Any]]:
    """The endpoint path and camelCase JSON body of the task for ``request``."""
    if len(request.prompt.encode("utf-16-le")) // 2 > PROMPT_LIMIT:
        raise InvalidInput(
            f"Runway takes prompts of at most {PROMPT_LIMIT} characters (UTF-16 units).",
            details={"provider": "runway", "field": "prompt"},
        )
    body: dict[str, Any] = {"model": model, "promptText": request.prompt}
    seed = options.seed if options.seed is not None else request.seed
    if seed is not None:
        body["seed"] = seed
    if options.public_figure_threshold is not None:
        body["contentModeration"] = {"publicFigureThreshold": options.public_figure_threshold}
    body |= task_shape(
        model, request.capability, request.width, request.height, request.duration_s, options
    )
    if request.capability is Capability.TEXT_TO_IMAGE:
        if request.references:
            body["referenceImages"] = [
                {"uri": image_uri(image), "tag": f"ref{number}"}
                for number, image in enumerate(request.references, start=1)
            ]
        return "/v1/text_to_image", body
    body["promptImage"] = image_uri(request.images[0])
    if options.audio is not None and model.startswith("veo"):
        body["audio"] = options.audio
    return "/v1/image_to_video", body


def task_shape(
    model: str,
    capability: Capability,
    width: int,
    height: int,
    duration_s: float | None,
    options: RunwayOptions,
) -> dict[str, Any]:
    """The task's ``ratio`` (and a clip's ``duration``): all its credit price depends on."""
    if capability is Capability.TEXT_TO_IMAGE:
        return {"ratio": options.ratio or nearest_ratio(width, height, IMAGE_RATIOS)}
    ratios = VIDEO_RATIOS.get(model, _GEN4_RATIOS)
    return {
        "ratio": options.ratio or nearest_ratio(width, height, ratios),
        "duration": options.duration or clip_seconds(model, duration_s or 5.0),
    }


def clip_seconds(model: str, wanted: float) -> int:
    """The clip length ``model`` makes for a wish of ``wanted`` seconds."""
    if model == "gen4_turbo":
        return 5 if wanted <= 5 else 10
    if model.startswith("veo"):
        return next((d for d in (4, 6, 8) if d >= wanted), 8)
    return min(max(math.ceil(wanted), 2), 10)


def nearest_ratio(width: int, height: int, ratios: Sequence[str]) -> str:
    """The ratio closest in shape to ``width:height``, then closest in pixel count."""
    shape, pixels = math.log(width / height), width * height

    def distance(ratio: str) -> tuple[float, float]:
        w, h = (int(part) for part in ratio.split(":"))
        return round(abs(math.log(w / h) - shape), 3), abs(math.log(w * h / pixels))

    return min(ratios, key=distance)


def image_uri(image: InputImage) -> str:
    """An input image as Runway takes it: its URL, or a data URI of at most 5 MB."""
    if image.url is not None:
        return image.url
    uri = image.as_url()
    if len(uri) > _DATA_URI_LIMIT:
        raise MediaTooLarge(
            "Runway takes input images as data URIs of at most 5 MB; give a URL instead.",
            details={"provider": "runway", "size": len(uri)},
        )
    return uri
