"""Previz stills: a storyboard draft frame drawn from a :class:`SceneBrief` with Pillow only.

The frame reads like a panel in a storyboard review: the camera notes set the framing (wide,
full, medium, close-up, over-the-shoulder, two-shot) and the angle (low and high angles move
the horizon, overhead hides the sky, dutch cants the frame); the lighting mood picks the
palette; characters are figures drawn from their signatures (:mod:`.blocking` places them);
:mod:`.dressing` draws the sets and props the words name.

A brief that names its scene (``scene_id``, ``scene_text``) gets the scene's set: the setting,
the horizon and the sets are drawn from the scene, not the shot, so every shot of the scene
stands in the same place, seen from its own angle.

The picture holds no text: the description, the frame id and the names go into the layout
record, and :func:`.captions.storyboard_panel` sets them beside the picture for sheets and
pages. A frame that gets animated never carries a caption.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Literal, TypeVar

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from reelforge.errors import InvalidInput
from reelforge.providers.briefs import SceneBrief
from reelforge.providers.local.blocking import perch_cast, place_cast
from reelforge.providers.local.dressing import Dressing, Layout, Seen
from reelforge.providers.local.figures import Figure, paint_figure, paint_shadow
from reelforge.providers.local.palette import Palette, palette_for
from reelforge.providers.local.reference_figures import ReferenceCast
from reelforge.providers.local.scenery import (
    Setting,
    paint_glow,
    paint_light,
    paint_setting,
    paint_sky_and_ground,
)
from reelforge.providers.local.staging import cant_box
from reelforge.providers.local.vocabulary import things_named

__all__ = ["Previz", "Shot", "draw_previz", "parse_shot", "render_previz"]

_MIN_SIDE, _MAX_SIDE = 64, 4096
_SCENE_HORIZON = 0.5
_CANT_ZOOM = 1.22
_T = TypeVar("_T")

Framing = Literal[
    "extreme_wide", "wide", "full", "medium", "close_up", "extreme_close_up",
    "over_the_shoulder", "two_shot",
]  # fmt: skip
Angle = Literal["eye_level", "low", "high", "overhead", "dutch"]

# Earliest match in the notes wins; on a tie the first listed wins ("medium close-up" is close).
_FRAMINGS: tuple[tuple[Framing, str], ...] = (
    ("over_the_shoulder", r"over[\s-]*(?:the[\s-]*)?shoulder|\bots\b"),
    ("extreme_close_up", r"extreme[\s-]*close[\s-]*up|\bx?ecu\b|\bxcu\b|macro|insert"),
    ("close_up", r"close[\s-]*up|closeup|\bm?cu\b|medium[\s-]*close|tight|head[\s-]*and[\s-]*sh"),
    ("extreme_wide", r"extreme[\s-]*(?:wide|long)|\bx?ews\b|\bels\b"),
    ("two_shot", r"two[\s-]*shot|\b2[\s-]*shot"),
    ("full", r"full[\s-]*(?:shot|body|length|figure)|\bfs\b|cowboy|medium[\s-]*(?:long|wide)"),
    ("wide", r"wide|establishing|long[\s-]*shot|\bws\b|\bls\b|vista|panoram"),
    ("medium", r"medium|mid[\s-]*shot|\bms\b|waist"),
)
_ANGLES: tuple[tuple[Angle, str], ...] = (
    ("overhead", r"overhead|bird'?s?[\s-]*eye|top[\s-]*down|aerial"),
    ("low", r"low[\s-]*angle|worm'?s?[\s-]*eye|from below|looking up"),
    ("high", r"high[\s-]*angle|from above|looking down"),
    ("dutch", r"dutch|canted|oblique"),
)
_SETTINGS: tuple[tuple[Setting, str], ...] = (
    ("interior", r"\bint\.|interior|inside|room|kitchen|office|\bbar\b|hallway|corridor|cabin"
                 r"|tavern|library|apartment|warehouse|church|diner|cafe|restaurant|\bshop\b"
                 r"|\blab\b|basement|attic|elevator|studio|bedroom|garage|\bcell\b|\bhall\b"),
    ("sea", r"\bsea\b|ocean|beach|coast|shore|harbou?r|lake|river|\bboats?\b|\bships?\b|\bpier"),
    ("city", r"city|street|alley|rooftop|downtown|avenue|skyline|building|\btown\b|market"
             r"|plaza|station|traffic|parking|highway|bridge|neon"),
    ("nature", r"forest|\bwoods?\b|field|meadow|mountain|hill|desert|valley|garden|\bpark\b"
               r"|country"),
)  # fmt: skip
_HORIZON: MappingProxyType[Framing, float] = MappingProxyType({
    "extreme_wide": 0.62, "wide": 0.6, "full": 0.55, "medium": 0.42, "close_up": 0.38,
    "extreme_close_up": 0.35, "over_the_shoulder": 0.42, "two_shot": 0.42,
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Shot:
    """How a frame is shot: its framing and camera angle."""

    framing: Framing
    angle: Angle

    @property
    def label(self) -> str:
        words = self.framing.replace("_", " ").upper().replace("CLOSE UP", "CLOSE-UP")
        return words if self.angle == "eye_level" else f"{words} · {self.angle.upper()} ANGLE"


def parse_shot(camera_notes: str, characters: int = 1) -> Shot:
    """The framing and angle named in camera notes. Without a named framing the cast decides:
    nobody → wide, one → medium, two → two-shot, more → full (a group)."""
    text = camera_notes.lower()
    by_cast: tuple[Framing, ...] = ("wide", "medium", "two_shot", "full")
    framing = _earliest(_FRAMINGS, text) or by_cast[min(max(characters, 0), 3)]
    return Shot(framing=framing, angle=_earliest(_ANGLES, text) or "eye_level")


@dataclass(frozen=True, slots=True)
class Previz:
    """A drawn frame (no text in it), the record of what is in it, the set behind the cast
    (``backdrop``: the picture before the figures and props in hand) and the palette."""

    image: Image.Image
    layout: Layout
    backdrop: Image.Image
    palette: Palette


def render_previz(
    brief: SceneBrief,
    *,
    width: int,
    height: int,
    seed: int,
    cast: ReferenceCast | None = None,
) -> Image.Image:
    """A storyboard draft frame for ``brief``: RGB, ``width`` x ``height``, the same pixels for
    the same brief and seed. Raises :class:`InvalidInput` for a size outside 64-4096 px.
    ``cast``: characters drawn from their reference photos."""
    return draw_previz(brief, width=width, height=height, seed=seed, cast=cast).image


def draw_previz(
    brief: SceneBrief,
    *,
    width: int,
    height: int,
    seed: int,
    cast: ReferenceCast | None = None,
) -> Previz:
    """:func:`render_previz`, with the frame's layout record and its set."""
    for name, side in (("width", width), ("height", height)):
        if (
            isinstance(side, bool)
            or not isinstance(side, int)
            or not _MIN_SIDE <= side <= _MAX_SIDE
        ):
            raise InvalidInput(
                f"Previz {name} must be a whole number of pixels {_MIN_SIDE}-{_MAX_SIDE}; "
                f"got {side!r}.",
                details={name: side},
            )
    rng = random.Random(seed)
    palette = palette_for(brief.lighting_mood or brief.description)
    shot = parse_shot(brief.camera_notes, len(brief.characters))
    image, backdrop, layout = _draw_shot(
        brief, shot, palette, width, height, rng, seed, cast or ReferenceCast({})
    )
    heading = f"{brief.frame_id} · {shot.label}" if brief.frame_id else shot.label
    caption = " ".join(brief.description.split())
    return Previz(image, replace(layout, heading=heading, caption=caption), backdrop, palette)


