"""Dressing a previz frame with the sets and props its words name, and keeping the record.

The frame is drawn in three passes around the figures: the sets behind the cast, then (after
the figures) the props in their hands, then the weather over everything. Each thing's own
pixels (its mask) are kept and trimmed by whatever is drawn over it later, so the layout record
says honestly how much of each thing shows.
"""

from __future__ import annotations

import random
import re
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
from reelforge.providers.local.vocabulary import Thing, things_named

__all__ = ["LAYOUT_CHUNK", "Dressing", "Layout", "Seen"]

# The PNG text chunk a previz still carries its layout record in: an animatic made from the
# still later keeps its subject in frame, a contact sheet sets its caption beside it.
LAYOUT_CHUNK = "reelforge-layout"

_BACK = ("sky", "background", "water", "wall", "ground")
_FAR_PLACES = frozenset({"sky", "background", "water"})


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

    @classmethod
    def from_record(cls, record: object) -> Layout | None:
        """The layout a previz still carries (see :meth:`as_record`); None for anything else."""
        if not isinstance(record, dict):
            return None
        try:
            return cls(
                picture=_box(record["picture"]),
                things=tuple(
                    Drawn(str(t["name"]), t["kind"], _box(t["box"]), float(t["visible"]))
                    for t in record.get("things", ())
                ),
                figures=tuple(
                    Seen(
                        str(f["name"]),
                        "back" if f["facing"] == "back" else "front",
                        _box(f["box"]),
                        _box(f["face"]),
                        str(f["expression"]),
                    )
                    for f in record.get("figures", ())
                ),
                subject=str(record.get("subject", "")),
                heading=str(record.get("heading", "")),
                caption=str(record.get("caption", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None

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
            scene = _scene_set(set_texts)
            mine = things_named(*texts)
            own_set = [(t, thing_colour(t, texts)) for t in mine
                       if t.place in _BACK and t not in scene]  # fmt: skip
            own = [(t, thing_colour(t, texts)) for t in mine if t.place in ("held", "overlay")]
            self._placed = [
                *place_things([(t, thing_colour(t, set_texts)) for t in scene], "wide", width,
                              height, horizon, ()),
                *place_things(own_set, "wide", width, height, horizon, ()),
                *place_things(own, framing, width, height, horizon, figures),
            ]  # fmt: skip
        self._size = size
        # Its own random stream, so naming a prop changes nothing else in the frame.
        self._rng = random.Random(f"{set_key or seed}:dressing")
        self._masks: list[npt.NDArray[np.bool_]] = []
        self._full: list[int] = []

    @property
    def placed(self) -> tuple[Placed, ...]:
        return tuple(self._placed)

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


def _scene_set(set_texts: Sequence[str]) -> list[Thing]:
    """The set every shot of a scene shares: what stands far off (background, water, sky),
    and the near pieces (ground, wall) that more than one sentence of the scene names; a near
    piece named once (the stairs inside, in a scene that starts outside) stays its shot's."""
    sentences = [s for text in set_texts for s in re.split(r"(?<=[.!?;])\s+", text) if s]
    counts: dict[Thing, int] = {}
    for sentence in sentences:
        for thing in things_named(sentence):
            counts[thing] = counts.get(thing, 0) + 1
    return [
        thing
        for thing in things_named(*set_texts)
        if thing.place in _FAR_PLACES or (thing.place in _BACK and counts.get(thing, 0) > 1)
    ]


def _box(value: object) -> tuple[int, int, int, int]:
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise ValueError("a box is four numbers")
    x0, y0, x1, y1 = (int(v) for v in value)
    return x0, y0, x1, y1


def _in_frame(box: Box, width: int, height: int) -> float:
    x0, y0, x1, y1 = box
    area = max(x1 - x0, 1e-6) * max(y1 - y0, 1e-6)
    inside = max(0.0, min(x1, width) - max(x0, 0)) * max(0.0, min(y1, height) - max(y0, 0))
    return min(1.0, inside / area)
