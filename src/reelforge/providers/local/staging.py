"""Where the named sets and props go in a previz frame, and the record of what was drawn.

Simple layout rules a storyboard artist would use for blocking. Far sets stand on the horizon
(a building named with a cliff or hill stands on top of it); ground sets stand behind the
action, water craft on the water, wall pieces on the back wall, sky things above the horizon,
weather covers the picture, and a hand prop is in the nearest figure's hand (large in the
foreground of a close-up, where the hands are out of frame). Scale follows the shot: a wide
shot shows sets small and whole; closer shots keep them whole by pushing them further back.
Each thing goes where it hides least of the cast and of what is placed before it, near the
side its place prefers (the cast usually holds the centre).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

from reelforge.providers.local.figures import Figure
from reelforge.providers.local.palette import Rgb, colour_word
from reelforge.providers.local.props import Box
from reelforge.providers.local.vocabulary import Kind, Thing, spellings, words

__all__ = ["Drawn", "Placed", "cant_box", "place_things", "thing_colour"]

# Figure height (1.7 m) as a share of the picture at the subject plane, per framing.
_SUBJECT = MappingProxyType({
    "extreme_wide": 0.13, "wide": 0.26, "full": 0.5, "medium": 0.45, "two_shot": 0.45,
    "over_the_shoulder": 0.45, "close_up": 0.4, "extreme_close_up": 0.35,
})  # fmt: skip
# How far down the ground, between horizon and frame bottom, near sets stand.
_DEPTH = MappingProxyType({"extreme_wide": 0.4, "wide": 0.45, "full": 0.25})
# Height of a far set (of average size) as a share of the picture.
_FAR = MappingProxyType({"extreme_wide": 0.32, "wide": 0.42, "full": 0.45})
_PERCHES = frozenset({"cliff", "hill"})
_LIFT = MappingProxyType({"window": 0.9, "clock": 1.5, "mirror": 0.9, "painting": 1.1})
# The side each place prefers, as a share of the width (the cast usually holds the centre).
_SLOTS = MappingProxyType({"background": 0.78, "ground": 0.16, "water": 0.75, "wall": 0.25,
                           "sky": 0.3})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Placed:
    """A thing with its box in the picture (pixels, x0 y0 x1 y1) and an optional colour."""

    thing: Thing
    box: Box
    colour: Rgb | None = None


@dataclass(frozen=True, slots=True)
class Drawn:
    """One line of the layout record: what was drawn and where, and how much of it shows
    (its share of its own pixels left in frame and uncovered by what was drawn later)."""

    name: str
    kind: Kind
    box: tuple[int, int, int, int]
    visible: float

    def as_record(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "box": list(self.box),
                "visible": round(self.visible, 3)}  # fmt: skip


def thing_colour(thing: Thing, texts: Sequence[str]) -> Rgb | None:
    """The colour a text gives the thing by a colour word just before it ("a small green
    boat"), or None."""
    names = spellings(thing)
    for text in texts:
        tokens = words(text)
        for index, token in enumerate(tokens):
            if token in names:
                for before in tokens[max(0, index - 2) : index]:
                    if (found := colour_word(before)) is not None:
                        return found
    return None


def place_things(
    things: Sequence[tuple[Thing, Rgb | None]],
    framing: str,
    width: int,
    height: int,
    horizon: float,
    figures: Sequence[Figure],
) -> list[Placed]:
    """Boxes for ``things`` in drawing order (a perch before what stands on it)."""
    ppm = height * _SUBJECT[framing] / 1.7
    near = framing in _DEPTH
    ground = max(0.25 * height, min(horizon + 0.02 * height, 0.9 * height))
    names = {thing.name for thing, _ in things}
    perched = bool(names & _PERCHES and names & _BUILDINGS)
    stage = _Stage(width, figures)
    perch_box: Box | None = None
    placed: list[Placed] = []
    for thing, colour in sorted(things, key=lambda pair: pair[0].name not in _PERCHES):
        if thing.place == "overlay":
            box: Box = (0.0, 0.0, float(width), float(height))
        elif thing.place == "background":
            share = _FAR.get(framing, 0.5) * min(1.3, max(0.5, thing.metres / 30))
            room = ground - 0.14 * height  # clear of the frame's top and its tags
            if perch_box is not None and thing.name in _BUILDINGS:
                base = perch_box[1] + (perch_box[3] - perch_box[1]) * 0.04
                h = min(share * height * 0.8, base - 0.04 * height)
                cx = perch_box[0] + (perch_box[2] - perch_box[0]) * 0.3
                box = _fit((cx - h * thing.aspect / 2, base - h, cx + h * thing.aspect / 2, base),
                           width, 0.9)  # fmt: skip
            else:
                tall = min(share * height, room * (0.45 if perched else 1.0))
                box = stage.stand(thing, ground, tall, _SLOTS[thing.place] if figures else 0.6)
                if thing.name in _PERCHES:
                    perch_box = box
        elif thing.place in ("ground", "water", "wall"):
            depth = _DEPTH.get(framing, 0.12) + (0.1 if thing.place == "water" else 0.0)
            base = ground if thing.place == "wall" else ground + (height - ground) * depth
            scale = ppm if near else ppm * 0.55
            base -= _LIFT.get(thing.name, 0.0) * scale
            h = min(thing.metres * scale, base - 0.04 * height)
            if thing.name == "pier" and figures and near:
                box = _under(thing, figures, width, height, h)
            else:
                first = _SLOTS[thing.place] if figures else 0.5
                box = stage.stand(thing, base, h, first, widest=0.45)
        elif thing.shape == "stars":  # scattered over the whole sky
            box = (0.0, 0.0, float(width), max(horizon, 0.2 * height) * 0.9)
        elif thing.place == "sky":
            top = (0.22 if "storm" in names else 0.04) * height  # under a storm's clouds
            bottom = max(horizon - 0.06 * height, top + 0.18 * height)
            h = min(height * (0.3 if thing.name == "lightning" else 0.13), bottom - top)
            box = stage.stand(thing, top + h, h, _SLOTS["sky"], widest=0.4)
        else:
            close = framing in ("close_up", "extreme_close_up", "over_the_shoulder")
            box = _held(thing, stage, figures, width, height, close=close)
        if thing.place != "overlay" and thing.shape != "stars":  # those veil, not hide
            stage.taken.append(box)
        placed.append(Placed(thing, box, colour))
    return placed


_BUILDINGS = frozenset({"lighthouse", "castle", "tower", "church", "house", "barn", "windmill"})


class _Stage:
    """The frame's floor plan: where the cast stands and what is placed so far, so each new
    thing goes where it hides least, near its preferred side; where every spot hides
    something, it stands smaller (further off) rather than on top of it."""

    def __init__(self, width: int, figures: Sequence[Figure]) -> None:
        self.width = width
        self.taken: list[Box] = []
        self.heads: list[Box] = [
            (f.cx - f.height * 0.075, f.top, f.cx + f.height * 0.075, f.top + f.height * 0.17)
            for f in figures
        ]
        self.bodies: list[Box] = [
            (f.cx - f.height * 0.19, f.top + f.height * 0.15, f.cx + f.height * 0.19, f.feet)
            for f in figures
        ]

    def stand(
        self,
        thing: Thing,
        base: float,
        h: float,
        prefer: float,
        *,
        widest: float = 0.9,
        in_front: bool = False,
    ) -> Box:
        """A box for ``thing`` standing on ``base``; ``in_front`` things (a close-up's
        insert) may cover the body, not the face."""
        cast = self.heads if in_front else [*self.heads, *self.bodies]
        best: tuple[float, Box] | None = None
        for scale in (1.0, 0.75, 0.55):
            tall = max(h * scale, 4.0)
            for step in range(25):
                u = 0.04 + step * 0.0383
                half = tall * thing.aspect / 2
                box = _fit((u * self.width - half, base - tall, u * self.width + half, base),
                           self.width, widest)  # fmt: skip
                hides = 2.0 * sum(_overlap(box, other) for other in cast) + sum(
                    max(_overlap(box, other), _overlap(other, box)) for other in self.taken
                )
                score = hides + 0.25 * abs(u - prefer) + 0.3 * (1 - scale)
                if best is None or score < best[0] - 1e-9:
                    best = (score, box)
            assert best is not None
            if best[0] < 0.4:
                break
        assert best is not None
        return best[1]


def _overlap(box: Box, other: Box) -> float:
    """The share of ``box`` that ``other`` covers."""
    w = max(0.0, min(box[2], other[2]) - max(box[0], other[0]))
    h = max(0.0, min(box[3], other[3]) - max(box[1], other[1]))
    return w * h / max((box[2] - box[0]) * (box[3] - box[1]), 1e-6)


def _under(thing: Thing, figures: Sequence[Figure], width: int, height: int, h: float) -> Box:
    """A pier under the cast's feet, reaching out from their side of the frame."""
    feet = min(max(f.feet for f in figures), height * 0.97)
    cx = sum(f.cx for f in figures) / len(figures)
    h = max(h, height * 0.08)
    w = min(width * 0.6, h * thing.aspect)
    top = min(feet - h * 0.2, height * 0.99 - h)
    return _fit((cx - w / 2, top, cx + w / 2, top + h), width, 0.6, height)


def _held(
    thing: Thing,
    stage: _Stage,
    figures: Sequence[Figure],
    width: int,
    height: int,
    *,
    close: bool,
) -> Box:
    """In the first free hand in frame; in a close shot whose hands are taken or out of
    frame, an insert: large in the foreground, clear of the face."""
    for figure in figures:
        if figure.back_view:
            continue
        left, right = figure.hands
        if figure.pose == "holding":  # both hands together, in front
            hand_x, hand_y = (left[0] + right[0]) / 2, left[1]
        else:
            hand_x, hand_y = right if figure.cx < width / 2 else left
        if hand_y < height * 0.88 and 0 < hand_x < width:
            h = max(height * 0.07, thing.metres / 1.7 * figure.height * 1.4)
            if figure.pose == "holding":
                h = min(h, height * 0.45, width * 0.5 / thing.aspect)
            w = h * thing.aspect
            box = (hand_x - w / 2, hand_y - h * 0.3, hand_x + w / 2, hand_y + h * 0.7)
            held = figure.pose == "holding"
            if held or not close or all(_overlap(box, other) < 0.3 for other in stage.taken):
                return _fit(box, width, 0.5 if held else 0.4, height)
    h = height * (0.42 if close and figures else 0.24)
    h = min(h, width * 0.36 / thing.aspect)
    face = figures[0].cx / width if figures else 0.5
    prefer = 0.82 if face < 0.5 else 0.18
    spot = stage.stand(thing, height * 0.97, h, prefer, widest=0.4, in_front=True)
    return _fit(spot, width, 0.4, height)


def _fit(box: Box, width: int, widest: float, height: float | None = None) -> Box:
    """``box`` shrunk to at most ``widest`` of the width (about its bottom centre) and slid
    inside the frame's sides (and bottom, given ``height``)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if w > width * widest:
        shrink = width * widest / w
        cx = (x0 + x1) / 2
        w, h = w * shrink, h * shrink
        x0, x1, y0 = cx - w / 2, cx + w / 2, y1 - h
    shift = max(0.0, width * 0.01 - x0) - max(0.0, x1 - width * 0.99)
    x0, x1 = x0 + shift, x1 + shift
    if height is not None and y1 > height * 0.99:
        y0, y1 = y0 - (y1 - height * 0.99), height * 0.99
    return x0, max(y0, 0.0), x1, y1


def cant_box(box: Box, degrees: float, zoom: float, width: int, height: int) -> Box:
    """Where ``box`` lands after a dutch cant (zoom about the centre, then rotate counter-
    clockwise by ``degrees``): the bounding box of its turned corners."""
    cx, cy = width / 2, height / 2
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    xs, ys = [], []
    for x, y in ((box[0], box[1]), (box[2], box[1]), (box[0], box[3]), (box[2], box[3])):
        dx, dy = (x - cx) * zoom, (y - cy) * zoom
        xs.append(cx + dx * cos + dy * sin)
        ys.append(cy - dx * sin + dy * cos)
    return min(xs), min(ys), max(xs), max(ys)
