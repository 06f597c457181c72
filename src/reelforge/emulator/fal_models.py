"""What a fal model id and its arguments mean to the fal emulator: the app path in status URLs,
image or video, output sizes and durations, and the price (reference §6; the emulator's own
list: unknown models bill at the flux/dev rate)."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from reelforge.emulator.base import Billing

__all__ = [
    "app_path",
    "bill",
    "duration_s",
    "image_size",
    "is_video",
    "num_images",
    "required_inputs",
    "video_size",
]

_NAMESPACES = ("workflows", "comfy")
_VIDEO_MARKERS = ("video", "veo", "kling", "wan-", "luma", "minimax", "ltx")
_IMAGE_SIZES = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
_SHORT_SIDES = {"480p": 480, "580p": 580, "720p": 720, "1080p": 1080, "4k": 2160}
_PER_MEGAPIXEL = {"fal-ai/flux/dev": Decimal("0.025"), "fal-ai/flux/schnell": Decimal("0.003")}
_PER_IMAGE = {
    "fal-ai/flux-pro/kontext/multi": Decimal("0.04"),
    "fal-ai/flux-pro/v1.1": Decimal("0.04"),
    "fal-ai/flux-pro/v1.1-ultra": Decimal("0.06"),
}


def bill(model: str, args: dict[str, Any]) -> Billing:
    """What the emulator's ledger charges for one request."""
    if is_video(model):
        seconds = duration_s(model, args)
        return Billing(seconds, "second", _video_rate(model, args) * Decimal(str(seconds)))
    count = num_images(args)
    if model in _PER_IMAGE:
        return Billing(count, "image", _PER_IMAGE[model] * count)
    width, height = image_size(args)
    megapixels = math.ceil(width * height / 1_000_000) * count
    rate = _PER_MEGAPIXEL.get(model, _PER_MEGAPIXEL["fal-ai/flux/dev"])
    return Billing(megapixels, "megapixel", rate * megapixels)


def required_inputs(model: str) -> list[str]:
    if "kontext" in model and model.endswith("/multi"):
        return ["prompt", "image_urls"]
    needs_image = "image-to-video" in model or "image-to-image" in model
    return ["prompt", "image_url"] if needs_image else ["prompt"]


def app_path(model: str) -> str:
    """owner/app of a model id (namespace kept): status URLs drop the model's sub-path."""
    parts = model.strip("/").split("/")
    return "/".join(parts[:3] if parts[0] in _NAMESPACES else parts[:2])


def is_video(model: str) -> bool:
    return any(marker in model.lower() for marker in _VIDEO_MARKERS)


def num_images(args: dict[str, Any]) -> int:
    count = args.get("num_images", 1)
    return min(max(count, 1), 4) if isinstance(count, int) else 1


def image_size(args: dict[str, Any]) -> tuple[int, int]:
    ratio = args.get("aspect_ratio")
    if "image_size" not in args and isinstance(ratio, str) and ":" in ratio:
        return _megapixel(ratio)
    size = args.get("image_size", "landscape_4_3")
    if isinstance(size, dict):
        width, height = size.get("width"), size.get("height")
        if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
            return width, height
    if isinstance(size, str) and size in _IMAGE_SIZES:
        return _IMAGE_SIZES[size]
    return _IMAGE_SIZES["landscape_4_3"]


def _megapixel(ratio: str) -> tuple[int, int]:
    """About one megapixel at ``ratio`` (Kontext's sizing), multiples of 8."""
    try:
        w, h = (float(part) for part in ratio.split(":"))
        scale = (1024 * 1024 / (w * h)) ** 0.5
    except (ValueError, ZeroDivisionError):
        return _IMAGE_SIZES["square_hd"]
    return max(64, round(w * scale / 8) * 8), max(64, round(h * scale / 8) * 8)


def video_size(args: dict[str, Any]) -> tuple[int, int]:
    short = _SHORT_SIDES.get(str(args.get("resolution", "720p")), 720)
    ratio = str(args.get("aspect_ratio", "16:9"))
    try:
        w, h = (float(part) for part in ratio.split(":"))
    except ValueError:
        w, h = 16.0, 9.0
    if w >= h:
        return round(short * w / h), short
    return short, round(short * h / w)


def duration_s(model: str, args: dict[str, Any]) -> float:
    value = args.get("duration")
    try:
        return float(str(value).removesuffix("s"))
    except ValueError:
        return 8.0 if "veo" in model else 5.0


def _video_rate(model: str, args: dict[str, Any]) -> Decimal:
    audio = args.get("generate_audio", True) is not False
    if model.startswith("fal-ai/veo3.1"):
        if args.get("resolution") == "4k":
            return Decimal("0.60") if audio else Decimal("0.40")
        return Decimal("0.40") if audio else Decimal("0.20")
    if model.startswith("fal-ai/veo3/fast"):
        return Decimal("0.15")
    if model.startswith("fal-ai/veo3"):
        return Decimal("0.40")
    return Decimal("0.10")
