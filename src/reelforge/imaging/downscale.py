"""Scaling a still down to fit a size cap, keeping its aspect ratio and its format.

Keyframes caps what providers return (the spec's 1280x720 holds for outputs too): an image over
the cap is resampled (Lanczos) to the largest size of the same aspect ratio inside it, and encoded
again in its own format (PNG and GIF as PNG, JPEG and WebP at quality 95). An image already
inside the cap is left alone.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image

from reelforge.errors import CorruptMedia

__all__ = ["FittedImage", "fit_size", "fit_within"]

_PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error)
_QUALITY = 95
_RESAMPLED_MODES = frozenset({"RGB", "RGBA", "L", "LA"})  # Pillow resamples others crudely


@dataclass(frozen=True, slots=True)
class FittedImage:
    """An image scaled down to fit a cap: its bytes, type and new size."""

    data: bytes
    content_type: str
    width: int
    height: int


def fit_size(width: int, height: int, max_width: int, max_height: int) -> tuple[int, int]:
    """The largest size of ``width``:``height`` within ``max_width`` x ``max_height`` (the size
    itself if it fits already)."""
    scale = min(1.0, max_width / width, max_height / height)
    if scale == 1.0:
        return width, height
    fitted = (min(max_width, round(width * scale)), min(max_height, round(height * scale)))
    return max(1, fitted[0]), max(1, fitted[1])


def fit_within(data: bytes, max_width: int, max_height: int) -> FittedImage | None:
    """``data`` (an encoded still) scaled down to fit the cap, or None if it fits already.

    CPU-bound: call it in a worker thread. Raises CorruptMedia if ``data`` cannot be decoded.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            size = fit_size(image.width, image.height, max_width, max_height)
            if size == image.size:
                return None
            source = image if image.mode in _RESAMPLED_MODES else _widened(image)
            fitted = source.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
            return _encoded(fitted, image.format or "PNG", image.info)
    except _PIL_ERRORS as exc:
        raise CorruptMedia("The image to scale down cannot be decoded.") from exc


def _widened(image: Image.Image) -> Image.Image:
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def _encoded(image: Image.Image, source_format: str, info: Mapping[Any, Any]) -> FittedImage:
    out = io.BytesIO()
    extra: dict[str, object] = {}
    if "icc_profile" in info:
        extra["icc_profile"] = info["icc_profile"]
    if source_format == "JPEG":
        image = image if image.mode in {"RGB", "L", "CMYK"} else image.convert("RGB")
        image.save(out, format="JPEG", quality=_QUALITY, **extra)
        content_type = "image/jpeg"
    elif source_format == "WEBP":
        image.save(out, format="WEBP", quality=_QUALITY, **extra)
        content_type = "image/webp"
    else:
        image.save(out, format="PNG", **extra)
        content_type = "image/png"
    return FittedImage(out.getvalue(), content_type, image.width, image.height)
