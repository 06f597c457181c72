"""One view of a character's 360° set: the figure turned for real.

The figure is a handful of solids (legs, feet, torso, arms, neck, head, nose, hair) placed in
3-D around a vertical axis, in a pose that is not symmetric (one hand on the hip), and seen
turned by the view's yaw: each solid's width is its cross-section's projected width, its place
moves with the turn, and the solids are painted far to near. So a profile is narrow with the
nose and feet pointing out, the back shows hair where the face was and the bent arm on the
other side, and no two of the eight views share a silhouette. The reference photo's face and
upper body (:mod:`.reference_figures`) show only in the front view, and narrowed in the two
front three-quarter views; turned further away the face is hidden.
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass
from types import MappingProxyType

from PIL import Image, ImageDraw

from reelforge.providers.base import InputImage
from reelforge.providers.briefs import SceneBrief
from reelforge.providers.local.captions import bundled_font
from reelforge.providers.local.palette import FigureColours, Rgb, figure_colours, mix, palette_for
from reelforge.providers.local.reference_figures import cutout_of, paste_bust

__all__ = ["VIEW_YAW", "TurnedView", "draw_view", "view_yaw"]

#: Each named view's turn, in degrees (0: facing the camera; 90: the figure's right side).
VIEW_YAW: MappingProxyType[str, float] = MappingProxyType({
    "front": 0.0, "front-right": 45.0, "right": 90.0, "back-right": 135.0, "back": 180.0,
    "back-left": 225.0, "left": 270.0, "front-left": 315.0,
})  # fmt: skip
_BACKDROP: Rgb = (232, 232, 226)
# Head radius over figure height: a little larger than the frames' figures, so a turnaround's
# front face is big enough to check.
_HEAD = 0.08


@dataclass(frozen=True, slots=True)
class _Solid:
    """A tapered vertical piece from (x1, y1, z1) to (x2, y2, z2), in figure heights (y down
    from the top of the head, z towards the camera in the front view), with cross-section
    half-widths ``a`` (across) and ``b`` (front to back) at each end."""

    name: str
    start: tuple[float, float, float]
    end: tuple[float, float, float]
    a: tuple[float, float]
    b: tuple[float, float]
    colour: Rgb
    round_ends: bool = True


@dataclass(frozen=True, slots=True)
class TurnedView:
    """A drawn view and what it shows."""

    image: Image.Image
    view: str
    yaw: float
    face: str  # "reference", "drawn" or "hidden"

    def record(self) -> dict[str, object]:
        return {"name": self.view, "yaw_degrees": self.yaw, "face": self.face}


def view_yaw(view: str) -> float:
    """The turn of a named view: ``"<degrees>"``, or read from its words (``front``,
    ``back-left``, ``three-quarter``, ``profile``, ...); a view that names no side is a
    front view."""
    key = view.strip().lower().replace(" ", "-").replace("_", "-")
    if key in VIEW_YAW:
        return VIEW_YAW[key]
    with contextlib.suppress(ValueError):
        return float(key.removesuffix("°").removesuffix("deg")) % 360
    words = set(re.findall(r"[a-z]+", key))
    back = bool(words & {"back", "rear", "behind"})
    side = 1 if "right" in words else -1 if "left" in words else 0
    if not side and words & {"profile", "side"}:
        side = 1
    if words & {"three", "quarter"} and not side:
        side = 1
    if back:
        return (180.0 - 45.0 * side) % 360
    if side and (words & {"front", "three", "quarter"}):
        return (45.0 * side) % 360
    return (90.0 * side) % 360


def draw_view(
    scene: SceneBrief, reference: InputImage | None, *, width: int, height: int
) -> TurnedView:
    """The view ``scene.view`` of the scene's first character, full length, on a plain
    backdrop with a name tag; the reference's face where the view shows the face."""
    yaw = view_yaw(scene.view)
    character = scene.characters[0] if scene.characters else None
    colours = figure_colours(
        character.name if character else "", character.visual_signature if character else ""
    )
    palette = palette_for("")
    image = Image.new("RGB", (width, height), _BACKDROP)
    draw = ImageDraw.Draw(image, "RGBA")
    band = max(14, round(height * 0.08))
    tall = (height - band) * 0.86
    feet_y = (height - band) * 0.94
    centre_x, top = width / 2, feet_y - tall
    floor = mix(_BACKDROP, palette.ink, 0.25)
    spread, lift = tall * 0.16, tall * 0.02
    draw.ellipse((centre_x - spread, feet_y - lift, centre_x + spread, feet_y + lift), fill=floor)
    theta = math.radians(yaw)
    skin = palette.skin
    for solid in _painted_order(_body(colours, skin), theta):
        _paint(draw, solid, theta, centre_x, top, tall, palette.ink)
    facing = math.cos(theta)
    cutout = cutout_of(reference) if reference is not None else None
    face = "hidden"
    head_x = centre_x + math.sin(theta) * 0.012 * tall
    head_y = top + _HEAD * tall
    if facing > 0.5 and cutout is not None:
        turned = cutout if facing > 0.95 else cutout.turned(max(0.55, facing))
        shift = math.sin(theta) * _HEAD * tall * 0.35
        paste_bust(image, turned, (head_x + shift, head_y), _HEAD * tall)
        face = "reference"
    elif facing > 0.2:
        _eyes(draw, theta, head_x, head_y, _HEAD * tall, palette.ink)
        face = "drawn"
    name = character.name if character else ""
    label = f"{name} · {scene.view.upper()} · {yaw:g}°" if name else f"{scene.view.upper()}"
    font = bundled_font(max(9, round(band * 0.5)))
    draw.rectangle((0, height - band, width, height), fill=palette.caption_bg)
    where = (round(width * 0.03), height - band + band * 0.22)
    draw.text(where, label, font=font, fill=palette.caption_fg)
    return TurnedView(image, scene.view, yaw, face)


