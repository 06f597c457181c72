"""Frame sizes: the largest even width and height of an aspect ratio under a size cap.

Keyframes plans its frames with it and the local studio's command line draws at it.
"""

from __future__ import annotations

import re

from reelforge.errors import InvalidInput

__all__ = ["ASPECT_RATIOS", "resolve_size"]

ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "21:9")


def resolve_size(
    aspect_ratio: str, max_width: int = 1280, max_height: int = 720
) -> tuple[int, int]:
    """The largest even ``(width, height)`` of ``aspect_ratio`` (``"16:9"``, ``"2.39:1"``) that
    fits inside ``max_width`` x ``max_height``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[:x/]\s*(\d+(?:\.\d+)?)\s*", aspect_ratio)
    ratio = float(match[1]) / float(match[2]) if match and float(match[2]) > 0 else 0.0
    if not ratio or max_width < 2 or max_height < 2:
        raise InvalidInput(
            f"Unsupported aspect ratio {aspect_ratio!r} for a {max_width}x{max_height} cap; "
            f"use W:H such as {', '.join(ASPECT_RATIOS)}.",
            details={"aspect_ratio": aspect_ratio, "supported": list(ASPECT_RATIOS)},
        )
    width = min(float(max_width), max_height * ratio)
    height = width / ratio
    even_w, even_h = int(width) // 2 * 2, int(height + 1e-9) // 2 * 2
    if even_w < 2 or even_h < 2:
        raise InvalidInput(f"Aspect ratio {aspect_ratio!r} is too extreme for the size cap.")
    return even_w, even_h
