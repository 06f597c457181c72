"""Text for previz frames, kept out of the picture: :func:`storyboard_panel` sets the caption
band under a frame (the description and a key line naming the sets and props drawn), the frame
id and a ``PREVIZ`` mark in the corners and name tags over the figures, for contact sheets and
pages. Frames that get animated are the bare picture.

Text uses Pillow's bundled scalable font (``ImageFont.load_default(size=...)``, basic layout),
so rendering needs no system fonts and lays text out the same way everywhere.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from reelforge.errors import ConfigurationError
from reelforge.providers.local.dressing import Layout
from reelforge.providers.local.palette import Palette, mix

__all__ = ["bundled_font", "caption_lines", "line_height", "storyboard_panel", "tag"]


def storyboard_panel(picture: Image.Image, layout: Layout, palette: Palette) -> Image.Image:
    """``picture`` as a storyboard panel: the text layer over a copy of it (corner tags, name
    tags) and the caption band under it, so the panel is taller than the picture."""
    width, height = picture.size
    unit = min(width, height)
    font = bundled_font(max(10, min(40, round(unit * 0.042))))
    caption, band = caption_lines(layout.caption, font, width, height, key_lines=1)
    panel = Image.new("RGB", (width, height + band), palette.caption_bg)
    panel.paste(picture, (0, 0))
    draw = ImageDraw.Draw(panel, "RGBA")
    line_h = line_height(font)
    pad = (band - line_h * (len(caption) + 1)) / 2
    key = f"In frame: {layout.legend}" if layout.things else "In frame: no named sets or props"
    while font.getlength(key) > width * 0.94 and len(key) > 12:
        key = key[:-2].rstrip(" ,") + "…"
    key_colour = mix(palette.caption_fg, palette.caption_bg, 0.35)
    lines = [*((line, palette.caption_fg) for line in caption), (key, key_colour)]
    for index, (line, fill) in enumerate(lines):
        y = round(height + pad + index * line_h)
        draw.text((round(unit * 0.03), y), line, font=font, fill=fill)
    tag_font = bundled_font(max(9, min(32, round(unit * 0.034))))
    heading = layout.heading
    if tag_font.getlength(heading) > width * 0.6:
        heading = heading.split(" · ")[0]
    tag(draw, heading, tag_font, palette, unit, right=False, width=width)
    tag(draw, "PREVIZ", tag_font, palette, unit, right=True, width=width)
    name_font = bundled_font(max(9, round(unit * 0.032)))
    for seen in layout.figures:
        _name_tag(draw, seen.name, seen.face, name_font, palette, (width, height))
    return panel


def _name_tag(
    draw: ImageDraw.ImageDraw,
    name: str,
    face: tuple[int, int, int, int],
    font: ImageFont.FreeTypeFont,
    palette: Palette,
    size: tuple[int, int],
) -> None:
    """A name tag above the head, or under it when the head is near the frame's top."""
    if not name:
        return
    width, height = size
    left, top, right, bottom = font.getbbox(name)
    pad = max(2.0, (bottom - top) * 0.35)
    tag_w, tag_h = right - left + 2 * pad, bottom - top + 2 * pad
    y = face[1] - tag_h - 2
    if y < height * 0.1:
        y = face[3] + 2
    x = min(max((face[0] + face[2]) / 2 - tag_w / 2, 4.0), width - 4.0 - tag_w)
    y = min(max(y, height * 0.1), height - 4.0 - tag_h)
    draw.rounded_rectangle(
        (x, y, x + tag_w, y + tag_h), radius=tag_h / 3, fill=(*palette.caption_bg, 210)
    )
    draw.text((x + pad - left, y + pad - top), name, font=font, fill=palette.caption_fg)


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
