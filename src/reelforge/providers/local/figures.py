"""Previz figures: simple labelled standing characters, drawn at any scale.

A figure is a full body in frame coordinates; the frame crops it, so the same drawing serves a
wide shot (small, whole), a medium shot (cut at the waist) and a close-up (head and shoulders).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from PIL import ImageDraw, ImageFont

from reelforge.providers.local.expressions import paint_face
from reelforge.providers.local.looks import Expression, Look
from reelforge.providers.local.palette import FigureColours, Palette, Rgb, mix

__all__ = ["Figure", "Pose", "paint_figure", "paint_label", "paint_shadow"]

Pose = Literal["standing", "holding"]
Point = tuple[float, float]
Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Figure:
    """A standing character: ``top`` is the top of the head and ``height`` the full body, in
    pixels, so a figure taller than the frame is simply cropped like a close shot."""

    cx: float
    top: float
    height: float
    colours: FigureColours
    label: str = ""
    back_view: bool = False
    shade: float = 0.0
    look: Look = field(default_factory=Look)
    expression: Expression = "neutral"
    pose: Pose = "standing"

    @property
    def feet(self) -> float:
        return self.top + self.height

    @property
    def head_radius(self) -> float:
        return self.height * 0.068

    @property
    def head_box(self) -> Box:
        """The head, hair and hat included (x0 y0 x1 y1)."""
        r = self.head_radius
        return (self.cx - r * 1.05, self.top - r * 0.15, self.cx + r * 1.05, self.top + r * 2.05)

    @property
    def body_box(self) -> Box:
        return (self.cx - self.height * 0.19, self.top, self.cx + self.height * 0.19, self.feet)

    @property
    def hands(self) -> tuple[Point, Point]:
        """Left and right hand: at the sides, or together in front of the chest (holding)."""
        h, cx = self.height, self.cx
        if self.pose == "holding" and not self.back_view:
            y = self.top + h * 0.4
            return (cx - h * 0.05, y), (cx + h * 0.05, y)
        y = self.top + h * 0.475
        return (cx - h * 0.135, y), (cx + h * 0.135, y)


def paint_shadow(draw: ImageDraw.ImageDraw, figure: Figure, palette: Palette) -> None:
    """A contact shadow under the feet, which plants a small figure on the ground."""
    half_w, half_h = figure.height * 0.16, figure.height * 0.025
    colour = mix(palette.ground_far, palette.ink, 0.5)
    draw.ellipse(
        (figure.cx - half_w, figure.feet - half_h, figure.cx + half_w, figure.feet + half_h),
        fill=(*colour, 150),
    )


def paint_figure(draw: ImageDraw.ImageDraw, figure: Figure, palette: Palette) -> None:
    """A simple standing figure: legs, torso, arms, scarf and coat details, head, hair, hat,
    and (seen from the front) a face with eyes, brows and a mouth."""
    h, cx, top = figure.height, figure.cx, figure.top
    shade = min(0.85, palette.shade + figure.shade)
    body = mix(figure.colours.body, palette.ink, shade)
    legs = mix(body, palette.ink, 0.35)
    skin = mix(palette.skin, palette.ink, shade)
    hair = mix(figure.colours.hair, palette.ink, shade)
    ink = palette.ink
    line = max(1, round(h / 160))
    look = figure.look
    shoulder_y, hip_y = top + h * 0.17, top + h * 0.5
    shoulder_w, hip_w = h * 0.125, h * 0.09
    hem_y = top + h * (0.74 if figure.colours.long_garment else 0.52)
    hem_w = hip_w * (1.35 if figure.colours.long_garment else 1.0)
    head_r = figure.head_radius
    head_y = top + head_r
    if look.hair_style == "long" and not figure.colours.bald:  # hair falling behind the back
        draw.rounded_rectangle(
            (cx - head_r * 1.0, head_y - head_r * 0.6, cx + head_r * 1.0, shoulder_y + h * 0.06),
            radius=head_r * 0.6,
            fill=hair,
            outline=ink,
            width=line,
        )
    for side in (-1, 1):
        leg = [
            (cx + side * h * 0.012, hip_y),
            (cx + side * h * 0.075, hip_y),
            (cx + side * h * 0.06, top + h),
            (cx + side * h * 0.02, top + h),
        ]
        draw.polygon(leg, fill=legs, outline=ink, width=line)
        if figure.pose == "standing" or figure.back_view:
            _arm_down(draw, figure, side, body, ink, line)
    # Sloped shoulders from the neck to the arm, then straight down to the hem.
    torso = [
        (cx - h * 0.035, shoulder_y - h * 0.012),
        (cx + h * 0.035, shoulder_y - h * 0.012),
        (cx + shoulder_w * 0.75, shoulder_y),
        (cx + shoulder_w, shoulder_y + h * 0.035),
        (cx + hem_w, hem_y),
        (cx - hem_w, hem_y),
        (cx - shoulder_w, shoulder_y + h * 0.035),
        (cx - shoulder_w * 0.75, shoulder_y),
    ]
    draw.polygon(torso, fill=body, outline=ink, width=line)
    if look.coat and not figure.back_view:
        _coat_front(draw, figure, mix(body, ink, 0.45), line)
    if figure.pose == "holding" and not figure.back_view:
        for side in (-1, 1):
            _arm_forward(draw, figure, side, body, ink, line)
    if not figure.back_view:
        for hand in figure.hands:
            _disc(draw, hand[0], hand[1], h * 0.024, skin, ink, line)
    draw.rectangle(
        (cx - h * 0.022, head_y + head_r * 0.7, cx + h * 0.022, shoulder_y + 1),
        fill=skin,
        outline=ink,
        width=line,
    )
    accent = figure.colours.accent
    if accent is None and look.scarf:
        accent = mix(figure.colours.body, (236, 232, 220), 0.55)
    if accent is not None:
        _scarf(draw, figure, mix(accent, palette.ink, shade), ink, line)
    if figure.colours.bald:
        hair = skin
    _hair_behind_head(draw, figure, hair, ink, line)
    head_box = (cx - head_r * 0.82, head_y - head_r, cx + head_r * 0.82, head_y + head_r)
    if figure.back_view:
        draw.ellipse(head_box, fill=hair, outline=ink, width=line)
        if look.hair_style in ("braid", "ponytail") and not figure.colours.bald:
            _braid(draw, cx, head_y + head_r * 0.6, head_r, h, hair, ink, line)
        if look.hat:
            _hat(draw, figure, mix(body, ink, 0.3), ink, line)
        return
    draw.ellipse(head_box, fill=skin, outline=ink, width=line)
    if not figure.colours.bald:
        _hair_cap(draw, figure, hair, ink, line)
    paint_face(draw, figure, palette, skin=skin, hair=hair)
    if look.hair_style == "braid" and not figure.colours.bald:  # over one shoulder
        _braid(draw, cx + head_r * 0.95, head_y + head_r * 0.8, head_r * 0.8, h, hair, ink, line)
    if look.hat:
        _hat(draw, figure, mix(body, ink, 0.3), ink, line)


def paint_label(
    draw: ImageDraw.ImageDraw,
    figure: Figure,
    font: ImageFont.FreeTypeFont,
    palette: Palette,
    bounds: tuple[float, float, float, float],
) -> None:
    """A name tag above the head, or on the chest when the head is near the frame's top."""
    if not figure.label:
        return
    left, top, right, bottom = font.getbbox(figure.label)
    pad = max(2.0, (bottom - top) * 0.35)
    tag_w, tag_h = right - left + 2 * pad, bottom - top + 2 * pad
    y = figure.top - tag_h - figure.head_radius * 0.4
    if y < bounds[1] or figure.back_view:
        y = figure.top + figure.head_radius * 2.6
    x = min(max(figure.cx - tag_w / 2, bounds[0]), bounds[2] - tag_w)
    y = min(max(y, bounds[1]), bounds[3] - tag_h)
    fill = (*palette.caption_bg, 210)
    draw.rounded_rectangle(
        (x, y, x + tag_w, y + tag_h),
        radius=tag_h / 3,
        fill=fill,
        outline=(*figure.colours.body, 255),
        width=max(1, round(pad / 2.5)),
    )
    draw.text((x + pad - left, y + pad - top), figure.label, font=font, fill=palette.caption_fg)


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


