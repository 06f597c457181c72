"""What Google's model families take and give: options, request bodies, outputs, prices.

Three families, picked by model id: ``gemini-*`` image models through ``:generateContent``
(image output comes back inline, base64), ``imagen-*`` through ``:predict`` (reference §3.2) and
``veo-*`` through ``:predictLongRunning`` (§3.3). Prices are Google's published rates
(https://ai.google.dev/gemini-api/docs/pricing; the reference's §6 transcribes most of them), each
with its source and date; every model id the specs and the reference name is priced. Veo on the
Gemini API always makes audio, so its rate is the with-audio one. A model without a price can be
priced in ``providers.google.prices``.

The ``:generateContent`` image wire format is not in the reference: it follows Google's public
REST reference for ``models.generateContent`` (``contents[].parts[]`` with ``text`` and
``inlineData {mimeType, data}``; ``generationConfig.responseModalities``,
``generationConfig.imageConfig.aspectRatio``; answers ``candidates[].content.parts[]``,
``candidates[].finishReason``, ``promptFeedback.blockReason``, ``responseId``). The Gemini image
models take no negative prompt: ``negative_prompt`` is not sent to them.

Reference images (a character's look) go to the Gemini image models as further ``inlineData``
parts of the same user turn, after the text and after the input frame, if any: Google's image
generation guide composes a new image from several input images exactly so, one inline image
part each (https://ai.google.dev/gemini-api/docs/image-generation, "multi-image" composition and
character consistency; its REST examples spell the part ``inline_data``/``mime_type``, which the
JSON mapping of the same proto also reads as ``inlineData``/``mimeType``). Gemini 2.5 Flash Image
takes at most 3 images per prompt
(https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini/2-5-flash-image), Gemini 3
Pro Image 14 (https://docs.cloud.google.com/vertex-ai/generative-ai/docs/models/gemini/3-pro-image):
:data:`MAX_IMAGES_PER_PROMPT` is the default model's 3, input frame included. Imagen takes none.

Veo 3.1 takes reference images for text→video: ``instances[0].referenceImages[]`` of
``{"image": {"bytesBase64Encoded", "mimeType"}, "referenceType": "ASSET"}`` (provider reference
§3.3; the google-genai ``GenerateVideosConfig.reference_images`` docs: a prompt is required, and
``image``, ``video`` and ``lastFrame`` cannot be given with them; Google's Veo page: up to three
images of one subject, asset references, on the Veo 3.1 models, with 8-second clips), so at most
:data:`MAX_VEO_REFERENCES`, never with an input frame, and the clip is 8 s.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reelforge.errors import ContentRejected, InvalidInput
from reelforge.providers.base import (
    Capability,
    GenerationRequest,
    InputImage,
    OutputMedia,
    ProviderOptions,
)
from reelforge.providers.google.wire import PROVIDER_ID, GoogleError
from reelforge.providers.pricing import MAX_PRICE_USD

__all__ = [
    "MAX_IMAGES_PER_PROMPT",
    "MAX_VEO_REFERENCES",
    "PRICE_FACTS",
    "Family",
    "GoogleOptions",
    "GooglePrice",
    "build_body",
    "check_family",
    "family_of",
    "parse_generated_content",
    "parse_predictions",
    "price_for",
    "request_units",
]

Family = Literal["gemini", "imagen", "veo"]
PriceUnit = Literal["image", "second"]
_PROVIDER = PROVIDER_ID
#: Images one Gemini image prompt takes (Gemini 2.5 Flash Image, the default model).
MAX_IMAGES_PER_PROMPT = 3
#: Asset reference images one Veo 3.1 text→video request takes, and the clip length it makes.
MAX_VEO_REFERENCES = 3
VEO_REFERENCE_SECONDS = 8
_GEMINI_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
_IMAGEN_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9")
# finishReason / blockReason values that mean "refused for its content".
_SAFETY_REASONS = frozenset(
    {
        "SAFETY",
        "IMAGE_SAFETY",
        "PROHIBITED_CONTENT",
        "IMAGE_PROHIBITED_CONTENT",
        "BLOCKLIST",
        "SPII",
        "RECITATION",
        "IMAGE_RECITATION",
    }
)


class GoogleOptions(ProviderOptions):
    """Request fields Google accepts beyond the request's own (unset: Google's default)."""

    aspect_ratio: str | None = Field(
        default=None, description="e.g. 16:9; unset: the supported ratio nearest width/height"
    )
    number_of_images: int = Field(default=1, ge=1, le=4, description="Imagen sampleCount")
    person_generation: Literal["dont_allow", "allow_adult", "allow_all"] | None = None
    safety_filter_level: (
        Literal["block_low_and_above", "block_medium_and_above", "block_only_high"] | None
    ) = None
    image_size: Literal["1K", "2K"] | None = Field(default=None, description="Imagen 4 only")
    output_mime_type: Literal["image/png", "image/jpeg"] = "image/png"
    resolution: Literal["720p", "1080p"] | None = Field(default=None, description="Veo 3 only")
    number_of_videos: int = Field(default=1, ge=1, le=4)
    enhance_prompt: bool | None = None


class GooglePrice(BaseModel):
    """A price fact: USD per unit, and where it comes from (with its date)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: PriceUnit
    usd: Decimal = Field(ge=0, lt=MAX_PRICE_USD)
    source: str = "providers.google.prices"


