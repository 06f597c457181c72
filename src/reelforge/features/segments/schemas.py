"""The segments spec's request and response, and the key frames a valid request describes.

Field names and shapes are the spec's. Three additions, all optional for a client:
``storyboard_frames[].lighting_mood`` (the keyframes spec's name, so a storyboard feeds both
features; it goes into the motion prompt), ``character_profiles`` (the keyframes request's:
name, visual signature, aliases, and a workspace ``character_id`` and/or ``reference_image_url``
whose reference images go with the segments that name the character) and ``dry_run`` on the
request; the response adds ``run_id`` (to follow pending segments and to assemble the preview).

Text is normalised on the way in: runs of whitespace become one space and the ends are trimmed;
the words themselves are never changed. :func:`key_frames` pairs each generated frame with its
storyboard frame (a frame missing on either side is a clear ``INVALID_INPUT``) and sorts them by
scene, then shot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from reelforge.errors import InvalidInput
from reelforge.tracing import is_trace_id
from reelforge.validation import invalid_input

__all__ = [
    "CharacterProfile",
    "FailedSegment",
    "GeneratedFrame",
    "KeyFrame",
    "ProjectContext",
    "SegmentRequest",
    "SegmentResponse",
    "StoryboardFrame",
    "VideoSegment",
    "VideoSettings",
    "key_frames",
    "normalise_text",
    "parse_request",
    "request_from_keyframes",
    "scene_and_shot",
]

MAX_FRAMES = 24
MAX_PROFILES = 32
_MAX_REFERENCE_URL = 16_000_000
_FRAME_ID = re.compile(r"^SCENE_(\d+)_SHOT_(\d+)$", re.IGNORECASE)


def normalise_text(text: str) -> str:
    """Whitespace runs to one space, ends trimmed; the words are left exactly as given."""
    return " ".join(text.split())


Text = Annotated[str, AfterValidator(normalise_text)]
# Ids become parts of store keys and budget scopes: letters, digits, '.', '_', '-'.
StoreId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=4096)


class GeneratedFrame(_Model):
    """A key frame the keyframes feature made (or any image), placed in its scene."""

    frame_id: Annotated[Text, Field(min_length=1, max_length=200)]
    image_url: Annotated[str, Field(min_length=1, max_length=4096)]
    scene_number: int = Field(ge=0, le=1_000_000)
    shot_order: int = Field(ge=0, le=1_000_000)


class StoryboardFrame(_Model):
    """The storyboard's words for a frame: they go into the motion prompt verbatim."""

    frame_id: Annotated[Text, Field(min_length=1, max_length=200)]
    description: Annotated[Text, Field(max_length=2000)] = ""
    camera_notes: Annotated[Text, Field(max_length=500)] = ""
    prompt_seed: Annotated[Text, Field(max_length=500)] = ""
    lighting_mood: Annotated[Text, Field(max_length=500)] = ""
    duration_seconds: float | None = Field(default=None, gt=0, le=60)


class VideoSettings(_Model):
    """``duration_per_segment`` is used for frames whose storyboard gives no duration."""

    duration_per_segment: float = Field(default=3.0, ge=2.0, le=4.0)
    motion_strength: float = Field(default=0.6, ge=0.0, le=1.0)
    provider_override: Annotated[str, Field(min_length=1, max_length=64)] | None = None


def _trace_id(value: str) -> str:
    if not is_trace_id(value):
        raise ValueError("a W3C trace id: 32 lowercase hex digits, not all zero")
    return value


class ProjectContext(_Model):
    """The orchestrator's context. ``trace_id`` (optional; the spec's "trace IDs from
    orchestrator context"): the run's spans and log lines go under it."""

    project_id: StoreId
    episode_id: StoreId
    trace_id: Annotated[str, AfterValidator(_trace_id)] | None = None


class CharacterProfile(BaseModel):
    """A character of the storyboard: named in the motion prompt of each segment whose frames
    name it (any form, :mod:`reelforge.prompts.cast`), and its reference images sent with those
    segments to a provider that takes them (:mod:`reelforge.references`)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[Text, Field(min_length=1, max_length=120, pattern=r"\w")]
    visual_signature: Annotated[Text, Field(max_length=500)] = ""
    aliases: list[Annotated[Text, Field(min_length=1, max_length=120)]] = Field(
        default_factory=list, max_length=16
    )
    character_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    reference_image_url: str | None = Field(
        default=None, min_length=1, max_length=_MAX_REFERENCE_URL
    )

    @field_validator("reference_image_url")
    @classmethod
    def _fetchable(cls, url: str | None) -> str | None:
        if url is not None and not url.lower().startswith(("http://", "https://", "data:")):
            raise ValueError("must be an http(s) URL or a data: URI")
        return url


class SegmentRequest(_Model):
    """``POST /v1/segments``, the MCP tool ``generate_video_segments``, ``reelforge segments``."""

    generated_frames: list[GeneratedFrame] = Field(min_length=1, max_length=MAX_FRAMES)
    storyboard_frames: list[StoryboardFrame] = Field(min_length=1, max_length=MAX_FRAMES)
    video_settings: VideoSettings = Field(default_factory=VideoSettings)
    project_context: ProjectContext
    character_profiles: list[CharacterProfile] = Field(
        default_factory=list, max_length=MAX_PROFILES
    )
    dry_run: bool = False


class VideoSegment(BaseModel):
    segment_id: str
    associated_frames: list[str]
    video_url: str
    duration_seconds: float
    provider_metadata: dict[str, Any]
    quality_score: float | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="1 - the largest identity distance of the poster's characters to their "
        "reference photos (0 when a face is missing), 0-1; absent when none is measured",
    )


class FailedSegment(BaseModel):
    segment_id: str
    error: str
    message: str


class SegmentResponse(BaseModel):
    """The spec's response, in segment order, plus the run it belongs to; ``warnings``: the
    posters whose character's face is missing or too far from its reference photo."""

    video_segments: list[VideoSegment]
    failed_segments: list[FailedSegment]
    run_id: str
    warnings: list[str] = Field(default_factory=list, exclude_if=lambda v: not v)


