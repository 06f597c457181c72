"""The ``keyframes`` settings section (``[keyframes]``, ``REELFORGE_KEYFRAMES__*``).

Only pydantic here: :mod:`reelforge.settings` imports this module.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["KeyframesSettings"]


class KeyframesSettings(BaseModel):
    """Limits, waits and retries of storyboard key-frame renders."""

    model_config = ConfigDict(extra="forbid")

    min_frames: int = Field(default=6, ge=1, le=200, description="Frames per request, at least")
    max_frames: int = Field(default=12, ge=1, le=200, description="Frames per request, at most")
    max_width: int = Field(default=1280, ge=64, le=8192, description="Resolution cap, pixels")
    max_height: int = Field(default=720, ge=64, le=8192)
    default_aspect_ratio: str = "16:9"
    wait_s: float = Field(
        default=60.0,
        ge=0,
        le=300,
        description="How long POST /v1/keyframes and the MCP tool wait for the frames before "
        "answering with the run id instead (202)",
    )
    timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="A frame still unfinished at its provider after this fails with "
        "provider_timeout (canceled there)",
    )
    poll_interval_s: float = Field(default=1.0, ge=0.05, le=60)
    max_retries: int = Field(default=2, ge=0, le=2, description="The spec: at most 2")
    retry_backoff_s: float = Field(
        default=1.0, ge=0, le=60, description="First retry's wait; doubles for the next"
    )

    identity_threshold: float = Field(
        default=0.6,
        gt=0,
        le=2,
        description="A frame's face further than this from its character's reference photo "
        "(dlib identity distance; 0.6 is dlib's same-person line) is listed in warnings",
    )
    face_detect_max_side: int = Field(
        default=2048,
        ge=80,
        le=8192,
        description="Frames are searched for faces on a copy at most this many pixels on its "
        "longer side (larger finds smaller faces, at more CPU)",
    )

    @model_validator(mode="after")
    def _min_below_max(self) -> KeyframesSettings:
        if self.min_frames > self.max_frames:
            raise ValueError("min_frames must not exceed max_frames")
        return self
