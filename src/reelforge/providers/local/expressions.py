"""A previz figure's face, seen from the front: eyes, brows and a mouth that show a simple
expression (neutral, smile, fear, anger), with glasses, a beard and age lines from its look.

Features are drawn only where the head is large enough to hold them (a few pixels across);
a far figure in a wide shot keeps a plain head.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PIL import ImageDraw

from reelforge.providers.local.palette import Palette, Rgb, mix

if TYPE_CHECKING:
    from reelforge.providers.local.figures import Figure

__all__ = ["paint_face"]

_MIN_FEATURE_RADIUS = 3.0


def paint_face(
    draw: ImageDraw.ImageDraw, figure: Figure, palette: Palette, *, skin: Rgb, hair: Rgb
) -> None:
    """The face of ``figure`` on its already painted head."""
    r = figure.head_radius
    if r < _MIN_FEATURE_RADIUS:
        return
    cx, head_y = figure.cx, figure.top + r
    ink = palette.ink
    line = max(1, round(r / 9))
    look, expression = figure.look, figure.expression
    if look.beard:
        draw.chord(
            (cx - r * 0.8, head_y - r * 0.35, cx + r * 0.8, head_y + r * 1.02),
            10,
            170,
            fill=hair,
            outline=ink,
            width=line,
        )
    eye_y, eye_dx = head_y + r * 0.02, r * 0.33
    eye_r = r * (0.13 if expression == "fear" else 0.1)
    for side in (-1, 1):
        x = cx + side * eye_dx
        if expression == "fear":
            _disc(draw, x, eye_y, eye_r * 1.5, (246, 244, 238), ink, line)
        _disc(draw, x, eye_y, eye_r, ink)
        # Brows: raised in fear, pulled down toward the nose in anger.
        inner, outer = x - side * r * 0.14, x + side * r * 0.16
        base = eye_y - r * (0.34 if expression == "fear" else 0.24)
        tilt = {"anger": 0.12, "fear": -0.08}.get(expression, 0.0) * r
        draw.line((inner, base + tilt, outer, base - tilt), fill=hair, width=line * 2)
        if look.old:  # crow's feet
            draw.line(
                (x + side * r * 0.2, eye_y + r * 0.05, x + side * r * 0.3, eye_y + r * 0.12),
                fill=mix(skin, ink, 0.5),
                width=line,
            )
        if look.glasses:
            _disc(draw, x, eye_y, r * 0.24, None, ink, line)
    if look.glasses:
        draw.line((cx - r * 0.09, eye_y, cx + r * 0.09, eye_y), fill=ink, width=line)
    if look.old:
        draw.arc(
            (cx - r * 0.3, head_y - r * 0.62, cx + r * 0.3, head_y - r * 0.3),
            200,
            340,
            fill=mix(skin, ink, 0.45),
            width=line,
        )
    _mouth(draw, cx, head_y, r, expression, mix(skin, ink, 0.65), line)


def _mouth(
    draw: ImageDraw.ImageDraw,
    cx: float,
    head_y: float,
    r: float,
    expression: str,
    colour: Rgb,
    line: int,
) -> None:
    y = head_y + r * 0.52
    if expression == "smile":
        draw.arc((cx - r * 0.32, y - r * 0.3, cx + r * 0.32, y + r * 0.12), 15, 165,
                 fill=colour, width=line * 2)  # fmt: skip
    elif expression == "fear":
        draw.ellipse((cx - r * 0.12, y - r * 0.1, cx + r * 0.12, y + r * 0.2), fill=colour)
    elif expression == "anger":
        draw.arc((cx - r * 0.28, y - r * 0.02, cx + r * 0.28, y + r * 0.3), 200, 340,
                 fill=colour, width=line * 2)  # fmt: skip
    else:
        draw.line((cx - r * 0.2, y, cx + r * 0.2, y), fill=colour, width=line * 2)


def _disc(
    draw: ImageDraw.ImageDraw,
    x: float,
    y: float,
    radius: float,
    fill: Rgb | None,
    outline: Rgb | None = None,
    width: int = 1,
) -> None:
    draw.ellipse(
        (x - radius, y - radius, x + radius, y + radius), fill=fill, outline=outline, width=width
    )
