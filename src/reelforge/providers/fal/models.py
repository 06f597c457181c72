"""What fal's models take and give: options, request arguments, result outputs, prices.

Kept apart from the adapter so that what is known of each model family (flux stills, veo and
kling clips) is in one place. Each price names the page of fal's where it is published and its
date (and, where it was read from a copy, whose); a model without one can be priced in
``providers.fal.prices``.
A price depends only on the request's shape (:func:`shape_arguments`: size, count, duration,
audio, resolution), never on its prompt or images. The specs' short model names are
:data:`MODEL_ALIASES`.

Reference images (a character's look) go to FLUX.1 Kontext [pro] with several images,
``fal-ai/flux-pro/kontext/multi`` (https://fal.ai/models/fal-ai/flux-pro/kontext/multi/api and
https://fal.ai/docs/model-api-reference/image-generation-api/flux-pro-kontext-multi, read
2026-12): ``image_urls`` (array of URLs, required; data URIs are taken where fal takes a URL),
``aspect_ratio`` (21:9, 16:9, 4:3, 3:2, 1:1, 2:3, 3:4, 9:16 or 9:21) instead of ``image_size``,
``prompt``, ``seed``, ``guidance_scale`` (1-20), ``num_images`` (1-4), ``output_format`` (jpeg,
png), ``safety_tolerance``, ``enhance_prompt``, ``sync_mode``; $0.04 per image. fal documents no
maximum count of ``image_urls``: we send at most :data:`MAX_REFERENCES`.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reelforge.errors import ContentRejected
from reelforge.providers.base import (
    Capability,
    GenerationMetadata,
    GenerationRequest,
    InputImage,
    OutputMedia,
    ProviderOptions,
    Succeeded,
)
from reelforge.providers.fal.wire import PROVIDER_ID, FalError
from reelforge.providers.pricing import MAX_PRICE_USD, PriceEntry, price_entry

__all__ = [
    "IMAGE_SIZES",
    "KONTEXT_MULTI",
    "MAX_REFERENCES",
    "MODEL_ALIASES",
    "PRICE_FACTS",
    "FalOptions",
    "FalPrice",
    "build_arguments",
    "built_in_entries",
    "parse_outputs",
    "price_for",
    "request_units",
    "shape_arguments",
    "succeeded_from",
    "takes_references",
]

ImageSize = Literal[
    "square_hd", "square", "portrait_4_3", "portrait_16_9", "landscape_4_3", "landscape_16_9"
]
IMAGE_SIZES: Mapping[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
PriceUnit = Literal["megapixel", "image", "second"]
#: The specs' short model names, and fal's model id for each.
MODEL_ALIASES: Mapping[str, str] = {
    "flux-pro": "fal-ai/flux-pro/v1.1",
    "flux-pro-ultra": "fal-ai/flux-pro/v1.1-ultra",
    "flux-dev": "fal-ai/flux/dev",
    "flux-schnell": "fal-ai/flux/schnell",
    "flux-kontext-multi": "fal-ai/flux-pro/kontext/multi",
}
#: The endpoint that takes reference images (``image_urls``), and how many we send at most.
KONTEXT_MULTI = "fal-ai/flux-pro/kontext/multi"
MAX_REFERENCES = 4
_KONTEXT_RATIOS = ("21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21")


class FalOptions(ProviderOptions):
    """Model inputs fal accepts beyond the request's own fields (unset: fal's default)."""

    image_size: ImageSize | None = None
    num_images: int = Field(default=1, ge=1, le=4)
    num_inference_steps: int | None = Field(default=None, ge=1, le=50)
    guidance_scale: float | None = Field(default=None, ge=0, le=20)
    strength: float | None = Field(default=None, ge=0, le=1)
    enable_safety_checker: bool | None = None
    safety_tolerance: Literal["1", "2", "3", "4", "5", "6"] | None = None
    output_format: Literal["jpeg", "png"] = Field(
        default="png", description="png by default: key frames feed later steps losslessly"
    )
    acceleration: Literal["none", "regular", "high"] | None = None
    enhance_prompt: bool | None = None
    sync_mode: bool = False
    resolution: Literal["720p", "1080p", "4k"] | None = None
    generate_audio: bool = False
    cfg_scale: float | None = Field(default=None, ge=0, le=1)


class FalPrice(BaseModel):
    """A price fact: USD per unit, and where it comes from (with its date)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: PriceUnit
    usd: Decimal = Field(ge=0, lt=MAX_PRICE_USD)
    source: str = "providers.fal.prices"