def _arm_down(
    draw: ImageDraw.ImageDraw, figure: Figure, side: int, fill: Rgb, ink: Rgb, line: int
) -> None:
    h, cx, top = figure.height, figure.cx, figure.top
    shoulder_y, shoulder_w, hip_w = top + h * 0.17, h * 0.125, h * 0.09
    arm = [
        (cx + side * shoulder_w * 0.9, shoulder_y + h * 0.005),
        (cx + side * (shoulder_w + h * 0.035), shoulder_y + h * 0.05),
        (cx + side * (hip_w + h * 0.07), top + h * 0.47),
        (cx + side * (hip_w + h * 0.02), top + h * 0.47),
    ]
    draw.polygon(arm, fill=fill, outline=ink, width=line)


def _arm_forward(
    draw: ImageDraw.ImageDraw, figure: Figure, side: int, fill: Rgb, ink: Rgb, line: int
) -> None:
    """An arm bent at the elbow, its hand in front of the chest (holding something)."""
    h, cx, top = figure.height, figure.cx, figure.top
    shoulder = (cx + side * h * 0.11, top + h * 0.2)
    elbow = (cx + side * h * 0.14, top + h * 0.35)
    hand = figure.hands[0 if side < 0 else 1]
    thick = max(2, round(h * 0.05))
    points = [shoulder, elbow, hand]
    draw.line(points, fill=ink, width=thick + 2 * line, joint="curve")
    draw.line(points, fill=fill, width=thick, joint="curve")


