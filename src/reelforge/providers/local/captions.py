"""Text for previz frames: the caption band under the picture, its key line, corner tags.

Text uses Pillow's bundled scalable font (``ImageFont.load_default(size=...)``, basic layout),
so rendering needs no system fonts and lays text out the same way everywhere.
"""

from __future__ import annotations

from PIL import ImageDraw, ImageFont

from reelforge.errors import ConfigurationError
from reelforge.providers.local.palette import Palette

__all__ = ["bundled_font", "caption_lines", "line_height", "tag"]


def bundled_font(size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size=size)
    if not isinstance(font, ImageFont.FreeTypeFont):  # only a Pillow built without FreeType
        raise ConfigurationError("The previz needs Pillow with FreeType for its bundled font.")
    return font


def caption_lines(
    text: str, font: ImageFont.FreeTypeFont, width: int, height: int, *, key_lines: int = 0
) -> tuple[list[str], int]:
    """The wrapped caption and the height of its band (at most ~30% of the frame), with room
    for ``key_lines`` more lines under the caption."""
    line_h = line_height(font)
    pad = max(4, round(line_h * 0.45))
    room = width - 2 * round(min(width, height) * 0.03)
    max_lines = max(1, min(4, int((height * 0.3 - 2 * pad) // line_h) - key_lines))
    lines = _wrap(" ".join(text.split()) or "(no description)", font, room)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        while lines[-1] and font.getlength(lines[-1] + "…") > room:
            lines[-1] = lines[-1][:-1]
        lines[-1] = lines[-1].rstrip() + "…"
    return lines, (len(lines) + key_lines) * line_h + 2 * pad


def _wrap(text: str, font: ImageFont.FreeTypeFont, room: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        while font.getlength(word) > room and len(word) > 1:  # split words wider than a line
            cut = max(
                1,
                next(
                    i for i in range(len(word), 0, -1) if font.getlength(word[:i]) <= room or i == 1
                ),
            )
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:cut])
            word = word[cut:]
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= room:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def line_height(font: ImageFont.FreeTypeFont) -> int:
    ascent, descent = font.getmetrics()
    return round((ascent + descent) * 1.15)


def tag(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.FreeTypeFont,
    palette: Palette,
    unit: int,
    *,
    right: bool,
    width: int,
) -> None:
    left, top, text_right, bottom = font.getbbox(text)
    pad, margin = max(3, round(unit * 0.012)), max(3, round(unit * 0.02))
    tag_w, tag_h = text_right - left + 2 * pad, bottom - top + 2 * pad
    x = width - margin - tag_w if right else margin
    draw.rounded_rectangle(
        (x, margin, x + tag_w, margin + tag_h), radius=tag_h // 4, fill=(*palette.caption_bg, 200)
    )
    colour = (*palette.light, 255) if right else (*palette.caption_fg, 255)
    draw.text((x + pad - left, margin + pad - top), text, font=font, fill=colour)
