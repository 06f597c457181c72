"""Characters' reference photos in previz frames: a cut-out of the face and upper body.

A character whose reference image has a face (dlib's HOG detector, :mod:`reelforge.imaging.faces`;
no model files needed) is drawn as that face and upper body, cut out with a soft bust-shaped
mask, scaled so the face fills the figure's head and placed where the figure stands; its drawn
body below the chest keeps the signature colours. A figure seen from behind shows no face, and a
reference without a detectable face leaves the drawn figure as it is.

A scene's :class:`~reelforge.providers.briefs.CharacterBrief` says which of the request's
references is the character's (``reference``, an index), so cut-outs go to the right figure
whatever order the references came in.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps, UnidentifiedImageError

from reelforge.imaging.faces import FaceAnalyzer, FaceBox
from reelforge.providers.base import InputImage
from reelforge.providers.briefs import SceneBrief
from reelforge.providers.local.figures import Figure

__all__ = ["Cutout", "ReferenceCast", "cutout_of", "find_face", "paste_bust"]

# The bust around a face box of side s, in units of s from the face's centre: a portrait crop
# from above the hair to the upper chest.
_ABOVE, _BELOW, _SIDE = 1.3, 2.1, 1.2
# The cut-out's face side over the figure's head radius: the face a little larger than the
# drawn head, so that a medium shot's face stays large enough for identity checks.
_FACE_TO_HEAD = 1.9
# Faces drawn smaller than this (px) are not pasted: nothing recognisable survives.
_MIN_FACE_PX = 6


@dataclass(frozen=True, slots=True)
class Cutout:
    """A bust cut from a reference photo: RGBA (alpha feathered), and where its face is."""

    image: Image.Image
    face_centre: tuple[float, float]
    face_side: float

    def placed(self, face_side: float) -> tuple[Image.Image, tuple[float, float]]:
        """The bust scaled to a face of ``face_side`` px, and its face centre in it."""
        scale = face_side / self.face_side
        size = (max(1, round(self.image.width * scale)), max(1, round(self.image.height * scale)))
        scaled = self.image.resize(size, Image.Resampling.LANCZOS)
        return scaled, (self.face_centre[0] * scale, self.face_centre[1] * scale)

    def turned(self, squeeze: float) -> Cutout:
        """The bust narrowed to ``squeeze`` of its width: a face turned part way (a
        three-quarter view); never mirrored, so it stays the photo's own face."""
        width = max(1, round(self.image.width * squeeze))
        return Cutout(
            self.image.resize((width, self.image.height), Image.Resampling.LANCZOS),
            (self.face_centre[0] * squeeze, self.face_centre[1]),
            self.face_side,
        )


@functools.cache
def _detector() -> FaceAnalyzer:
    # One per render process: dlib's HOG detector is built on first use and then reused.
    return FaceAnalyzer(detect_max_side=640)


def find_face(image: Image.Image) -> FaceBox | None:
    """The largest face in ``image``, None when there is none."""
    faces = _detector().detect(image)
    return faces[0].box if faces else None


def cutout_of(reference: InputImage) -> Cutout | None:
    """The bust of the reference's largest face; None for no face or an undecodable image."""
    if reference.data is None:
        return None
    try:
        with Image.open(io.BytesIO(reference.data)) as opened:
            photo = ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    box = find_face(photo)
    if box is None:
        return None
    side = float(max(box.width, box.height))
    cx, cy = (box.left + box.right) / 2, (box.top + box.bottom) / 2
    left, top = round(cx - _SIDE * side), round(cy - _ABOVE * side)
    right, bottom = round(cx + _SIDE * side), round(cy + _BELOW * side)
    crop = photo.crop((left, top, right, bottom)).convert("RGBA")
    # Outside the photo a crop is black: the mask leaves it out.
    inside = Image.new("L", photo.size, 255).crop((left, top, right, bottom))
    mask = _bust_mask(crop.size, (cx - left, cy - top), side)
    alpha = np.minimum(np.asarray(mask), np.asarray(inside))
    crop.putalpha(Image.fromarray(alpha))
    return Cutout(crop, (cx - left, cy - top), side)


def _bust_mask(size: tuple[int, int], face: tuple[float, float], side: float) -> Image.Image:
    """Head, neck and shoulders, feathered, fading out towards the chest."""
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    fx, fy = face
    draw.ellipse((fx - 0.78 * side, fy - 1.12 * side, fx + 0.78 * side, fy + 0.78 * side), 255)
    draw.rectangle((fx - 0.36 * side, fy, fx + 0.36 * side, fy + 1.5 * side), 255)
    shoulders_top = fy + 1.05 * side
    draw.ellipse((fx - 1.1 * side, shoulders_top, fx + 1.1 * side, shoulders_top + 2.6 * side), 255)
    mask = mask.filter(ImageFilter.GaussianBlur(max(1.0, side * 0.06)))
    fade_from = fy + 1.5 * side
    rows = np.arange(size[1], dtype=np.float32)
    fade = np.clip(1 - (rows - fade_from) / max(1.0, size[1] - fade_from), 0, 1)
    faded = np.asarray(mask, np.float32) * fade[:, None]
    return Image.fromarray(faded.astype(np.uint8))


class ReferenceCast:
    """The cut-outs of one frame's characters, by name."""

    def __init__(self, by_name: Mapping[str, Cutout]) -> None:
        self._by_name = dict(by_name)

    @classmethod
    def of(cls, scene: SceneBrief | None, references: Sequence[InputImage]) -> ReferenceCast:
        """Each character of ``scene`` whose reference (by index) shows a face."""
        found: dict[str, Cutout] = {}
        made: dict[int, Cutout | None] = {}
        for character in scene.characters if scene is not None else ():
            index = character.reference
            if index is None or not 0 <= index < len(references):
                continue
            if index not in made:
                made[index] = cutout_of(references[index])
            cutout = made[index]
            if cutout is not None:
                found[character.name] = cutout
        return cls(found)

    @property
    def names(self) -> tuple[str, ...]:
        """The characters drawn from their references."""
        return tuple(self._by_name)

    def cutout(self, name: str) -> Cutout | None:
        return self._by_name.get(name)

    def paste(self, image: Image.Image, figure: Figure) -> None:
        """Put the figure's reference bust over its drawn head and shoulders (not from behind)."""
        cutout = self._by_name.get(figure.label)
        if cutout is None or figure.back_view:
            return
        # A figure in shade darkens its face too, within what keeps it recognisable.
        darken = min(0.3, figure.shade * 0.5)
        centre = (figure.cx, figure.top + figure.head_radius)
        paste_bust(image, cutout, centre, figure.head_radius, darken=darken)


def paste_bust(
    image: Image.Image,
    cutout: Cutout,
    head_centre: tuple[float, float],
    head_radius: float,
    *,
    darken: float = 0.0,
) -> None:
    """Composite ``cutout`` onto ``image`` (in place) with its face on ``head_centre``."""
    face_side = head_radius * _FACE_TO_HEAD
    if face_side < _MIN_FACE_PX:
        return
    bust, (fx, fy) = cutout.placed(face_side)
    if darken > 0:
        alpha = bust.getchannel("A")
        bust = ImageEnhance.Brightness(bust.convert("RGB")).enhance(1 - darken).convert("RGBA")
        bust.putalpha(alpha)
    x, y = round(head_centre[0] - fx), round(head_centre[1] - fy)
    image.paste(bust.convert("RGB"), (x, y), bust.getchannel("A"))