def _fact(unit: PriceUnit, usd: str, source: str) -> GooglePrice:
    return GooglePrice(unit=unit, usd=Decimal(usd), source=source)


_PRICING = "https://ai.google.dev/gemini-api/docs/pricing"
_IMAGEN4 = (
    f"{_PRICING}, 2026 (as copied by lumenfall and codegateway.dev; Imagen 4 is to shut down on "
    "2026-08-17)"
)
# Keys are model id prefixes; the longest matching prefix wins.
PRICE_FACTS: Mapping[str, GooglePrice] = {
    "gemini-2.5-flash-image": _fact(
        "image", "0.039", f"{_PRICING}, Sep 2025 ($30 per 1M output tokens, 1290 tokens an image)"
    ),
    "imagen-4.0-fast-generate": _fact("image", "0.02", _IMAGEN4),
    "imagen-4.0-generate": _fact("image", "0.04", _IMAGEN4),
    "imagen-4.0-ultra-generate": _fact(
        "image", "0.06", _IMAGEN4 + "; one blog of May 2026 says $0.08"
    ),
    "imagen-3.0-generate": _fact("image", "0.03", f"{_PRICING}, 2025"),
    "veo-3.1-generate": _fact("second", "0.40", f"{_PRICING}, 2026-10-07; 720p/1080p with audio"),
    "veo-3.1-fast-generate": _fact(
        "second", "0.15", f"{_PRICING}, March 2026 (as copied by aifreeapi.com); 720p/1080p"
    ),
    "veo-3.0-generate": _fact(
        "second", "0.40", f"{_PRICING}, Sep 2025 (after Google's price cut); with audio"
    ),
    "veo-3.0-fast-generate": _fact(
        "second", "0.15", f"{_PRICING}, March 2026 (as copied by aifreeapi.com); 720p/1080p"
    ),
    "veo-2.0-generate": _fact("second", "0.35", f"{_PRICING}, 2025; no audio"),
}


def family_of(model: str) -> Family:
    bare = model.removeprefix("models/")
    if bare.startswith("imagen-"):
        return "imagen"
    if bare.startswith("veo-"):
        return "veo"
    return "gemini"


def check_family(model: str, capability: Capability) -> Family:
    """The family of ``model``, which must make what ``capability`` asks for."""
    family = family_of(model)
    if capability.makes_video != (family == "veo"):
        raise InvalidInput(
            f"Google model {model!r} cannot do {capability.value}.",
            details={"provider": _PROVIDER, "model": model},
        )
    return family


def build_body(
    model: str, request: GenerationRequest, options: GoogleOptions
) -> tuple[Family, dict[str, Any]]:
    """The JSON body for ``request`` on ``model``, and the family (hence the endpoint)."""
    family = check_family(model, request.capability)
    if family == "imagen" and (request.images or request.references):
        raise InvalidInput(
            "Imagen on the Gemini API takes no input or reference image; use a Gemini image model.",
            details={"provider": _PROVIDER, "model": model},
        )
    if family == "gemini":
        return family, _generate_content(request, options)
    if family == "imagen":
        return family, _predict(request, options)
    return family, _predict_long_running(model, request, options)