def _body(colours: FigureColours, skin: Rgb) -> list[_Solid]:
    body, hair = colours.body, skin if colours.bald else colours.hair
    legs = mix(body, (0, 0, 0), 0.3)
    hem = 0.74 if colours.long_garment else 0.53
    solids = [
        _Solid("leg-r", (0.045, 0.5, 0.0), (0.04, 0.96, 0.0), (0.04, 0.028), (0.042, 0.03), legs),
        _Solid("leg-l", (-0.045, 0.5, 0.0), (-0.05, 0.96, 0.0), (0.04, 0.028), (0.042, 0.03), legs),
        _Solid("foot-r", (0.04, 0.975, -0.01), (0.045, 0.975, 0.06), (0.026, 0.026), (0.02, 0.02),
               mix(legs, (0, 0, 0), 0.3)),
        _Solid("foot-l", (-0.05, 0.975, -0.01), (-0.055, 0.975, 0.06), (0.026, 0.026),
               (0.02, 0.02), mix(legs, (0, 0, 0), 0.3)),
        _Solid("torso", (0.0, 0.17, 0.0), (0.0, hem, 0.0), (0.12, 0.1 if hem > 0.6 else 0.09),
               (0.06, 0.07), body, round_ends=False),
        # The right arm hangs; the left hand rests on the hip, its elbow out and back.
        _Solid("arm-r", (0.125, 0.19, 0.0), (0.15, 0.47, 0.01), (0.026, 0.022), (0.026, 0.022),
               body),
        _Solid("hand-r", (0.15, 0.47, 0.01), (0.152, 0.5, 0.012), (0.022, 0.02), (0.02, 0.018),
               skin),
        _Solid("upper-arm-l", (-0.125, 0.19, 0.0), (-0.21, 0.33, -0.05), (0.026, 0.024),
               (0.026, 0.024), body),
        _Solid("forearm-l", (-0.21, 0.33, -0.05), (-0.1, 0.44, 0.02), (0.024, 0.022),
               (0.024, 0.022), body),
        _Solid("neck", (0.0, 0.13, 0.0), (0.0, 0.19, 0.0), (0.024, 0.026), (0.024, 0.026), skin),
        _Solid("hair", (0.0, 0.0, -0.012), (0.0, 0.13, -0.02), (0.07, 0.07), (0.074, 0.06), hair),
        _Solid("head", (0.0, 0.01, 0.004), (0.0, 0.15, 0.004), (0.06, 0.06), (0.066, 0.066), skin),
        _Solid("nose", (0.0, 0.085, 0.066), (0.0, 0.1, 0.074), (0.01, 0.008), (0.01, 0.008), skin),
    ]  # fmt: skip
    if colours.accent is not None:
        scarf = _Solid(
            "scarf", (0.0, 0.17, 0.045), (0.03, 0.3, 0.06), (0.05, 0.02), (0.02, 0.012),
            colours.accent,
        )  # fmt: skip
        solids.append(scarf)
    return solids


def _depth(solid: _Solid, theta: float) -> float:
    x = (solid.start[0] + solid.end[0]) / 2
    z = (solid.start[2] + solid.end[2]) / 2
    return z * math.cos(theta) - x * math.sin(theta)


def _painted_order(solids: list[_Solid], theta: float) -> list[_Solid]:
    # The head's front half hides the hair behind it and the hair hides the back of the head:
    # depth by centre does that, as the hair's centre sits behind the head's.
    return sorted(solids, key=lambda solid: _depth(solid, theta))


def _paint(
    draw: ImageDraw.ImageDraw,
    solid: _Solid,
    theta: float,
    centre_x: float,
    top: float,
    tall: float,
    ink: Rgb,
) -> None:
    cos, sin = math.cos(theta), math.sin(theta)

    def screen(point: tuple[float, float, float]) -> tuple[float, float]:
        x, y, z = point
        return centre_x + (x * cos + z * sin) * tall, top + y * tall

    def half_width(index: int) -> float:
        return math.hypot(solid.a[index] * cos, solid.b[index] * sin) * tall

    (x1, y1), (x2, y2) = screen(solid.start), screen(solid.end)
    w1, w2 = half_width(0), half_width(1)
    line = max(1, round(tall / 200))
    if solid.name in ("head", "hair"):
        draw.ellipse(
            (min(x1, x2) - max(w1, w2), y1, max(x1, x2) + max(w1, w2), y2),
            fill=solid.colour,
            outline=ink,
            width=line,
        )
        return
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    nx, ny = (y2 - y1) / length, -(x2 - x1) / length
    polygon = [
        (x1 + nx * w1, y1 + ny * w1),
        (x2 + nx * w2, y2 + ny * w2),
        (x2 - nx * w2, y2 - ny * w2),
        (x1 - nx * w1, y1 - ny * w1),
    ]
    if solid.round_ends:
        for (x, y), w in (((x1, y1), w1), ((x2, y2), w2)):
            draw.ellipse((x - w, y - w, x + w, y + w), fill=solid.colour, outline=ink, width=line)
    draw.polygon(polygon, fill=solid.colour, outline=ink, width=line)


def _eyes(
    draw: ImageDraw.ImageDraw, theta: float, head_x: float, head_y: float, radius: float, ink: Rgb
) -> None:
    """Drawn eyes for a figure without a reference face: those turned towards the camera."""
    for side in (-1, 1):
        angle = theta + side * 0.45
        if math.cos(angle) <= 0.15:
            continue
        x = head_x + math.sin(angle) * radius * 0.8
        r = max(1.0, radius * 0.08)
        draw.ellipse((x - r, head_y - r, x + r, head_y + r), fill=ink)
