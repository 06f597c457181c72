"""Camera moves for animatics: read from camera notes, turned into per-frame crop boxes.

A move is a path of the virtual camera over a still key frame. A *pose* is the crop window as
its centre and zoom, in fractions of the key frame (``zoom`` 2 shows half the width). Poses are
floats all the way down so the renderer can resample with sub-pixel precision; rounding a crop to
whole pixels is what makes ffmpeg's ``zoompan`` shake.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from reelforge.errors import InvalidInput

__all__ = [
    "PUSH_ZOOM_GAIN",
    "TRAVEL",
    "CameraMove",
    "CameraPose",
    "crop_boxes",
    "ease",
    "move_poses",
    "parse_camera_move",
]

# Amplitudes at motion_strength 1.0: a push-in ends 30% tighter; a pan or tilt slides the
# window by 24% of the frame. The default strength (0.5) halves both: a storyboard-review pace.
PUSH_ZOOM_GAIN = 0.30
TRAVEL = 0.24


class CameraMove(StrEnum):
    """The moves the local studio can perform on a still."""

    STATIC = "static"
    PUSH_IN = "push_in"
    PULL_OUT = "pull_out"
    PAN_LEFT = "pan_left"
    PAN_RIGHT = "pan_right"
    TILT_UP = "tilt_up"
    TILT_DOWN = "tilt_down"


@dataclass(frozen=True, slots=True)
class CameraPose:
    """A crop window: centre (``cx``, ``cy``) in key-frame fractions and ``zoom`` >= 1."""

    cx: float
    cy: float
    zoom: float


# Phrases are matched as whole words on lower-cased notes; the earliest match in the text wins,
# so "push in, then pan left" pushes in.
_PHRASES: tuple[tuple[str, CameraMove], ...] = (
    (
        r"static|locked[\s-]*(?:off|down)|lock[\s-]*off|fixed[\s-]*(?:camera|frame|shot)|tripod"
        r"|no[\s-]*(?:camera[\s-]*)?move(?:ment)?",
        CameraMove.STATIC,
    ),
    (
        r"push(?:es|ing)?[\s-]*in|dolly[\s-]*in|zoom(?:s|ing)?[\s-]*in|creep(?:s|ing)?[\s-]*in"
        r"|move[\s-]*in|track(?:s|ing)?[\s-]*in|dolly forward",
        CameraMove.PUSH_IN,
    ),
    (
        r"pull(?:s|ing)?[\s-]*(?:out|back)|dolly[\s-]*(?:out|back)|zoom(?:s|ing)?[\s-]*out"
        r"|pull[\s-]*away|track(?:s|ing)?[\s-]*(?:out|back)|reveal",
        CameraMove.PULL_OUT,
    ),
    (
        r"(?:pan|truck|track|whip[\s-]*pan)(?:s|ning|ing)?[\s-]*(?:to[\s-]*the[\s-]*)?left",
        CameraMove.PAN_LEFT,
    ),
    (
        r"(?:pan|truck|track|whip[\s-]*pan)(?:s|ning|ing)?[\s-]*(?:to[\s-]*the[\s-]*)?right",
        CameraMove.PAN_RIGHT,
    ),
    (r"(?:tilt|crane|pedestal|boom)(?:s|ing)?[\s-]*up", CameraMove.TILT_UP),
    (r"(?:tilt|crane|pedestal|boom)(?:s|ing)?[\s-]*down", CameraMove.TILT_DOWN),
    (r"\bdolly\b|\bzoom\b|\bpush\b", CameraMove.PUSH_IN),
    (r"\bpan\b", CameraMove.PAN_RIGHT),
    (r"\btilt\b", CameraMove.TILT_UP),
)
_PATTERNS = tuple((re.compile(rf"(?<![a-z])(?:{p})(?![a-z])"), m) for p, m in _PHRASES)


def parse_camera_move(notes: str) -> CameraMove:
    """The move named in free-text camera notes (``"slow push-in on Mara"`` → push-in).

    A move's own value (``"pan_left"``) is accepted as is. Notes that name no move fall back
    to a gentle push-in, the storyboard artist's default for "bring this frame to life".
    """
    text = notes.strip().lower()
    try:
        return CameraMove(text)
    except ValueError:
        pass
    best: tuple[int, CameraMove] | None = None
    for pattern, move in _PATTERNS:
        found = pattern.search(text)
        if found is not None and (best is None or found.start() < best[0]):
            best = (found.start(), move)
    return CameraMove.PUSH_IN if best is None else best[1]


def move_poses(move: CameraMove, strength: float) -> tuple[CameraPose, CameraPose]:
    """The start and end pose of ``move`` at ``strength`` (0 = no motion, 1 = full amplitude)."""
    if not 0.0 <= strength <= 1.0 or math.isnan(strength):
        raise InvalidInput(
            f"motion_strength must be between 0 and 1; got {strength}.",
            details={"motion_strength": strength},
        )
    centre = CameraPose(0.5, 0.5, 1.0)
    if move is CameraMove.STATIC or strength == 0.0:
        return centre, centre
    gain = 1.0 + PUSH_ZOOM_GAIN * strength
    if move is CameraMove.PUSH_IN:
        return centre, CameraPose(0.5, 0.5, gain)
    if move is CameraMove.PULL_OUT:
        return CameraPose(0.5, 0.5, gain), centre
    travel = TRAVEL * strength
    # A pan needs room to slide: zoom in just enough that the window spans the travel.
    zoom = 1.0 / (1.0 - travel)
    low, high = 0.5 - travel / 2, 0.5 + travel / 2
    if move is CameraMove.PAN_LEFT:
        return CameraPose(high, 0.5, zoom), CameraPose(low, 0.5, zoom)
    if move is CameraMove.PAN_RIGHT:
        return CameraPose(low, 0.5, zoom), CameraPose(high, 0.5, zoom)
    if move is CameraMove.TILT_UP:
        return CameraPose(0.5, high, zoom), CameraPose(0.5, low, zoom)
    return CameraPose(0.5, low, zoom), CameraPose(0.5, high, zoom)


def ease(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Smoothstep: zero velocity at both ends, so a move starts and settles without a jolt."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def crop_boxes(move: CameraMove, frame_count: int, strength: float) -> npt.NDArray[np.float64]:
    """One float crop box ``(x0, y0, w, h)`` per frame, in fractions of the key frame.

    The centre and the zoom are interpolated with the same eased parameter, so a push-in is a
    straight, smooth approach and a pan keeps a constant framing.
    """
    if frame_count < 1:
        raise InvalidInput("An animatic needs at least one frame.", details={"frames": frame_count})
    start, end = move_poses(move, strength)
    t = np.arange(frame_count, dtype=np.float64) / max(frame_count - 1, 1)
    e = ease(t)
    zoom = start.zoom + (end.zoom - start.zoom) * e
    cx = start.cx + (end.cx - start.cx) * e
    cy = start.cy + (end.cy - start.cy) * e
    size = 1.0 / zoom
    return np.stack([cx - size / 2, cy - size / 2, size, size], axis=1)