def _fact(unit: PriceUnit, usd: str, source: str) -> FalPrice:
    return FalPrice(unit=unit, usd=Decimal(usd), source=source)


#: fal's page of a model (where its price is published), under this prefix.
_PAGE = "https://fal.ai/models/fal-ai"


def _kling(usd: str) -> FalPrice:
    # fal quotes Kling per 5 s clip plus a rate per further second: the same rate per second.
    return _fact("second", usd, "https://fal.ai/models/fal-ai/kling-video, 2026")


PRICE_FACTS: Mapping[str, FalPrice] = {
    "fal-ai/flux/dev": _fact(
        "megapixel", "0.025", f"{_PAGE}/flux/dev, May 2026 (as copied by workflowlab.dev)"
    ),
    "fal-ai/flux/schnell": _fact(
        "megapixel", "0.003", f"{_PAGE}/flux/schnell, 2026 (from a reseller's list; check the page)"
    ),
    "fal-ai/flux-pro/v1.1": _fact(
        "image", "0.04", f"{_PAGE}/flux-pro/v1.1, 2025 (from a reseller's list; check the page)"
    ),
    "fal-ai/flux-pro/v1.1-ultra": _fact(
        "image",
        "0.06",
        f"{_PAGE}/flux-pro/v1.1-ultra, 2025 (from a reseller's list; check the page)",
    ),
    "fal-ai/flux-pro/kontext/multi": _fact(
        "image", "0.04", f"{_PAGE}/flux-pro/kontext/multi, December 2026"
    ),
    "fal-ai/veo3.1": _fact("second", "0.20", f"{_PAGE}/veo3.1, 2026; no audio"),
    "fal-ai/veo3.1/fast": _fact("second", "0.10", f"{_PAGE}/veo3.1/fast, 2026; no audio"),
    "fal-ai/veo3/fast": _fact(
        "second", "0.15", f"{_PAGE}/veo3/fast, undated (fal's Veo 3 guide: at most this)"
    ),
    "fal-ai/veo3": _fact(
        "second", "0.40", f"{_PAGE}/veo3, undated (fal's Veo 3 guide: at most this)"
    ),
    "fal-ai/kling-video/v2.1/standard": _kling("0.056"),
    "fal-ai/kling-video/v2.1/pro": _kling("0.098"),
    "fal-ai/kling-video/v2.1/master": _kling("0.28"),
    "fal-ai/kling-video/v2.5-turbo/standard": _kling("0.042"),
    "fal-ai/kling-video/v2.5-turbo/pro": _kling("0.07"),
}
# Veo 3.1 by (audio, 4k), from fal's model pages (the same rates for every mode of a tier).
_BY_AUDIO_AND_4K: Mapping[str, Mapping[tuple[bool, bool], str]] = {
    "fal-ai/veo3.1": {
        (False, False): "0.20",
        (True, False): "0.40",
        (False, True): "0.40",
        (True, True): "0.60",
    },
    "fal-ai/veo3.1/fast": {
        (False, False): "0.10",
        (True, False): "0.15",
        (False, True): "0.30",
        (True, True): "0.35",
    },
}


def price_for(
    model: str, arguments: Mapping[str, Any], overrides: Mapping[str, FalPrice]
) -> FalPrice | None:
    """The price fact for ``model`` (settings first, then the longest known prefix)."""
    if model in overrides:
        return overrides[model]
    known = [key for key in PRICE_FACTS if model == key or model.startswith(key + "/")]
    if not known:
        return None
    key = max(known, key=len)
    rates = _BY_AUDIO_AND_4K.get(key)
    if rates is None:
        return PRICE_FACTS[key]
    audio, four_k = bool(arguments.get("generate_audio")), arguments.get("resolution") == "4k"
    note = f"{'with' if audio else 'no'} audio{', 4k' if four_k else ''}"
    return _fact("second", rates[audio, four_k], f"https://fal.ai/models/{key}, 2026; {note}")


