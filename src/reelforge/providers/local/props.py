"""Painting the previz vocabulary: a thing's shape (:mod:`.shapes`) filled with colours of the
frame's palette, or its scattered marks (rain, snow, fog, a storm, stars), on a layer of its own.

Each thing is drawn on its own transparent layer and composited, so the caller learns exactly
which pixels it covers (its mask), which is what the layout record's visible fraction counts.
"""

from __future__ import annotations

import math
import random
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter

from reelforge.providers.local.palette import Palette, Rgb, mix
from reelforge.providers.local.prop_shapes import PROP_SHAPES, SCATTERED
from reelforge.providers.local.set_shapes import SET_SHAPES
from reelforge.providers.local.shapes import Op

__all__ = ["SCATTERED", "SHAPES", "Box", "paint_thing"]

SHAPES: MappingProxyType[str, tuple[Op, ...]] = MappingProxyType({**SET_SHAPES, **PROP_SHAPES})

Box = tuple[float, float, float, float]

_ROLES: dict[str, Rgb] = {
    "wall": (226, 218, 200), "roof": (150, 62, 50), "wood": (140, 98, 60),
    "darkwood": (88, 58, 38), "stone": (140, 136, 128), "darkstone": (86, 84, 84),
    "metal": (118, 124, 134), "white": (238, 238, 232), "black": (36, 36, 40),
    "red": (186, 48, 42), "yellow": (240, 206, 64), "flame": (244, 130, 36),
    "leaf": (78, 136, 70), "leaflight": (110, 166, 88), "leafdark": (52, 104, 58),
    "pine": (38, 92, 66), "paper": (242, 232, 208), "gold": (206, 166, 62),
    "grey": (120, 120, 124), "brick": (160, 74, 54), "thatch": (196, 164, 96),
    "leather": (120, 72, 40), "bottle": (48, 110, 70), "violet": (130, 80, 190),
    "cloud": (226, 228, 232), "accent": (70, 110, 170), "body": (176, 66, 52),
}  # fmt: skip


def paint_thing(
    image: Image.Image,
    shape: str,
    box: Box,
    palette: Palette,
    rng: random.Random,
    *,
    colour: Rgb | None = None,
) -> npt.NDArray[np.bool_]:
    """Paint ``shape`` into ``box`` on ``image`` (in place) and return its mask. ``colour``
    recolours the body and accent (a "green boat"). Scattered marks fill the box."""
    unit = min(image.size)
    if shape in SHAPES:  # on a layer just the size of the box, for speed
        margin = 2 + unit // 150
        left, top = max(0, math.floor(box[0]) - margin), max(0, math.floor(box[1]) - margin)
        right = min(image.width, math.ceil(box[2]) + margin)
        bottom = min(image.height, math.ceil(box[3]) + margin)
        mask = np.zeros((image.height, image.width), dtype=bool)
        if right <= left or bottom <= top:
            return mask
        piece = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
        shifted = (box[0] - left, box[1] - top, box[2] - left, box[3] - top)
        _paint_ops(ImageDraw.Draw(piece, "RGBA"), SHAPES[shape], shifted, palette, colour, unit)
        image.paste(piece, (left, top), piece)
        mask[top:bottom, left:right] = np.asarray(piece.getchannel("A")) > 24
        return mask
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer, "RGBA")
    if shape == "stars":
        _stars(draw, box, palette, rng)
    elif shape in ("rain", "snow", "storm"):
        if shape == "storm":
            _storm_clouds(draw, image.size, palette, rng)
        _falling(draw, image.size, palette, rng, snow=shape == "snow", heavy=shape == "storm")
    elif shape == "fog":
        _fog(draw, image.size, palette, rng)
        layer = layer.filter(ImageFilter.GaussianBlur(unit * 0.03))
    else:
        raise ValueError(f"no drawing for shape {shape!r}")
    image.paste(layer, (0, 0), layer)
    return np.asarray(layer.getchannel("A")) > 24


def _role_colour(role: str, palette: Palette, colour: Rgb | None) -> Rgb:
    if role == "light":
        return mix(palette.light, (255, 214, 120), 0.35)
    if role == "glass":
        return mix(palette.sky_horizon, (168, 200, 222), 0.5)
    if role == "water":
        return mix(palette.sky_horizon, (80, 130, 180), 0.5)
    base = colour if colour is not None and role in ("body", "accent") else _ROLES[role]
    # Sit the thing in the mood: a little of the backdrop, darker in dim light.
    return mix(mix(base, palette.backdrop, 0.18), palette.ink, min(0.6, palette.shade * 0.8))


