"""Previz figures: simple labelled standing characters, drawn at any scale.

A figure is a full body in frame coordinates; the frame crops it, so the same drawing serves a
wide shot (small, whole), a medium shot (cut at the waist) and a close-up (head and shoulders).
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import ImageDraw, ImageFont

from reelforge.providers.local.palette import FigureColours, Palette, Rgb, mix

__all__ = ["Figure", "paint_figure", "paint_label", "paint_shadow"]


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

    @property
    def feet(self) -> float:
        return self.top + self.height

    @property
    def head_radius(self) -> float:
        return self.height * 0.068


def paint_shadow(draw: ImageDraw.ImageDraw, figure: Figure, palette: Palette) -> None:
    """A contact shadow under the feet, which plants a small figure on the ground."""
    half_w, half_h = figure.height * 0.16, figure.height * 0.025
    colour = mix(palette.ground_far, palette.ink, 0.5)
    draw.ellipse(
        (figure.cx - half_w, figure.feet - half_h, figure.cx + half_w, figure.feet + half_h),
        fill=(*colour, 150),
    )


def paint_figure(draw: ImageDraw.ImageDraw, figure: Figure, palette: Palette) -> None:
    """A simple standing figure: legs, torso, arms, accent at the neck, head and hair."""
    h, cx, top = figure.height, figure.cx, figure.top
    shade = min(0.85, palette.shade + figure.shade)
    body = mix(figure.colours.body, palette.ink, shade)
    legs = mix(body, palette.ink, 0.35)
    skin = mix(palette.skin, palette.ink, shade)
    hair = mix(figure.colours.hair, palette.ink, shade)
    ink = palette.ink
    line = max(1, round(h / 160))
    shoulder_y, hip_y = top + h * 0.17, top + h * 0.5
    shoulder_w, hip_w = h * 0.125, h * 0.09
    hem_y = top + h * (0.74 if figure.colours.long_garment else 0.52)
    hem_w = hip_w * (1.35 if figure.colours.long_garment else 1.0)
    for side in (-1, 1):
        leg = [
            (cx + side * h * 0.012, hip_y),
            (cx + side * h * 0.075, hip_y),
            (cx + side * h * 0.06, top + h),
            (cx + side * h * 0.02, top + h),
        ]
        draw.polygon(leg, fill=legs, outline=ink, width=line)
        arm = [
            (cx + side * shoulder_w * 0.9, shoulder_y + h * 0.005),
            (cx + side * (shoulder_w + h * 0.035), shoulder_y + h * 0.05),
            (cx + side * (hip_w + h * 0.07), top + h * 0.47),
            (cx + side * (hip_w + h * 0.02), top + h * 0.47),
        ]
        draw.polygon(arm, fill=body, outline=ink, width=line)
        _disc(draw, cx + side * (hip_w + h * 0.045), top + h * 0.475, h * 0.024, skin, ink, line)
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
    head_r = figure.head_radius
    head_y = top + head_r
    draw.rectangle(
        (cx - h * 0.022, head_y + head_r * 0.7, cx + h * 0.022, shoulder_y + 1),
        fill=skin,
        outline=ink,
        width=line,
    )
    if figure.colours.accent is not None:
        accent = mix(figure.colours.accent, palette.ink, shade)
        draw.rounded_rectangle(
            (cx - h * 0.055, shoulder_y - h * 0.02, cx + h * 0.055, shoulder_y + h * 0.035),
            radius=h * 0.015,
            fill=accent,
            outline=ink,
            width=line,
        )
        draw.polygon(
            [
                (cx + h * 0.01, shoulder_y + h * 0.03),
                (cx + h * 0.045, shoulder_y + h * 0.03),
                (cx + h * 0.035, shoulder_y + h * 0.14),
                (cx + h * 0.012, shoulder_y + h * 0.13),
            ],
            fill=accent,
            outline=ink,
            width=line,
        )
    head_box = (cx - head_r * 0.82, head_y - head_r, cx + head_r * 0.82, head_y + head_r)
    if figure.back_view:
        draw.ellipse(head_box, fill=skin if figure.colours.bald else hair, outline=ink, width=line)
        return
    draw.ellipse(head_box, fill=skin, outline=ink, width=line)
    if not figure.colours.bald:
        draw.chord(
            (
                head_box[0] - head_r * 0.06,
                head_box[1] - head_r * 0.08,
                head_box[2] + head_r * 0.06,
                head_y + head_r * 0.55,
            ),
            180,
            360,
            fill=hair,
            outline=ink,
            width=line,
        )
    eye_y, eye_dx, eye_r = head_y + head_r * 0.05, head_r * 0.32, max(head_r * 0.07, 0.6)
    for side in (-1, 1):
        _disc(draw, cx + side * eye_dx, eye_y, eye_r, ink)


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
