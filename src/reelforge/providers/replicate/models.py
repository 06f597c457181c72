"""What Replicate's image models take and give: options, model inputs, outputs, prices.

The defaults are Black Forest Labs' flux models as Replicate serves them (the transform spec's
``black-forest-labs/flux-dev``): ``prompt``, ``aspect_ratio`` (one of flux's named ratios),
``image`` + ``prompt_strength`` for image-to-image, ``num_outputs``, ``num_inference_steps``,
``guidance``, ``output_format``. A model's output is any JSON; every URL (or ``data:`` URI, which
``Prefer: wait`` may return) found in it is an output. Prices are the reference's price facts
(§6) with their source and date; other models can be priced in ``providers.replicate.prices``.
Official models are billed per output, so a request's price is per image.

Reference images (a character's look) go to FLUX.1 Kontext [pro] as Replicate serves it: one
reference to ``black-forest-labs/flux-kontext-pro`` as ``input_image``; two to
``flux-kontext-apps/multi-image-kontext-pro`` as ``input_image_1`` and ``input_image_2`` (both
required there). Both take ``prompt``, ``aspect_ratio`` (flux's ratios, ``match_input_image``,
``2:1``, ``1:2``), ``seed``, ``output_format`` (``jpg`` or ``png``) and ``safety_tolerance``
(0-2 with input images) and nothing of flux-dev's steps or guidance (the models' API pages,
https://replicate.com/black-forest-labs/flux-kontext-pro/api and
https://replicate.com/flux-kontext-apps/multi-image-kontext-pro/api, read 2026-12). Prices: $0.04
per image for Kontext [pro] (Replicate's model page, 2026, as fal and Wavespeed list the same
model), $0.08 for the two-image app (eachlabs' listing of the same model, March 2026; check the
page).
"""

from __future__ import annotations

import base64
import binascii
import math
import mimetypes
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from reelforge.errors import InvalidInput
from reelforge.providers.base import (
    Capability,
    GenerationRequest,
    InputImage,
    OutputMedia,
    ProviderOptions,
)
from reelforge.providers.pricing import MAX_PRICE_USD

__all__ = [
    "FLUX_ASPECT_RATIOS",
    "KONTEXT_INPUTS",
    "MAX_REFERENCES",
    "PRICE_FACTS",
    "ReplicateOptions",
    "ReplicatePrice",
    "build_input",
    "model_name",
    "nearest_aspect_ratio",
    "parse_outputs",
    "price_for",
    "reference_inputs",
]

AspectRatio = Literal[
    "1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21"
]
FLUX_ASPECT_RATIOS: tuple[str, ...] = get_args(AspectRatio)
_DATA_URI_HINT = 256 * 1024
#: The Kontext models that take reference images, and the input field of each image, in order.
KONTEXT_INPUTS: Mapping[str, tuple[str, ...]] = {
    "black-forest-labs/flux-kontext-pro": ("input_image",),
    "flux-kontext-apps/multi-image-kontext-pro": ("input_image_1", "input_image_2"),
}
MAX_REFERENCES = max(len(fields) for fields in KONTEXT_INPUTS.values())


class ReplicateOptions(ProviderOptions):
    """Model inputs beyond the request's own fields (unset: the model's default), and the
    prediction's deadline."""

    aspect_ratio: AspectRatio | None = Field(
        default=None, description="Default: the flux ratio nearest to width:height"
    )
    num_outputs: int = Field(default=1, ge=1, le=4)
    num_inference_steps: int | None = Field(default=None, ge=1, le=50)
    guidance: float | None = Field(default=None, ge=0, le=10)
    prompt_strength: float | None = Field(default=None, ge=0, le=1)
    output_format: Literal["webp", "jpg", "png"] = Field(
        default="png", description="png by default: key frames feed later steps losslessly"
    )
    output_quality: int | None = Field(default=None, ge=0, le=100)
    disable_safety_checker: bool | None = None
    go_fast: bool | None = None
    megapixels: Literal["1", "0.25"] | None = None
    safety_tolerance: int | None = Field(default=None, ge=1, le=6)
    prompt_upsampling: bool | None = None
    cancel_after: str | None = Field(
        default=None,
        pattern=r"^([0-9]+(ms|s|m|h))+$",
        description="Cancel-After deadline, e.g. '90s' or '5m' (aborted if not started by then)",
    )