def built_in_entries() -> list[PriceEntry]:
    """The price table's rows for the built-in facts (Veo 3.1 by audio and resolution)."""
    entries = []
    for model, fact in PRICE_FACTS.items():
        if model not in _BY_AUDIO_AND_4K:
            entries.append(
                price_entry(PROVIDER_ID, model, fact.unit, fact.usd, fact.source, "built-in")
            )
            continue
        for audio in (False, True):
            for resolution in ("720p", "4k"):
                variant = price_for(model, {"generate_audio": audio, "resolution": resolution}, {})
                assert variant is not None
                label = "720p/1080p" if resolution == "720p" else resolution
                conditions: dict[str, str | bool] = {"audio": audio, "resolution": label}
                entries.append(
                    price_entry(
                        PROVIDER_ID,
                        model,
                        variant.unit,
                        variant.usd,
                        variant.source,
                        "built-in",
                        conditions,
                    )
                )
    return entries


def request_units(
    unit: PriceUnit, arguments: Mapping[str, Any], duration_s: float | None
) -> tuple[Decimal, str]:
    """How many price units a request uses, and a phrase saying so."""
    count = int(arguments.get("num_images", 1))
    if unit == "image":
        return Decimal(count), "image(s)"
    if unit == "second":
        seconds = _seconds(arguments.get("duration"), duration_s or 0.0)
        return Decimal(str(seconds)), "second(s)"
    width, height = image_dimensions(arguments)
    per_image = math.ceil(width * height / 1_000_000)
    return Decimal(per_image * count), f"megapixel(s) ({count} x {width}x{height}, rounded up)"


def image_dimensions(arguments: Mapping[str, Any]) -> tuple[int, int]:
    size = arguments.get("image_size", "landscape_4_3")
    if isinstance(size, dict):
        return int(size["width"]), int(size["height"])
    return IMAGE_SIZES.get(str(size), IMAGE_SIZES["landscape_4_3"])


def takes_references(model: str) -> bool:
    """Whether ``model`` is a Kontext endpoint with several input images (``image_urls``)."""
    return model.startswith("fal-ai/flux-pro/kontext/") and model.endswith("/multi")


def build_arguments(model: str, request: GenerationRequest, options: FalOptions) -> dict[str, Any]:
    """The model's JSON input for ``request``."""
    arguments: dict[str, Any] = {"prompt": request.prompt}
    if request.seed is not None:
        arguments["seed"] = request.seed
    if takes_references(model):
        return arguments | _kontext_arguments(request, options)
    if request.capability.needs_image:
        arguments["image_url"] = _image_url(request.images[0])
    if request.capability.makes_video and request.negative_prompt:
        arguments["negative_prompt"] = request.negative_prompt
    arguments.update(
        shape_arguments(
            model, request.capability, request.width, request.height, request.duration_s, options
        )
    )
    if request.capability.makes_video:
        return arguments
    optional = {
        "num_inference_steps": options.num_inference_steps or request.steps,
        "guidance_scale": _first(options.guidance_scale, request.guidance_scale),
        "strength": options.strength if request.capability is Capability.IMAGE_TO_IMAGE else None,
        "enable_safety_checker": options.enable_safety_checker,
        "safety_tolerance": options.safety_tolerance,
        "acceleration": options.acceleration,
        "enhance_prompt": options.enhance_prompt,
        "sync_mode": options.sync_mode or None,
    }
    arguments.update({k: v for k, v in optional.items() if v is not None})
    return arguments


def _kontext_arguments(request: GenerationRequest, options: FalOptions) -> dict[str, Any]:
    """Kontext multi's inputs: the references as ``image_urls`` (the request's input frame, if
    any, first), the shape as an aspect ratio, and the few options it documents."""
    images = (*request.images, *request.references)
    arguments: dict[str, Any] = {"image_urls": [_image_url(image) for image in images]}
    arguments |= shape_arguments(
        KONTEXT_MULTI, request.capability, request.width, request.height, None, options
    )
    optional = {
        "guidance_scale": _first(options.guidance_scale, request.guidance_scale),
        "safety_tolerance": options.safety_tolerance,
        "enhance_prompt": options.enhance_prompt,
        "sync_mode": options.sync_mode or None,
    }
    return arguments | {k: v for k, v in optional.items() if v is not None}


