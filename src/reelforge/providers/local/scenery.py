"""Previz scenery: sky and ground, the mood's light, and the setting along the horizon.

Everything is flat shapes, the vocabulary of a storyboard thumbnail. All randomness comes from
the ``random.Random`` the caller passes, so a frame is a pure function of its brief and seed.
"""

from __future__ import annotations

import math
import random
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from reelforge.providers.local.palette import Palette, Rgb, mix

__all__ = ["Setting", "paint_glow", "paint_light", "paint_setting", "paint_sky_and_ground"]

Setting = Literal["city", "nature", "sea", "interior"]


def paint_sky_and_ground(width: int, height: int, palette: Palette, horizon: float) -> Image.Image:
    """A vertical gradient: sky down to the horizon, then ground, darker toward the camera."""
    rows = np.arange(height, dtype=np.float32)[:, None]
    sky_t = np.clip(rows / max(horizon, 1.0), 0.0, 1.0)
    ground_t = np.clip((rows - horizon) / max(height - horizon, 1.0), 0.0, 1.0)
    sky = _lerp(palette.sky_top, palette.sky_horizon, sky_t)
    ground = _lerp(palette.ground_far, palette.ground_near, ground_t)
    column = np.where(rows < horizon, sky, ground).astype(np.uint8)
    return Image.fromarray(
        np.ascontiguousarray(np.broadcast_to(column[:, None], (height, width, 3)))
    )


def paint_light(image: Image.Image, palette: Palette, horizon: float, rng: random.Random) -> None:
    """The mood's sky light, a sun or a moon with a halo (behind the setting, above the
    horizon only)."""
    if palette.light_kind not in ("sun", "moon") or horizon <= 0:
        return
    width, height = image.size
    unit = min(width, height)
    sky = image.crop((0, 0, width, min(height, math.ceil(horizon))))
    radius = unit * (0.06 if palette.light_kind == "sun" else 0.045)
    x = width * rng.uniform(0.2, 0.8)
    y = horizon - palette.light_height * max(horizon, unit * 0.3) - radius * 0.3
    if palette.light_kind == "moon":
        draw = ImageDraw.Draw(sky, "RGBA")
        for _ in range(40):
            sx, sy = rng.uniform(0, width), rng.uniform(0, horizon * 0.8)
            _disc(draw, sx, sy, max(unit / 500, 0.8), (*palette.light, 160))
    _halo(sky, x, y, radius * 4.0, palette.light, 0.45)
    _disc(ImageDraw.Draw(sky), x, y, radius, palette.light)
    image.paste(sky, (0, 0))


