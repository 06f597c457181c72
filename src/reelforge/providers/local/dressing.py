"""Dressing a previz frame with the sets and props its words name, and keeping the record.

The frame is drawn in three passes around the figures: the sets behind the cast, then (after
the figures) the props in their hands, then the weather over everything. Each thing's own
pixels (its mask) are kept and trimmed by whatever is drawn over it later, so the layout record
says honestly how much of each thing shows.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageChops

from reelforge.providers.local.figures import Figure
from reelforge.providers.local.palette import Palette
from reelforge.providers.local.props import Box, paint_thing
from reelforge.providers.local.staging import Drawn, Placed, cant_box, place_things, thing_colour
from reelforge.providers.local.vocabulary import things_named

__all__ = ["Dressing", "Layout", "Seen"]

_BACK = ("sky", "background", "water", "wall", "ground")


@dataclass(frozen=True, slots=True)
class Seen:
    """A figure as drawn: who, which way they face, their body and head boxes (pixels, x0 y0
    x1 y1, may reach past the frame: a close shot crops the body) and their expression."""

    name: str
    facing: Literal["front", "back"]
    box: tuple[int, int, int, int]
    face: tuple[int, int, int, int]
    expression: str

    def as_record(self) -> dict[str, object]:
        return {"name": self.name, "facing": self.facing, "box": list(self.box),
                "face": list(self.face), "expression": self.expression}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Layout:
    """What a previz frame drew, for tests and pages: the picture area (x0 y0 x1 y1), each
    named thing that was drawn, the figures, the one the shot is about (``subject``), and the
    text that goes beside the picture, never into it (``heading``, ``caption``)."""

    picture: tuple[int, int, int, int]
    things: tuple[Drawn, ...]
    figures: tuple[Seen, ...] = field(default_factory=tuple)
    subject: str = ""
    heading: str = ""
    caption: str = ""

    @property
    def legend(self) -> str:
        return ", ".join(drawn.name for drawn in self.things)

    @property
    def subject_face(self) -> tuple[int, int, int, int] | None:
        """The head box of the figure the shot is about, if it faces the camera."""
        return next((s.face for s in self.figures if s.name == self.subject), None)

    def as_record(self) -> dict[str, object]:
        return {
            "picture": list(self.picture),
            "things": [t.as_record() for t in self.things],
            "figures": [s.as_record() for s in self.figures],
            "subject": self.subject,
            "heading": self.heading,
            "caption": self.caption,
        }


class Dressing:
    """The named things of one frame, placed, painted pass by pass, then recorded."""

    def __init__(
        self,
        texts: Sequence[str],
        framing: str,
        size: tuple[int, int],
        horizon: float,
        figures: Sequence[Figure],
        seed: int,
        set_texts: Sequence[str] | None = None,
        set_key: str | None = None,
    ) -> None:
        """``set_texts`` (the whole scene's words) name the set, placed the same for every
        shot of the scene and painted from ``set_key``; the frame's own ``texts`` name what
        is in hand and the weather. Without them the frame's texts name everything."""
        width, height = size
        if set_texts is None:
            named = [(thing, thing_colour(thing, texts)) for thing in things_named(*texts)]
            self._placed = place_things(named, framing, width, height, horizon, figures)
        else:
            scene = [(t, thing_colour(t, set_texts)) for t in things_named(*set_texts)
                     if t.place not in ("held", "overlay")]  # fmt: skip
            own = [(t, thing_colour(t, texts)) for t in things_named(*texts)
                   if t.place in ("held", "overlay")]  # fmt: skip
            self._placed = [
                *place_things(scene, "wide", width, height, horizon, ()),
                *place_things(own, framing, width, height, horizon, figures),
            ]
        self._size = size
        # Its own random stream, so naming a prop changes nothing else in the frame.
        self._rng = random.Random(f"{set_key or seed}:dressing")
        self._masks: list[npt.NDArray[np.bool_]] = []
        self._full: list[int] = []

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(placed.thing.name for placed in self._placed)

    def paint_back(self, image: Image.Image, palette: Palette) -> None:
        """The sets behind the cast, far to near."""
        for place in _BACK:
            self._paint(image, palette, [p for p in self._placed if p.thing.place == place])

    def paint_front(self, image: Image.Image, palette: Palette, before: Image.Image) -> None:
        """The hand props, after the figures; ``before`` is the picture before the figures,
        to learn what they covered."""
        if self._masks:
            changed = ImageChops.difference(before, image).convert("L")
            self._cover(np.asarray(changed) > 0)
        self._paint(image, palette, [p for p in self._placed if p.thing.place == "held"])

    def paint_weather(self, image: Image.Image, palette: Palette) -> None:
        """Weather over the picture; it veils what is under it rather than hiding it."""
        overlay = [p for p in self._placed if p.thing.place == "overlay"]
        self._paint(image, palette, overlay, covers=False)

    def layout(self, picture_height: int, cant: float = 0.0, zoom: float = 1.0) -> Layout:
        """The record, once every pass is painted (``cant``/``zoom``: a dutch angle's turn)."""
        width, height = self._size
        order = [p for place in (*_BACK, "held", "overlay") for p in self._placed
                 if p.thing.place == place]  # fmt: skip
        drawn = []
        for placed, mask, full in zip(order, self._masks, self._full, strict=True):
            box = placed.box if not cant else cant_box(placed.box, cant, zoom, width, height)
            share = float(mask.sum()) / full if full else 0.0
            drawn.append(
                Drawn(
                    placed.thing.name,
                    placed.thing.kind,
                    (round(box[0]), round(box[1]), round(box[2]), round(box[3])),
                    _in_frame(box, width, height) * share,
                )
            )
        return Layout((0, 0, width, picture_height), tuple(drawn))

    def _paint(
        self, image: Image.Image, palette: Palette, things: list[Placed], *, covers: bool = True
    ) -> None:
        for placed in things:
            mask = paint_thing(
                image, placed.thing.shape, placed.box, palette, self._rng, colour=placed.colour
            )
            if covers:
                self._cover(mask)
            self._masks.append(mask.copy())
            self._full.append(int(mask.sum()))

    def _cover(self, covered: npt.NDArray[np.bool_]) -> None:
        for mask in self._masks:
            mask &= ~covered


def _in_frame(box: Box, width: int, height: int) -> float:
    x0, y0, x1, y1 = box
    area = max(x1 - x0, 1e-6) * max(y1 - y0, 1e-6)
    inside = max(0.0, min(x1, width) - max(x0, 0)) * max(0.0, min(y1, height) - max(y0, 0))
    return min(1.0, inside / area)