def _earliest(table: tuple[tuple[_T, str], ...], text: str) -> _T | None:
    best: tuple[int, _T] | None = None
    for value, pattern in table:
        found = re.search(pattern, text)
        if found is not None and (best is None or found.start() < best[0]):
            best = (found.start(), value)
    return None if best is None else best[1]


def _draw_shot(
    brief: SceneBrief,
    shot: Shot,
    palette: Palette,
    width: int,
    height: int,
    rng: random.Random,
    seed: int,
    cast: ReferenceCast,
) -> tuple[Image.Image, Image.Image, Layout]:
    """The picture: the set (environment, light, named sets), figures, props in their hands,
    weather; the set alone; and the record of what was drawn."""
    set_key = _set_key(brief)
    set_rng = random.Random(set_key) if set_key else rng
    horizon = height * _horizon(shot, scene=set_key is not None)
    image = paint_sky_and_ground(width, height, palette, horizon)
    paint_light(image, palette, horizon, set_rng)
    set_words = brief.scene_text if set_key else f"{brief.description} {brief.prompt_seed}"
    setting = _earliest(_SETTINGS, set_words.lower())
    paint_setting(image, setting or _default_setting(palette), palette, horizon, set_rng)
    paint_glow(image, palette, horizon, set_rng)
    figures = place_cast(brief, shot.framing, shot.angle, (width, height), horizon, rng)
    texts = (brief.description, brief.camera_notes)
    set_texts = (brief.scene_text,) if set_key else None
    dressing = Dressing(
        texts, shot.framing, (width, height), horizon, figures, seed, set_texts, set_key
    )
    if shot.framing in ("wide", "extreme_wide"):
        placed = [(p.thing, p.box) for p in dressing.placed]
        figures = perch_cast(figures, brief.description, placed, height)
    dressing.paint_back(image, palette)
    blur = {"close_up": 0.006, "extreme_close_up": 0.01, "over_the_shoulder": 0.004}
    if shot.framing in blur:
        image = image.filter(ImageFilter.GaussianBlur(min(width, height) * blur[shot.framing]))
    before = image.copy()
    draw = ImageDraw.Draw(image, "RGBA")
    for figure in figures:
        if figure.feet < height:
            paint_shadow(draw, figure, palette)
        paint_figure(draw, figure, palette)
        cast.paste(image, figure)
    dressing.paint_front(image, palette, before)
    dressing.paint_weather(image, palette)
    if palette.monochrome:
        image = image.convert("L").convert("RGB")
    image = _grain(image, rng)
    degrees = rng.choice((-7.0, 7.0)) if shot.angle == "dutch" else 0.0
    if degrees:
        image, before = _cant(image, degrees), _cant(before, degrees)
        layout = dressing.layout(height, degrees, _CANT_ZOOM)
    else:
        layout = dressing.layout(height)
    seen = tuple(_seen(figure, degrees, width, height) for figure in figures)
    return image, before, replace(layout, figures=seen, subject=_subject(figures))