def _coat_front(draw: ImageDraw.ImageDraw, figure: Figure, colour: Rgb, line: int) -> None:
    """Lapels, the opening and buttons: what makes a torso read as a coat."""
    h, cx, top = figure.height, figure.cx, figure.top
    shoulder_y = top + h * 0.17
    hem_y = top + h * (0.74 if figure.colours.long_garment else 0.52)
    for side in (-1, 1):
        draw.line(
            (cx + side * h * 0.045, shoulder_y - h * 0.01, cx, shoulder_y + h * 0.12),
            fill=colour,
            width=line * 2,
        )
    draw.line((cx, shoulder_y + h * 0.12, cx, hem_y), fill=colour, width=line)
    for step in range(3):
        y = shoulder_y + h * (0.16 + step * 0.08)
        _disc(draw, cx + h * 0.018, y, max(h * 0.008, 0.8), colour)


def _scarf(draw: ImageDraw.ImageDraw, figure: Figure, fill: Rgb, ink: Rgb, line: int) -> None:
    h, cx = figure.height, figure.cx
    shoulder_y = figure.top + h * 0.17
    draw.rounded_rectangle(
        (cx - h * 0.055, shoulder_y - h * 0.02, cx + h * 0.055, shoulder_y + h * 0.035),
        radius=h * 0.015,
        fill=fill,
        outline=ink,
        width=line,
    )
    side = -1.0 if figure.back_view else 1.0
    draw.polygon(
        [
            (cx + side * h * 0.01, shoulder_y + h * 0.03),
            (cx + side * h * 0.045, shoulder_y + h * 0.03),
            (cx + side * h * 0.035, shoulder_y + h * 0.14),
            (cx + side * h * 0.012, shoulder_y + h * 0.13),
        ],
        fill=fill,
        outline=ink,
        width=line,
    )


def _hair_behind_head(
    draw: ImageDraw.ImageDraw, figure: Figure, hair: Rgb, ink: Rgb, line: int
) -> None:
    """A bun on top or a ponytail behind, drawn before the head covers its root."""
    r, cx, head_y = figure.head_radius, figure.cx, figure.top + figure.head_radius
    if figure.colours.bald:
        return
    if figure.look.hair_style == "bun":
        _disc(draw, cx, head_y - r * 1.05, r * 0.38, hair, ink, line)
    elif figure.look.hair_style == "ponytail" and not figure.back_view:
        draw.ellipse(
            (cx + r * 0.5, head_y - r * 0.4, cx + r * 1.25, head_y + r * 0.9),
            fill=hair,
            outline=ink,
            width=line,
        )


def _hair_cap(draw: ImageDraw.ImageDraw, figure: Figure, hair: Rgb, ink: Rgb, line: int) -> None:
    r, cx, head_y = figure.head_radius, figure.cx, figure.top + figure.head_radius
    draw.chord(
        (cx - r * 0.88, head_y - r * 1.08, cx + r * 0.88, head_y + r * 0.55),
        180,
        360,
        fill=hair,
        outline=ink,
        width=line,
    )
    if figure.look.hair_style == "curly":
        for step in range(7):
            angle = math.pi * (1.0 + step / 6)
            x, y = cx + math.cos(angle) * r * 0.82, head_y - r * 0.1 + math.sin(angle) * r * 0.95
            _disc(draw, x, y, r * 0.24, hair, ink, line)
    elif figure.look.hair_style == "long":
        for side in (-1, 1):  # locks framing the face
            draw.rectangle(
                (cx + side * r * 0.88, head_y - r * 0.2, cx + side * r * 0.62, head_y + r * 0.95),
                fill=hair,
            )


def _braid(
    draw: ImageDraw.ImageDraw,
    x: float,
    y: float,
    head_r: float,
    height: float,
    hair: Rgb,
    ink: Rgb,
    line: int,
) -> None:
    step = head_r * 0.42
    for index in range(6):
        _disc(draw, x, y + index * step, head_r * (0.3 - index * 0.02), hair, ink, line)


def _hat(draw: ImageDraw.ImageDraw, figure: Figure, fill: Rgb, ink: Rgb, line: int) -> None:
    r, cx, top = figure.head_radius, figure.cx, figure.top
    draw.rounded_rectangle(
        (cx - r * 0.7, top - r * 0.35, cx + r * 0.7, top + r * 0.45),
        radius=r * 0.2,
        fill=fill,
        outline=ink,
        width=line,
    )
    draw.ellipse(
        (cx - r * 1.2, top + r * 0.3, cx + r * 1.2, top + r * 0.62),
        fill=fill,
        outline=ink,
        width=line,
    )