_F = TypeVar("_F", GeneratedFrame, StoryboardFrame)


@dataclass(frozen=True, slots=True)
class KeyFrame:
    """A generated frame and its storyboard frame, as one validated unit."""

    frame_id: str
    image_url: str
    scene_number: int
    shot_order: int
    description: str
    camera_notes: str
    prompt_seed: str
    lighting_mood: str
    duration_seconds: float | None


def parse_request(data: Mapping[str, Any]) -> SegmentRequest:
    """A request from JSON (MCP, CLI); every problem named, as ``INVALID_INPUT``."""
    try:
        return SegmentRequest.model_validate(dict(data))
    except ValidationError as exc:
        raise invalid_input(exc) from None


def key_frames(request: SegmentRequest) -> tuple[KeyFrame, ...]:
    """The request's frames paired by ``frame_id`` and sorted by scene, then shot."""
    generated = _unique(request.generated_frames, "generated_frames")
    storyboard = _unique(request.storyboard_frames, "storyboard_frames")
    without_image = [fid for fid in storyboard if fid not in generated]
    without_story = [fid for fid in generated if fid not in storyboard]
    if without_image or without_story:
        parts = []
        if without_image:
            parts.append(f"storyboard frames without a generated frame: {', '.join(without_image)}")
        if without_story:
            parts.append(f"generated frames without a storyboard frame: {', '.join(without_story)}")
        raise InvalidInput(
            "Every storyboard frame needs its generated frame and the reverse; "
            + "; ".join(parts)
            + ".",
            details={
                "storyboard_without_generated": without_image,
                "generated_without_storyboard": without_story,
            },
        )
    frames = sorted(
        (
            KeyFrame(
                frame_id=fid,
                image_url=frame.image_url.strip(),
                scene_number=frame.scene_number,
                shot_order=frame.shot_order,
                description=storyboard[fid].description,
                camera_notes=storyboard[fid].camera_notes,
                prompt_seed=storyboard[fid].prompt_seed,
                lighting_mood=storyboard[fid].lighting_mood,
                duration_seconds=storyboard[fid].duration_seconds,
            )
            for fid, frame in generated.items()
        ),
        key=lambda f: (f.scene_number, f.shot_order),
    )
    _no_shared_shots(frames)
    return tuple(frames)


def _unique(frames: list[_F], field: str) -> dict[str, _F]:
    found: dict[str, _F] = {}
    for frame in frames:
        if frame.frame_id in found:
            raise InvalidInput(
                f"frame_id {frame.frame_id!r} appears twice in {field}.",
                details={"field": field, "frame_id": frame.frame_id},
            )
        found[frame.frame_id] = frame
    return found


def _no_shared_shots(frames: list[KeyFrame]) -> None:
    for before, after in pairwise(frames):
        if (before.scene_number, before.shot_order) == (after.scene_number, after.shot_order):
            raise InvalidInput(
                f"Frames {before.frame_id!r} and {after.frame_id!r} are both scene "
                f"{after.scene_number}, shot {after.shot_order}: each shot has one frame.",
                details={"frames": [before.frame_id, after.frame_id]},
            )


def scene_and_shot(frame_id: str) -> tuple[int, int]:
    """Scene and shot of a storyboard frame id of the form ``SCENE_<n>_SHOT_<m>``."""
    match = _FRAME_ID.match(frame_id.strip())
    if match is None:
        raise InvalidInput(
            f"Frame id {frame_id!r} does not say its scene and shot (SCENE_<n>_SHOT_<m>); "
            "give scene_number and shot_order.",
            details={"frame_id": frame_id},
        )
    return int(match[1]), int(match[2])


def request_from_keyframes(
    storyboard_frames: Sequence[Mapping[str, Any]],
    generated_frames: Sequence[Mapping[str, Any]],
    project_context: Mapping[str, str],
    *,
    video_settings: Mapping[str, Any] | None = None,
) -> SegmentRequest:
    """A segments request from a storyboard and the keyframes feature's ``generated_frames``
    (which carry no scene and shot numbers: they are read from ``SCENE_<n>_SHOT_<m>`` ids).
    Storyboard fields this request does not know (``characters``...) are left out."""
    known = set(StoryboardFrame.model_fields)
    generated = []
    for frame in generated_frames:
        scene, shot = scene_and_shot(str(frame["frame_id"]))
        generated.append(
            {
                "frame_id": frame["frame_id"],
                "image_url": frame["image_url"],
                "scene_number": frame.get("scene_number", scene),
                "shot_order": frame.get("shot_order", shot),
            }
        )
    data: dict[str, Any] = {
        "generated_frames": generated,
        "storyboard_frames": [
            {k: v for k, v in frame.items() if k in known} for frame in storyboard_frames
        ],
        "project_context": dict(project_context),
    }
    if video_settings is not None:
        data["video_settings"] = dict(video_settings)
    return parse_request(data)
