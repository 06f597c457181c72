"""Previz stills: a storyboard draft frame drawn from a :class:`SceneBrief` with Pillow only.

The frame reads like a panel in a storyboard review: the camera notes set the framing (wide,
full, medium, close-up, over-the-shoulder, two-shot) and the angle (low and high angles move
the horizon, overhead hides the sky, dutch cants the frame); the lighting mood picks the
palette; characters are labelled figures in their signature colours; the description is the
caption under the shot, with a key line naming the sets and props drawn (:mod:`.dressing`
picks them from the description and camera notes); the frame id and a ``PREVIZ`` mark sit in
the corners. :func:`draw_previz` also returns the frame's layout record.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, TypeVar

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from reelforge.errors import InvalidInput
from reelforge.providers.briefs import CharacterBrief, SceneBrief
from reelforge.providers.local.captions import bundled_font, caption_lines, line_height, tag
from reelforge.providers.local.dressing import Dressing, Layout
from reelforge.providers.local.figures import Figure, paint_figure, paint_label, paint_shadow
from reelforge.providers.local.palette import Palette, figure_colours, mix, palette_for
from reelforge.providers.local.reference_figures import ReferenceCast
from reelforge.providers.local.scenery import (
    Setting,
    paint_glow,
    paint_light,
    paint_setting,
    paint_sky_and_ground,
)

__all__ = ["Previz", "Shot", "draw_previz", "parse_shot", "render_previz"]

_MIN_SIDE, _MAX_SIDE = 64, 4096
_MAX_FIGURES = 6
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
    """A drawn frame and the record of the sets and props in it."""

    image: Image.Image
    layout: Layout


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
    """:func:`render_previz`, with the frame's layout record."""
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
    unit = min(width, height)
    caption_font = bundled_font(max(10, min(40, round(unit * 0.042))))
    caption, band = caption_lines(brief.description, caption_font, width, height, key_lines=1)
    scene, layout = _draw_shot(
        brief, shot, palette, width, height - band, rng, seed, cast or ReferenceCast({})
    )
    canvas = Image.new("RGB", (width, height), palette.caption_bg)
    canvas.paste(scene, (0, 0))
    draw = ImageDraw.Draw(canvas, "RGBA")
    line_h = line_height(caption_font)
    pad = (band - line_h * (len(caption) + 1)) / 2
    key = f"In frame: {layout.legend}" if layout.things else "In frame: no named sets or props"
    while caption_font.getlength(key) > width * 0.94 and len(key) > 12:
        key = key[:-2].rstrip(" ,") + "…"
    key_colour = mix(palette.caption_fg, palette.caption_bg, 0.35)
    for index, (line, fill) in enumerate(
        [*((line, palette.caption_fg) for line in caption), (key, key_colour)]
    ):
        draw.text(
            (round(unit * 0.03), round(height - band + pad + index * line_h)),
            line,
            font=caption_font,
            fill=fill,
        )
    tag_font = bundled_font(max(9, min(32, round(unit * 0.034))))
    heading = f"{brief.frame_id} · {shot.label}" if brief.frame_id else shot.label
    if tag_font.getlength(heading) > width * 0.6:
        heading = brief.frame_id or shot.label
    tag(draw, heading, tag_font, palette, unit, right=False, width=width)
    tag(draw, "PREVIZ", tag_font, palette, unit, right=True, width=width)
    return Previz(canvas, layout)


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
) -> tuple[Image.Image, Layout]:
    """The picture area: environment, named sets, figures and their name tags, props in
    their hands, weather; and the record of the named things."""
    horizon = height * _horizon(shot)
    image = paint_sky_and_ground(width, height, palette, horizon)
    paint_light(image, palette, horizon, rng)
    setting = _earliest(_SETTINGS, f"{brief.description} {brief.prompt_seed}".lower())
    paint_setting(image, setting or _default_setting(palette), palette, horizon, rng)
    paint_glow(image, palette, horizon, rng)
    figures = _layout(shot, brief.characters, width, height, horizon, rng)
    texts = (brief.description, brief.camera_notes)
    dressing = Dressing(texts, shot.framing, (width, height), horizon, figures, seed)
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
    unit = min(width, height)
    for figure in figures:
        size = round(min(max(figure.head_radius * 0.8, unit * 0.026), unit * 0.045))
        font = bundled_font(max(9, size))
        paint_label(draw, figure, font, palette, (4.0, unit * 0.1, width - 4.0, height - 4.0))
    dressing.paint_front(image, palette, before)
    dressing.paint_weather(image, palette)
    if palette.monochrome:
        image = image.convert("L").convert("RGB")
    image = _grain(image, rng)
    if shot.angle != "dutch":
        return image, dressing.layout(height)
    degrees = rng.choice((-7.0, 7.0))
    return _cant(image, degrees), dressing.layout(height, degrees, _CANT_ZOOM)