def _generate_content(request: GenerationRequest, options: GoogleOptions) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"text": request.prompt}]
    images = (*request.images, *request.references)
    parts += [{"inlineData": _inline(image, "inline")} for image in images]
    config: dict[str, Any] = {
        "responseModalities": ["TEXT", "IMAGE"],
        "imageConfig": {"aspectRatio": _ratio(request, options, _GEMINI_RATIOS)},
    }
    if request.seed is not None:
        config["seed"] = request.seed
    return {"contents": [{"role": "user", "parts": parts}], "generationConfig": config}


def _predict(request: GenerationRequest, options: GoogleOptions) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "sampleCount": options.number_of_images,
        "aspectRatio": _ratio(request, options, _IMAGEN_RATIOS),
        "includeRaiReason": True,
        "outputOptions": {"mimeType": options.output_mime_type},
    }
    optional = {
        "personGeneration": options.person_generation,
        "safetySetting": options.safety_filter_level,
        "guidanceScale": request.guidance_scale,
        "sampleImageSize": options.image_size,
    }
    parameters.update({k: v for k, v in optional.items() if v is not None})
    return {"instances": [{"prompt": request.prompt}], "parameters": parameters}


def _predict_long_running(
    model: str, request: GenerationRequest, options: GoogleOptions
) -> dict[str, Any]:
    instance: dict[str, Any] = {"prompt": request.prompt}
    if request.images:
        instance["image"] = _inline(request.images[0], "bytes")
    if len(request.images) > 1:
        instance["lastFrame"] = _inline(request.images[1], "bytes")
    if request.references:
        _check_veo_references(model, request)
        instance["referenceImages"] = [
            {"image": _inline(image, "bytes"), "referenceType": "ASSET"}
            for image in request.references
        ]
    duration = (
        VEO_REFERENCE_SECONDS
        if request.references
        else veo_duration(model, request.duration_s or 8.0)
    )
    parameters: dict[str, Any] = {
        "sampleCount": options.number_of_videos,
        "durationSeconds": duration,
        "aspectRatio": "16:9" if request.width >= request.height else "9:16",
    }
    if not model.removeprefix("models/").startswith("veo-2"):
        parameters["resolution"] = options.resolution or (
            "1080p" if min(request.width, request.height) >= 1080 else "720p"
        )
    optional = {
        "negativePrompt": request.negative_prompt or None,
        "personGeneration": options.person_generation,
        "enhancePrompt": options.enhance_prompt,
    }
    parameters.update({k: v for k, v in optional.items() if v is not None})
    return {"instances": [instance], "parameters": parameters}


def _check_veo_references(model: str, request: GenerationRequest) -> None:
    if request.images:
        raise InvalidInput(
            "Veo takes reference images only without an input frame (text→video).",
            details={"provider": _PROVIDER, "field": "references"},
        )
    if not model.removeprefix("models/").startswith("veo-3.1"):
        raise InvalidInput(
            f"{model} takes no reference images; the Veo 3.1 models do.",
            details={"provider": _PROVIDER, "model": model, "field": "references"},
        )