class ReplicatePrice(BaseModel):
    """A price fact: USD per output unit, and where it comes from (with its date)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: Literal["image"] = "image"
    usd: Decimal = Field(ge=0, lt=MAX_PRICE_USD)
    source: str = "providers.replicate.prices"


def _fact(usd: str, source: str) -> ReplicatePrice:
    return ReplicatePrice(unit="image", usd=Decimal(usd), source=source)


#: Replicate's page of a model (where its price is published), under this prefix.
_PAGE = "https://replicate.com/black-forest-labs"
PRICE_FACTS: Mapping[str, ReplicatePrice] = {
    "black-forest-labs/flux-dev": _fact(
        "0.025", f"{_PAGE}/flux-dev, May 2026 (as copied by workflowlab.dev)"
    ),
    "black-forest-labs/flux-pro": _fact(
        "0.055", f"{_PAGE}/flux-pro, 2026 (an undated copy of the page)"
    ),
    "black-forest-labs/flux-1.1-pro": _fact(
        "0.04", f"{_PAGE}/flux-1.1-pro, 2026 (from a reseller's list; check the page)"
    ),
    "black-forest-labs/flux-kontext-pro": _fact(
        "0.04", f"{_PAGE}/flux-kontext-pro, 2026 (fal and Wavespeed list the same model alike)"
    ),
    "flux-kontext-apps/multi-image-kontext-pro": _fact(
        "0.08",
        "https://replicate.com/flux-kontext-apps/multi-image-kontext-pro, March 2026 "
        "(from eachlabs' listing; check the page)",
    ),
}


def model_name(ref: str) -> str:
    """``owner/name`` of a model reference (``owner/name:version`` loses its version)."""
    return ref.split(":", 1)[0]


def price_for(ref: str, overrides: Mapping[str, ReplicatePrice]) -> ReplicatePrice | None:
    """The price fact for a model reference (settings first, then the built-in table)."""
    for key in (ref, model_name(ref)):
        if key in overrides:
            return overrides[key]
    return PRICE_FACTS.get(model_name(ref))


def reference_inputs(model: str) -> tuple[str, ...]:
    """The input fields ``model`` takes reference images in (none: it takes none)."""
    return KONTEXT_INPUTS.get(model_name(model), ())


def build_input(
    request: GenerationRequest, options: ReplicateOptions, model: str = ""
) -> dict[str, Any]:
    """The model's ``input`` object for ``request``."""
    fields = reference_inputs(model)
    if fields:
        return _kontext_input(request, options, fields)
    inputs: dict[str, Any] = {
        "prompt": request.prompt,
        "aspect_ratio": options.aspect_ratio or nearest_aspect_ratio(request.width, request.height),
        "output_format": options.output_format,
    }
    if options.num_outputs > 1:
        inputs["num_outputs"] = options.num_outputs
    if request.capability is Capability.IMAGE_TO_IMAGE:
        inputs["image"] = image_reference(request.images[0])
    optional = {
        "seed": request.seed,
        "num_inference_steps": options.num_inference_steps or request.steps,
        "guidance": options.guidance if options.guidance is not None else request.guidance_scale,
        "prompt_strength": options.prompt_strength if "image" in inputs else None,
        "output_quality": options.output_quality,
        "disable_safety_checker": options.disable_safety_checker,
        "go_fast": options.go_fast,
        "megapixels": options.megapixels,
        "safety_tolerance": options.safety_tolerance,
        "prompt_upsampling": options.prompt_upsampling,
    }
    inputs.update({name: value for name, value in optional.items() if value is not None})
    return inputs


def _kontext_input(
    request: GenerationRequest, options: ReplicateOptions, fields: tuple[str, ...]
) -> dict[str, Any]:
    """A Kontext model's input: the references in its image fields, and the few options it
    documents (flux-dev's steps, guidance and strength are not among them)."""
    if len(request.references) != len(fields):
        raise InvalidInput(
            f"This Replicate Kontext model takes exactly {len(fields)} reference image(s); the "
            f"request carries {len(request.references)}.",
            details={"provider": "replicate", "field": "references", "max": len(fields)},
        )
    inputs: dict[str, Any] = {
        "prompt": request.prompt,
        "aspect_ratio": options.aspect_ratio or nearest_aspect_ratio(request.width, request.height),
        "output_format": "jpg" if options.output_format == "jpg" else "png",
    }
    inputs |= {
        field: image_reference(image)
        for field, image in zip(fields, request.references, strict=True)
    }
    optional = {"seed": request.seed, "safety_tolerance": options.safety_tolerance}
    inputs.update({name: value for name, value in optional.items() if value is not None})
    return inputs


def nearest_aspect_ratio(width: int, height: int) -> str:
    """The flux aspect ratio closest to ``width:height`` (compared on a log scale)."""
    wanted = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = (int(part) for part in ratio.split(":"))
        return abs(math.log(w / h) - wanted)

    return min(FLUX_ASPECT_RATIOS, key=distance)


def image_reference(image: InputImage) -> str:
    """An input image as Replicate takes it: its URL, or a data URI of our bytes.

    Replicate recommends data URIs only up to 256 kB; larger ones still work, more slowly."""
    return image.as_url()


def is_large_data_uri(value: str) -> bool:
    return value.startswith("data:") and len(value) > _DATA_URI_HINT


def parse_outputs(output: Any) -> tuple[OutputMedia, ...]:
    """Every file in a prediction's output (a URL, a list of them, or any JSON holding them).

    Raises ValueError when there is none, or when a data URI cannot be decoded."""
    found = tuple(_media(value) for value in _file_strings(output))
    if not found:
        raise ValueError("Replicate's prediction output holds no media.")
    return found


def _file_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.startswith(("https://", "http://", "data:")) else []
    if isinstance(value, list):
        return [found for item in value for found in _file_strings(item)]
    if isinstance(value, dict):
        return [found for item in value.values() for found in _file_strings(item)]
    return []


def _media(value: str) -> OutputMedia:
    if not value.startswith("data:"):
        path = value.split("?", 1)[0]
        return OutputMedia(url=value, content_type=mimetypes.guess_type(path)[0])
    header, _, payload = value.partition(",")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("Replicate returned an undecodable data URI.") from None
    return OutputMedia(data=data, content_type=header.removeprefix("data:").split(";")[0] or None)