def paint_glow(image: Image.Image, palette: Palette, horizon: float, rng: random.Random) -> None:
    """Practical lights for night and interior moods: lamps, candles, neon, as soft pools."""
    if palette.light_kind != "glow":
        return
    width, height = image.size
    unit = min(width, height)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(2, 3)):
        x = width * rng.uniform(0.05, 0.95)
        y = horizon - palette.light_height * max(horizon, unit * 0.3) * rng.uniform(0.7, 1.2)
        radius = unit * rng.uniform(0.05, 0.08)
        if palette.default_setting == "city":  # a lamp post under each pool of light
            draw.line(
                (x, y, x, max(horizon, y) + unit * 0.04),
                fill=palette.ink,
                width=max(1, unit // 180),
            )
        _halo(image, x, y, radius * 3.0, palette.light, 0.5)
        _disc(draw, x, y, radius * 0.16, palette.light)


def paint_setting(
    image: Image.Image, setting: Setting, palette: Palette, horizon: float, rng: random.Random
) -> None:
    """The environment along the horizon: skyline, hills, sea or a room."""
    draw = ImageDraw.Draw(image, "RGBA")
    if setting == "city":
        _city(draw, image.size, palette, horizon, rng)
    elif setting == "sea":
        _sea(draw, image.size, palette, horizon, rng)
    elif setting == "interior":
        _interior(draw, image.size, palette, horizon, rng)
    else:
        _nature(draw, image.size, palette, horizon, rng)


def _city(
    draw: ImageDraw.ImageDraw,
    size: tuple[int, int],
    palette: Palette,
    horizon: float,
    rng: random.Random,
) -> None:
    width, height = size
    unit = min(width, height)
    x = -rng.uniform(0, unit * 0.1)
    while x < width:
        bw = unit * rng.uniform(0.1, 0.26)
        bh = max(horizon, unit * 0.2) * rng.uniform(0.25, 0.75)
        colour = mix(palette.backdrop, palette.sky_horizon, rng.uniform(0.0, 0.25))
        draw.rectangle((x, horizon - bh, x + bw, horizon), fill=colour)
        window = unit * 0.018
        for wy in np.arange(horizon - bh + window, horizon - window * 2, window * 2.2):
            for wx in np.arange(x + window, x + bw - window * 1.5, window * 2.0):
                lit = palette.windows is not None and rng.random() < 0.35
                shade = (
                    palette.windows if lit and palette.windows else mix(colour, palette.ink, 0.3)
                )
                draw.rectangle((wx, wy, wx + window, wy + window * 1.2), fill=shade)
        x += bw + unit * rng.uniform(0.0, 0.03)
    vanish = width * rng.uniform(0.35, 0.65)
    for offset in (-1.6, -0.5, 0.5, 1.6):  # kerbs and lane marks running to the horizon
        draw.line(
            (vanish + offset * unit * 0.05, horizon, vanish + offset * unit, height + unit),
            fill=(*palette.ink, 90),
            width=max(1, unit // 200),
        )


def _nature(
    draw: ImageDraw.ImageDraw,
    size: tuple[int, int],
    palette: Palette,
    horizon: float,
    rng: random.Random,
) -> None:
    width, height = size
    unit = min(width, height)
    for layer, (amp, tint) in enumerate(((0.16, 0.45), (0.09, 0.0))):
        phases = [rng.uniform(0, 2 * math.pi) for _ in range(3)]
        points = [(0.0, horizon + 1)]
        for i in range(65):
            x = width * i / 64
            wave = sum(
                math.sin(x / unit * f + p) / (k + 1)
                for k, (f, p) in enumerate(zip((2.1, 4.3, 9.7), phases, strict=True))
            )
            points.append((x, horizon - unit * amp * (0.55 + 0.3 * wave)))
        points.append((float(width), horizon + 1))
        draw.polygon(points, fill=mix(palette.backdrop, palette.sky_horizon, tint))
        if layer == 1:
            for _ in range(rng.randint(3, 7)):
                tx, th = rng.uniform(0, width), unit * rng.uniform(0.08, 0.16)
                base = horizon - unit * amp * 0.3
                draw.rectangle(
                    (tx - th * 0.05, base - th * 0.3, tx + th * 0.05, base),
                    fill=mix(palette.backdrop, palette.ink, 0.5),
                )
                draw.polygon(
                    [
                        (tx - th * 0.3, base - th * 0.25),
                        (tx + th * 0.3, base - th * 0.25),
                        (tx, base - th),
                    ],
                    fill=mix(palette.backdrop, palette.ink, 0.25),
                )
    _tufts(draw, size, palette, horizon, rng)


def _tufts(
    draw: ImageDraw.ImageDraw,
    size: tuple[int, int],
    palette: Palette,
    horizon: float,
    rng: random.Random,
) -> None:
    """Grass tufts that grow toward the camera: the cue that makes a ground plane read."""
    width, height = size
    unit = min(width, height)
    if horizon >= height:
        return
    colour = (*mix(palette.ground_far, palette.ink, 0.45), 160)
    for _ in range(50):
        depth = rng.random() ** 1.5
        y = max(horizon, 0.0) + (height - max(horizon, 0.0)) * depth
        size_px = unit * (0.004 + 0.025 * depth)
        x = rng.uniform(0, width)
        for lean in (-0.6, 0.0, 0.6):
            draw.line(
                (x, y, x + lean * size_px, y - size_px),
                fill=colour,
                width=max(1, round(size_px / 6)),
            )


def _sea(
    draw: ImageDraw.ImageDraw,
    size: tuple[int, int],
    palette: Palette,
    horizon: float,
    rng: random.Random,
) -> None:
    width, height = size
    unit = min(width, height)
    water = mix(palette.sky_horizon, palette.backdrop, 0.55)
    draw.rectangle((0, horizon, width, height), fill=water)
    headland = rng.uniform(0.1, 0.35) * width
    draw.polygon(
        [
            (0, horizon + 1),
            (0, horizon - unit * 0.08),
            (headland * 0.6, horizon - unit * 0.05),
            (headland, horizon + 1),
        ],
        fill=palette.backdrop,
    )
    for _ in range(60):
        y = horizon + (height - horizon) * rng.random() ** 1.6
        length = unit * rng.uniform(0.02, 0.12) * (1 + (y - horizon) / max(unit, 1))
        x = rng.uniform(-length, width)
        draw.line((x, y, x + length, y), fill=(*palette.light, 90), width=max(1, unit // 300))


def _interior(
    draw: ImageDraw.ImageDraw,
    size: tuple[int, int],
    palette: Palette,
    horizon: float,
    rng: random.Random,
) -> None:
    width, height = size
    unit = min(width, height)
    wall = mix(palette.backdrop, palette.sky_horizon, 0.45)
    draw.rectangle((0, 0, width, horizon), fill=wall)
    line = max(1, unit // 250)
    win_w, win_h = unit * rng.uniform(0.22, 0.32), unit * rng.uniform(0.22, 0.3)
    wx = width * rng.uniform(0.08, 0.92) - win_w / 2
    wy = horizon - unit * 0.12 - win_h
    draw.rectangle(
        (wx, wy, wx + win_w, wy + win_h), fill=palette.sky_top, outline=palette.ink, width=line * 2
    )
    draw.line((wx + win_w / 2, wy, wx + win_w / 2, wy + win_h), fill=palette.ink, width=line)
    draw.line((wx, wy + win_h / 2, wx + win_w, wy + win_h / 2), fill=palette.ink, width=line)
    door_x = (wx + win_w + unit * 0.1) if wx < width / 2 else (wx - unit * 0.28)
    door_h = min(unit * 0.45, max(horizon, 1) * 0.8)
    draw.rectangle(
        (door_x, horizon - door_h, door_x + unit * 0.16, horizon),
        fill=mix(wall, palette.ink, 0.35),
        outline=palette.ink,
        width=line,
    )
    draw.line((0, horizon, width, horizon), fill=palette.ink, width=line)
    vanish = width * 0.5
    for i in range(-6, 7):
        draw.line(
            (vanish + i * unit * 0.08, horizon, vanish + i * unit * 0.6, height),
            fill=(*palette.ink, 70),
            width=line,
        )


def _disc(
    draw: ImageDraw.ImageDraw,
    x: float,
    y: float,
    radius: float,
    fill: Rgb | tuple[int, int, int, int],
    outline: Rgb | None = None,
    width: int = 1,
) -> None:
    draw.ellipse(
        (x - radius, y - radius, x + radius, y + radius), fill=fill, outline=outline, width=width
    )


def _halo(
    image: Image.Image, x: float, y: float, radius: float, colour: Rgb, strength: float
) -> None:
    """Blend a soft radial glow of ``colour`` into ``image`` (quadratic falloff, no banding)."""
    box = (
        max(0, math.floor(x - radius)),
        max(0, math.floor(y - radius)),
        min(image.width, math.ceil(x + radius)),
        min(image.height, math.ceil(y + radius)),
    )
    if box[2] <= box[0] or box[3] <= box[1]:
        return
    region = np.asarray(image.crop(box), dtype=np.float32)
    rows, cols = np.mgrid[box[1] : box[3], box[0] : box[2]].astype(np.float32) + 0.5
    weight = strength * np.clip(1.0 - np.hypot(cols - x, rows - y) / radius, 0.0, 1.0) ** 2
    region += (np.asarray(colour, dtype=np.float32) - region) * weight[..., None]
    image.paste(Image.fromarray(region.astype(np.uint8)), box[:2])


def _lerp(a: Rgb, b: Rgb, t: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    start = np.asarray(a, dtype=np.float32)
    end = np.asarray(b, dtype=np.float32)
    return start + (end - start) * t
