"""What Leonardo's endpoints take: options, configured prices, request bodies, clip lengths.

Bodies follow the reference §5: ``POST /generations`` (``prompt``, ``modelId``, ``num_images``,
``width``, ``height``, ``negative_prompt``, ``alchemy``, ``presetStyle``...) and
``POST /generations-image-to-video`` (``imageId``, ``imageType``, ``prompt``, ``model``,
``duration`` for VEO3* (4/6/8 s) and KLING2_5 (5/10 s), ``resolution``, ``negativePrompt``,
``seed``). Sizes are multiples of 8 up to 1536 (a guess from Leonardo's public docs; §5 is silent).

A character's reference image goes as a Character Reference: the image uploaded first (the
init-image flow, see :mod:`.adapter`), then named in ``controlnets``: ``{"initImageId",
"initImageType": "UPLOADED", "preprocessorId": 133, "strengthType": "Low" | "Mid" | "High"}``
(Leonardo's guide "Generate Images Using Image Guidance" and its list of commonly used API values,
read 2026-12: 133 is Character Reference on the SDXL models such as Leonardo Kino XL, whose
``modelId`` is :data:`KINO_XL`; the guide shows one Character Reference per generation).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reelforge.providers.base import GenerationRequest, ProviderOptions
from reelforge.providers.pricing import MAX_PRICE_USD

__all__ = [
    "CHARACTER_REFERENCE",
    "DEFAULT_MODEL",
    "KINO_XL",
    "LeonardoOptions",
    "LeonardoPrice",
    "image_body",
    "video_body",
    "video_seconds",
]

DEFAULT_MODEL = "leonardo-default"
#: Leonardo Kino XL, a model Character Reference works with, and that preprocessor's id.
KINO_XL = "aa77f04e-3eec-4034-9c07-d0f619684628"
CHARACTER_REFERENCE = 133
_MAX_SIDE = 1536


class LeonardoPrice(BaseModel):
    """A configured price: USD per unit, and where it comes from (with its date)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: Literal["image", "video", "second"]
    usd: Decimal = Field(ge=0, lt=MAX_PRICE_USD)
    source: str = "providers.leonardo.prices"


class LeonardoOptions(ProviderOptions):
    """Request fields Leonardo accepts beyond the request's own (unset: Leonardo's default)."""

    num_images: int = Field(default=1, ge=1, le=8)
    alchemy: bool | None = None
    preset_style: str | None = None
    image_id: str | None = Field(default=None, description="Animate an image Leonardo holds")
    image_type: Literal["GENERATED", "UPLOADED"] = "GENERATED"
    resolution: Literal["RESOLUTION_480", "RESOLUTION_720", "RESOLUTION_1080"] | None = None
    reference_strength: Literal["Low", "Mid", "High"] = Field(
        default="Mid", description="How strongly a Character Reference holds the look"
    )


def image_body(
    model: str,
    request: GenerationRequest,
    options: LeonardoOptions,
    reference_ids: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``POST /generations``'s body; ``reference_ids``: uploaded images, as Character
    References."""
    width, height = fit(request.width, request.height)
    body: dict[str, Any] = {
        "prompt": request.prompt,
        "num_images": options.num_images,
        "width": width,
        "height": height,
    }
    optional = {
        "modelId": None if model == DEFAULT_MODEL else model,
        "negative_prompt": request.negative_prompt or None,
        "seed": request.seed,
        "guidance_scale": request.guidance_scale,
        "num_inference_steps": request.steps,
        "alchemy": options.alchemy,
        "presetStyle": options.preset_style,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if reference_ids:
        body["controlnets"] = [
            {
                "initImageId": image_id,
                "initImageType": "UPLOADED",
                "preprocessorId": CHARACTER_REFERENCE,
                "strengthType": options.reference_strength,
            }
            for image_id in reference_ids
        ]
    return body


def video_body(
    model: str, request: GenerationRequest, options: LeonardoOptions, image_id: str, image_type: str
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "imageId": image_id,
        "imageType": image_type,
        "prompt": request.prompt,
        "model": model,
    }
    if model.startswith(("VEO3", "KLING2_5")):
        body["duration"] = video_seconds(model, request.duration_s or 5.0)
    optional = {
        "resolution": options.resolution,
        "negativePrompt": request.negative_prompt or None,
        "seed": request.seed,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def video_seconds(model: str, seconds: float) -> int:
    """The clip length Leonardo will make: VEO3* 4/6/8 s, KLING2_5 5/10 s, others about 5 s."""
    if model.startswith("VEO3"):
        return next((d for d in (4, 6, 8) if d >= seconds), 8)
    if model.startswith("KLING2_5"):
        return 5 if seconds <= 5 else 10
    return 5


def fit(width: int, height: int) -> tuple[int, int]:
    """Leonardo's sizes: multiples of 8 from 32 to 1536, aspect ratio kept."""
    scale = min(1.0, _MAX_SIDE / max(width, height))
    return max(32, int(width * scale) // 8 * 8), max(32, int(height * scale) // 8 * 8)