def _paint_ops(
    draw: ImageDraw.ImageDraw,
    ops: tuple[Op, ...],
    box: Box,
    palette: Palette,
    colour: Rgb | None,
    unit: int,
) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    side = max(1.0, min(w, h))
    outline = max(1, min(round(side / 45), max(1, unit // 150)))
    ink = mix(palette.ink, palette.backdrop, 0.15)
    for op in ops:
        fill = _role_colour(op.role, palette, colour)
        points = [(x0 + u * w, y0 + v * h) for u, v in op.points]
        if op.kind == "rect":
            draw.rectangle(_corners(points), fill=fill, outline=ink, width=outline)
        elif op.kind == "ellipse":
            draw.ellipse(_corners(points), fill=fill, outline=ink, width=outline)
        elif op.kind == "poly":
            draw.polygon(points, fill=fill, outline=ink, width=outline)
        elif op.kind == "pie":
            draw.pieslice(_corners(points), *op.angles, fill=fill, outline=ink, width=outline)
        else:
            width = max(1, round(op.width * side))
            if op.kind == "line":
                draw.line(points, fill=fill, width=width, joint="curve")
            else:
                draw.arc(_corners(points), *op.angles, fill=fill, width=width)


def _corners(points: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    (ax, ay), (bx, by) = points
    return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)


def _stars(draw: ImageDraw.ImageDraw, box: Box, palette: Palette, rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    unit = max(1.0, min(x1 - x0, (y1 - y0) * 3))
    twinkle = mix(palette.light, (255, 255, 255), 0.5)
    for _ in range(70):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        r = max(1.0, unit * rng.choice((0.002, 0.003, 0.004)))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(*twinkle, 230))


def _storm_clouds(
    draw: ImageDraw.ImageDraw, size: tuple[int, int], palette: Palette, rng: random.Random
) -> None:
    width, height = size
    dark = mix(palette.ink, palette.sky_top, 0.35)
    x = -width * 0.05
    while x < width * 1.05:
        r = height * rng.uniform(0.07, 0.12)
        y = height * rng.uniform(0.0, 0.07)
        draw.ellipse((x - r * 1.4, y - r, x + r * 1.4, y + r), fill=(*dark, 235))
        x += r * 1.6
    bolt_x = width * rng.uniform(0.15, 0.85)
    points = [(bolt_x, height * 0.15)]
    for step in range(1, 5):
        points.append((bolt_x + width * rng.uniform(-0.04, 0.04), height * (0.15 + 0.09 * step)))
    draw.line(points, fill=(255, 246, 200, 255), width=max(2, round(min(size) * 0.008)))


def _falling(
    draw: ImageDraw.ImageDraw,
    size: tuple[int, int],
    palette: Palette,
    rng: random.Random,
    *,
    snow: bool,
    heavy: bool,
) -> None:
    width, height = size
    unit = min(size)
    count = round(width * height / unit**2 * (200 if heavy else 140))
    streak = (*mix(palette.light, (210, 220, 235), 0.5), 150)
    for _ in range(count):
        x, y = rng.uniform(-unit * 0.1, width), rng.uniform(0, height)
        if snow:
            r = unit * rng.uniform(0.003, 0.008)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(250, 250, 252, 220))
        else:
            length = unit * rng.uniform(0.03, 0.07)
            draw.line(
                (x, y, x + length * math.sin(0.25), y + length),
                fill=streak,
                width=max(1, unit // 360),
            )


def _fog(
    draw: ImageDraw.ImageDraw, size: tuple[int, int], palette: Palette, rng: random.Random
) -> None:
    width, height = size
    haze = mix(palette.sky_horizon, (230, 232, 236), 0.5)
    draw.rectangle((0, 0, width, height), fill=(*haze, 70))
    for _ in range(9):
        y = height * rng.uniform(0.25, 0.95)
        half = width * rng.uniform(0.25, 0.5)
        x = width * rng.uniform(0, 1)
        draw.ellipse((x - half, y - height * 0.06, x + half, y + height * 0.06), fill=(*haze, 110))
