"""How key frames become segments: a pure function, with its decisions written down.

The spec's rules, and what we decided where it is silent:

- frames are taken in scene, then shot order, and a segment never spans two scenes;
- two frames per segment by default, and a single frame when a scene has one shot (or an odd
  one left over);
- a request makes 1 to 3 segments. When the two-frame chunks would need more than three, each
  scene keeps at least one segment and the spare ones go to the scenes with the most frames per
  segment, so a segment may hold more than two frames (its first and last are the key frames,
  every frame's words are in its prompt). More than three *scenes* cannot fit without crossing
  a scene boundary: that request is refused (``INVALID_INPUT``) and must be split;
- a segment lasts what its frames' storyboard durations add up to (a frame without one counts
  ``duration_per_segment`` shared among its segment's frames); all are scaled by one factor so
  the total is at most 12 s, then each is held within 2-4 s. Three segments of at most 4 s
  each keep the total within 12 s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Protocol

from reelforge.errors import InvalidInput

__all__ = [
    "FRAMES_PER_SEGMENT",
    "MAX_SEGMENTS",
    "MAX_SEGMENT_S",
    "MAX_TOTAL_S",
    "MIN_SEGMENT_S",
    "Grouping",
    "SegmentPlan",
    "TimedFrame",
    "group_frames",
]

FRAMES_PER_SEGMENT = 2
MAX_SEGMENTS = 3
MIN_SEGMENT_S = 2.0
MAX_SEGMENT_S = 4.0
MAX_TOTAL_S = 12.0


class TimedFrame(Protocol):
    """What grouping needs to know of a frame."""

    @property
    def frame_id(self) -> str: ...
    @property
    def scene_number(self) -> int: ...
    @property
    def shot_order(self) -> int: ...
    @property
    def duration_seconds(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class SegmentPlan:
    """One segment to make: its frames, its length, and why it was grouped so."""

    segment_id: str
    scene_number: int
    shot_order: int
    frame_ids: tuple[str, ...]
    storyboard_s: float
    duration_s: float
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "segment_id": self.segment_id,
            "scene_number": self.scene_number,
            "shot_order": self.shot_order,
            "associated_frames": list(self.frame_ids),
            "storyboard_seconds": self.storyboard_s,
            "duration_seconds": self.duration_s,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Grouping:
    """Every segment of a request, in order, and the scaling applied to their lengths."""

    segments: tuple[SegmentPlan, ...]
    storyboard_total_s: float
    scale: float
    total_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "segments": [segment.to_json() for segment in self.segments],
            "storyboard_total_seconds": self.storyboard_total_s,
            "scale": self.scale,
            "total_seconds": self.total_s,
            "rules": {
                "frames_per_segment": FRAMES_PER_SEGMENT,
                "max_segments": MAX_SEGMENTS,
                "segment_seconds": [MIN_SEGMENT_S, MAX_SEGMENT_S],
                "max_total_seconds": MAX_TOTAL_S,
            },
        }


def group_frames(frames: Sequence[TimedFrame], *, duration_per_segment: float) -> Grouping:
    """Group ``frames`` into 1-3 segments; see the module docstring for the rules."""
    if not frames:
        raise InvalidInput("A segment request needs at least one frame.")
    ordered = sorted(frames, key=lambda f: (f.scene_number, f.shot_order))
    scenes = [list(shots) for _, shots in groupby(ordered, key=lambda f: f.scene_number)]
    if len(scenes) > MAX_SEGMENTS:
        numbers = ", ".join(str(scene[0].scene_number) for scene in scenes)
        raise InvalidInput(
            f"A request makes at most {MAX_SEGMENTS} segments and a segment never spans two "
            f"scenes, so it can hold at most {MAX_SEGMENTS} scenes; this one has {len(scenes)} "
            f"(scenes {numbers}). Split it into requests of at most {MAX_SEGMENTS} scenes.",
            details={"max_segments": MAX_SEGMENTS, "scenes": len(scenes)},
        )
    allotted = _allot(len(scene) for scene in scenes)
    chunks: list[tuple[list[TimedFrame], str]] = []
    for scene, count in zip(scenes, allotted, strict=True):
        preferred = -(-len(scene) // FRAMES_PER_SEGMENT)
        for part in _split(scene, count):
            chunks.append((part, _reason(part, len(scene), count < preferred)))
    raw = [_storyboard_seconds(part, duration_per_segment) for part, _ in chunks]
    storyboard_total = round(sum(raw), 3)
    scale = min(1.0, MAX_TOTAL_S / sum(raw))
    segments = []
    for index, ((part, reason), seconds) in enumerate(zip(chunks, raw, strict=True), start=1):
        duration = min(max(round(seconds * scale, 2), MIN_SEGMENT_S), MAX_SEGMENT_S)
        segments.append(
            SegmentPlan(
                segment_id=f"SEGMENT_{index}",
                scene_number=part[0].scene_number,
                shot_order=part[0].shot_order,
                frame_ids=tuple(frame.frame_id for frame in part),
                storyboard_s=round(seconds, 3),
                duration_s=duration,
                reason=reason,
            )
        )
    return Grouping(
        segments=tuple(segments),
        storyboard_total_s=storyboard_total,
        scale=round(scale, 4),
        total_s=round(sum(s.duration_s for s in segments), 2),
    )


def _allot(scene_sizes: Iterable[int]) -> list[int]:
    """Segments per scene: two frames each if that fits in three, else spread the spares."""
    sizes = list(scene_sizes)
    preferred = [-(-size // FRAMES_PER_SEGMENT) for size in sizes]
    if sum(preferred) <= MAX_SEGMENTS:
        return preferred
    allotted = [1] * len(sizes)
    for _ in range(MAX_SEGMENTS - len(sizes)):
        # The scene whose segments are most crowded gets the next one (the earliest on a tie).
        crowded = max(
            (i for i in range(len(sizes)) if allotted[i] < preferred[i]),
            key=lambda i: (sizes[i] / allotted[i], -i),
        )
        allotted[crowded] += 1
    return allotted


def _split(scene: list[TimedFrame], count: int) -> list[list[TimedFrame]]:
    """``scene`` in ``count`` runs of consecutive shots, the longer runs first."""
    if count * FRAMES_PER_SEGMENT >= len(scene):
        return [
            scene[start : start + FRAMES_PER_SEGMENT]
            for start in range(0, len(scene), FRAMES_PER_SEGMENT)
        ]
    base, extra = divmod(len(scene), count)
    parts, start = [], 0
    for index in range(count):
        size = base + (1 if index < extra else 0)
        parts.append(scene[start : start + size])
        start += size
    return parts


def _reason(part: list[TimedFrame], scene_size: int, crowded: bool) -> str:
    scene = part[0].scene_number
    if scene_size == 1:
        return f"the only shot of scene {scene}"
    if crowded:
        return (
            f"{len(part)} shots of scene {scene} in one segment: {MAX_SEGMENTS} segments at "
            f"most, and none spans two scenes"
        )
    if len(part) == 1:
        return f"the last shot of scene {scene}, left over after pairs"
    return f"{len(part)} consecutive shots of scene {scene}"


def _storyboard_seconds(part: list[TimedFrame], duration_per_segment: float) -> float:
    share = duration_per_segment / len(part)
    return sum(share if f.duration_seconds is None else f.duration_seconds for f in part)