def _horizon(shot: Shot) -> float:
    base = _HORIZON[shot.framing]
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


def _layout(
    shot: Shot,
    cast: tuple[CharacterBrief, ...],
    width: int,
    height: int,
    horizon: float,
    rng: random.Random,
) -> list[Figure]:
    """Figures for the cast in drawing order (back to front), sized and placed for the shot."""
    if not cast:
        return []
    look = 1.12 if shot.angle == "low" else 0.88 if shot.angle in ("high", "overhead") else 1.0

    def figure(
        character: CharacterBrief, cx: float, top: float, h: float, *, back: bool = False
    ) -> Figure:
        colours = figure_colours(character.name, character.visual_signature)
        return Figure(cx, top, h, colours, character.name, back_view=back, shade=0.45 * back)

    jitter = width * 0.02
    if shot.framing in ("close_up", "extreme_close_up"):
        extreme = shot.framing == "extreme_close_up"
        h = min(height * (6.5 if extreme else 3.4), width * (0.9 if extreme else 0.55) / 0.112)
        cx = width * rng.choice((0.42, 0.5, 0.58))
        return [figure(cast[0], cx, height * (-0.04 if extreme else 0.1), h * look)]
    if shot.framing == "over_the_shoulder":
        side = rng.choice((-1.0, 1.0))
        focus, front = (cast[1], cast[0]) if len(cast) > 1 else (cast[0], None)
        h = min(height * 2.0, width * 0.3 / 0.112)
        people = [
            figure(
                focus,
                width * (0.5 - side * 0.17) + rng.uniform(-jitter, jitter),
                height * 0.16,
                h * look,
            )
        ]
        if front is not None:
            people.append(
                figure(
                    front,
                    width * (0.5 + side * 0.36),
                    height * 0.35,
                    min(height * 2.8, width * 0.45 / 0.112),
                    back=True,
                )
            )
        return people
    drawn = cast[:2] if shot.framing == "two_shot" else cast[:_MAX_FIGURES]
    count = len(drawn)
    if shot.framing in ("wide", "extreme_wide"):
        h = (
            min(
                height * (0.13 if shot.framing == "extreme_wide" else 0.26),
                width * 0.8 / count / 0.4,
            )
            * look
        )
        feet = horizon + (height - horizon) * 0.55 if horizon < height * 0.9 else height * 0.96
        centre, spread = width * rng.choice((0.38, 0.5, 0.62)), h * 0.45
        return [
            figure(
                c,
                centre + (i - (count - 1) / 2) * spread + rng.uniform(-jitter, jitter),
                feet - h + rng.uniform(-h, h) * 0.05,
                h,
            )
            for i, c in enumerate(drawn)
        ]
    if shot.framing == "full":
        h = min(height * 0.8, width * 0.9 / count / 0.36) * look
        top, step = height * 0.93 - h, width / (count + 1)
    else:  # medium and two-shot: cut at the waist
        h = min(height * 1.35, width * 0.85 / count / 0.3) * look
        top, step = height * 0.15, width / (count + 1)
    return [
        figure(c, step * (i + 1) + rng.uniform(-jitter, jitter), top, h)
        for i, c in enumerate(drawn)
    ]


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