def veo_duration(model: str, seconds: float) -> int:
    """Veo's nearest allowed length at or above ``seconds`` (Veo 2: 5-8 s; Veo 3: 4, 6, 8 s)."""
    if model.removeprefix("models/").startswith("veo-2"):
        return min(max(5, int(-(-seconds // 1))), 8)
    return next((d for d in (4, 6, 8) if d >= seconds), 8)


def _ratio(request: GenerationRequest, options: GoogleOptions, allowed: tuple[str, ...]) -> str:
    if options.aspect_ratio is not None:
        if options.aspect_ratio not in allowed:
            raise InvalidInput(
                f"aspect_ratio must be one of {', '.join(allowed)}.",
                details={"provider": _PROVIDER, "field": "aspect_ratio"},
            )
        return options.aspect_ratio
    target = request.width / request.height

    def distance(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(int(w) / int(h) - target)

    return min(allowed, key=distance)


def _inline(image: InputImage, form: Literal["inline", "bytes"]) -> dict[str, str]:
    if image.data is None:
        raise InvalidInput(
            "Google takes input images as bytes, not URLs; ingest the image first.",
            details={"provider": _PROVIDER},
        )
    encoded = base64.b64encode(image.data).decode()
    if form == "inline":
        return {"mimeType": image.content_type, "data": encoded}
    return {"bytesBase64Encoded": encoded, "mimeType": image.content_type}


def parse_generated_content(body: Any) -> tuple[tuple[OutputMedia, ...], dict[str, Any]]:
    """The images of a ``:generateContent`` answer, and extra facts (text, finish reason).

    Raises :class:`ContentRejected` for a blocked prompt or a safety finish without images,
    :class:`GoogleError` when there is no image for another reason."""
    if not isinstance(body, dict):
        raise GoogleError("Google's answer is not a JSON object.", provider=_PROVIDER)
    feedback = body.get("promptFeedback")
    block = feedback.get("blockReason") if isinstance(feedback, dict) else None
    if block:
        raise ContentRejected(
            f"Google blocked the prompt ({block}).",
            provider=_PROVIDER,
            details={"block_reason": str(block)},
        )
    outputs: list[OutputMedia] = []
    texts: list[str] = []
    reasons: list[str] = []
    for candidate in body.get("candidates") or ():
        if not isinstance(candidate, dict):
            continue
        if candidate.get("finishReason"):
            reasons.append(str(candidate["finishReason"]))
        content = candidate.get("content")
        for part in (content.get("parts") or ()) if isinstance(content, dict) else ():
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str):
                texts.append(part["text"])
            inline = part.get("inlineData") or part.get("inline_data")
            if isinstance(inline, dict) and isinstance(inline.get("data"), str):
                mime = inline.get("mimeType") or inline.get("mime_type")
                outputs.append(
                    OutputMedia(data=_decode(inline["data"]), content_type=mime or "image/png")
                )
    extra: dict[str, Any] = {"finish_reasons": reasons}
    if texts:
        extra["text"] = " ".join(texts)[:500]
    if outputs:
        return tuple(outputs), extra
    if any(reason in _SAFETY_REASONS for reason in reasons):
        raise ContentRejected(
            f"Google withheld the image ({', '.join(reasons)}).",
            provider=_PROVIDER,
            details={"finish_reasons": reasons},
        )
    raise GoogleError(
        "Google's answer holds no image.",
        provider=_PROVIDER,
        details={"finish_reasons": reasons, "text": extra.get("text", "")[:200]},
    )


def parse_predictions(body: Any) -> tuple[tuple[OutputMedia, ...], dict[str, Any]]:
    """The images of an Imagen ``:predict`` answer; filtered ones are counted in the extra facts.

    Raises :class:`ContentRejected` when every image was filtered (``raiFilteredReason``)."""
    predictions = body.get("predictions") if isinstance(body, dict) else None
    outputs: list[OutputMedia] = []
    filtered: list[str] = []
    for prediction in predictions if isinstance(predictions, list) else ():
        if not isinstance(prediction, dict):
            continue
        if isinstance(prediction.get("bytesBase64Encoded"), str):
            outputs.append(
                OutputMedia(
                    data=_decode(prediction["bytesBase64Encoded"]),
                    content_type=prediction.get("mimeType") or "image/png",
                )
            )
        elif prediction.get("raiFilteredReason"):
            filtered.append(str(prediction["raiFilteredReason"])[:300])
    if outputs:
        return tuple(outputs), ({"rai_filtered_reasons": filtered} if filtered else {})
    if filtered:
        raise ContentRejected(
            "Google's safety filters removed every image.",
            provider=_PROVIDER,
            details={"rai_filtered_reasons": filtered},
        )
    raise GoogleError("Google's answer holds no image.", provider=_PROVIDER)


def _decode(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise GoogleError("Google returned undecodable base64 data.", provider=_PROVIDER) from None


def price_for(model: str, overrides: Mapping[str, GooglePrice]) -> GooglePrice | None:
    """The price fact for ``model`` (settings first, then the longest known prefix)."""
    bare = model.removeprefix("models/")
    if bare in overrides:
        return overrides[bare]
    known = [key for key in PRICE_FACTS if bare.startswith(key)]
    return PRICE_FACTS[max(known, key=len)] if known else None


def request_units(
    family: Family, model: str, duration_s: float | None, options: GoogleOptions
) -> tuple[Decimal, str]:
    """How many price units a request asks for, and how to say so in the cost basis."""
    if family == "gemini":
        return Decimal(1), "image"
    if family == "imagen":
        return Decimal(options.number_of_images), "image(s)"
    count = options.number_of_videos
    seconds = veo_duration(model, duration_s or 8.0)
    return Decimal(count * seconds), f"second(s) ({count} x {seconds} s)"