def shape_arguments(
    model: str,
    capability: Capability,
    width: int,
    height: int,
    duration_s: float | None,
    options: FalOptions,
) -> dict[str, Any]:
    """The arguments that set the output's shape (size, count, duration, audio): all a price
    depends on."""
    if capability.makes_video:
        return _video_arguments(model, width, height, duration_s, options)
    if takes_references(model):
        return {
            "aspect_ratio": _nearest_ratio(width, height),
            "num_images": options.num_images,
            "output_format": options.output_format,
        }
    return {
        "image_size": options.image_size or {"width": width, "height": height},
        "num_images": options.num_images,
        "output_format": options.output_format,
    }


def _video_arguments(
    model: str, width: int, height: int, duration_s: float | None, options: FalOptions
) -> dict[str, Any]:
    seconds = duration_s or 5.0
    extra: dict[str, Any] = {}
    if "/veo" in model:
        extra["duration"] = next((f"{d}s" for d in (4, 6, 8) if d >= seconds), "8s")
        extra["aspect_ratio"] = "16:9" if width >= height else "9:16"
        extra["resolution"] = options.resolution or (
            "1080p" if min(width, height) >= 1080 else "720p"
        )
        extra["generate_audio"] = options.generate_audio
    elif "kling" in model:
        extra["duration"] = "5" if seconds <= 5 else "10"
        if options.cfg_scale is not None:
            extra["cfg_scale"] = options.cfg_scale
    else:
        extra["duration"] = str(max(1, round(seconds)))
    return extra


def succeeded_from(
    model: str, body: Any, *, inference_time_s: float | None = None, cost: Decimal | None = None
) -> Succeeded:
    """A result body (queue result, sync answer, webhook payload) as a finished job."""
    outputs, extra = parse_outputs(body)
    seed = body.get("seed")
    if inference_time_s is None:
        timings = body.get("timings")
        value = timings.get("inference") if isinstance(timings, dict) else None
        inference_time_s = float(value) if isinstance(value, int | float) else None
    metadata = GenerationMetadata(
        model=model,
        seed=seed if isinstance(seed, int) else None,
        inference_time_ms=None if inference_time_s is None else math.ceil(inference_time_s * 1000),
        extra=extra,
    )
    return Succeeded(outputs=outputs, metadata=metadata, cost_usd=cost)


def parse_outputs(body: Any) -> tuple[tuple[OutputMedia, ...], dict[str, Any]]:
    """The media in a result body (``images``/``image``/``video``/``videos``), and extra facts.

    Raises :class:`ContentRejected` when every image was flagged by fal's safety checker (fal
    then returns black frames), :class:`FalError` when there is no media."""
    if not isinstance(body, dict):
        raise FalError("fal's result is not a JSON object.", provider=PROVIDER_ID)
    files: list[Any] = []
    for name in ("images", "videos"):
        if isinstance(body.get(name), list):
            files.extend(body[name])
    for name in ("image", "video"):
        if isinstance(body.get(name), dict):
            files.append(body[name])
    outputs = tuple(output for output in map(_output, files) if output is not None)
    if not outputs:
        raise FalError(
            "fal's result holds no media.", provider=PROVIDER_ID, details={"fields": sorted(body)}
        )
    flags = body.get("has_nsfw_concepts")
    extra: dict[str, Any] = {}
    if isinstance(flags, list) and flags:
        extra["has_nsfw_concepts"] = flags
        if all(flag is True for flag in flags):
            raise ContentRejected(
                "fal's safety checker flagged every output.",
                provider=PROVIDER_ID,
                details={"has_nsfw_concepts": flags},
            )
    return outputs, extra


def _output(file: Any) -> OutputMedia | None:
    if not isinstance(file, dict) or not isinstance(file.get("url"), str):
        return None
    url: str = file["url"]
    content_type = file.get("content_type") if isinstance(file.get("content_type"), str) else None
    if not url.startswith("data:"):
        return OutputMedia(url=url, content_type=content_type)
    header, _, payload = url.partition(",")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise FalError("fal returned an undecodable data URI.", provider=PROVIDER_ID) from None
    inline_type = header.removeprefix("data:").split(";")[0] or None
    return OutputMedia(data=data, content_type=content_type or inline_type)


def _nearest_ratio(width: int, height: int) -> str:
    def distance(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(int(w) / int(h) - width / height)

    return min(_KONTEXT_RATIOS, key=distance)


def _image_url(image: InputImage) -> str:
    return image.as_url()


def _seconds(value: Any, fallback: float) -> float:
    try:
        return float(str(value).removesuffix("s"))
    except ValueError:
        return fallback


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)