def _set_key(brief: SceneBrief) -> str | None:
    """What the scene's set is drawn from: the scene and every set or prop its words name, so
    each shot of the scene draws the same set; None for a brief that names no scene."""
    if not brief.scene_id:
        return None
    named = sorted(thing.name for thing in things_named(brief.scene_text))
    return f"set:{brief.scene_id}:{','.join(named)}"


def _seen(figure: Figure, degrees: float, width: int, height: int) -> Seen:
    boxes = []
    for box in (figure.body_box, figure.head_box):
        if degrees:
            box = cant_box(box, degrees, _CANT_ZOOM, width, height)
        boxes.append((round(box[0]), round(box[1]), round(box[2]), round(box[3])))
    facing: Literal["front", "back"] = "back" if figure.back_view else "front"
    return Seen(figure.label, facing, boxes[0], boxes[1], figure.expression)


def _subject(figures: list[Figure]) -> str:
    """The figure the shot is about: the largest one facing the camera."""
    front = [f for f in figures if not f.back_view]
    return max(front, key=lambda f: f.height).label if front else ""


def _horizon(shot: Shot, *, scene: bool) -> float:
    base = _SCENE_HORIZON if scene else _HORIZON[shot.framing]
    if shot.angle == "low":
        return min(base + 0.28, 0.9)
    if shot.angle == "high":
        return max(base - 0.32, 0.08)
    if shot.angle == "overhead":
        return -0.15
    return base


def _default_setting(palette: Palette) -> Setting:
    known: dict[str, Setting] = {"city": "city", "interior": "interior", "sea": "sea"}
    return known.get(palette.default_setting, "nature")


def _grain(image: Image.Image, rng: random.Random) -> Image.Image:
    """Soft paper grain, seeded. Coarse (3 px) rather than per-pixel noise: per-pixel noise
    shimmers once an animatic resamples the frame at sub-pixel offsets, and costs bits."""
    coarse = (image.width // 3 + 2, image.height // 3 + 2)
    noise = np.random.default_rng(rng.getrandbits(64)).integers(122, 135, coarse[::-1], np.uint8)
    smooth = Image.fromarray(noise).resize(image.size, Image.Resampling.BILINEAR)
    pixels = np.asarray(image, np.int16) + (np.asarray(smooth, np.int16) - 128)[..., None]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _cant(image: Image.Image, degrees: float) -> Image.Image:
    """A dutch angle: rotate and zoom just enough that no corner is left empty."""
    width, height = image.size
    zoom = _CANT_ZOOM
    big = image.resize((round(width * zoom), round(height * zoom)), Image.Resampling.BILINEAR)
    big = big.rotate(degrees, resample=Image.Resampling.BICUBIC)
    x0, y0 = (big.width - width) // 2, (big.height - height) // 2
    return big.crop((x0, y0, x0 + width, y0 + height))
