"""The ``segments`` settings section: how long a segment request waits, and at what size.

The spec's defaults: poll every 10 s, report a segment ``provider_pending`` after 90 s (its job
goes on), 1280x720. Example (``reelforge.toml``)::

    [segments]
    poll_interval_s = 10
    wait_cap_s = 90
    width = 1280
    height = 720
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["SegmentSettings"]


class SegmentSettings(BaseModel):
    """Polling, the wait cap, what happens after it, and the size segments are asked at."""

    model_config = ConfigDict(extra="forbid")

    poll_interval_s: float = Field(default=10.0, ge=0.05, le=600.0)
    wait_cap_s: float = Field(
        default=90.0, gt=0, description="Past this a segment is reported provider_pending"
    )
    after_cap_interval_s: float = Field(
        default=30.0, ge=0.05, le=3600.0, description="Polling of a pending segment's job"
    )
    give_up_after_s: float | None = Field(
        default=3600.0, gt=0, description="A pending job is canceled after this; null: never"
    )
    response_grace_s: float = Field(
        default=30.0,
        ge=0,
        description="How much longer than the cap a request waits for jobs still queued here",
    )
    width: int = Field(default=1280, ge=64, le=3840)
    height: int = Field(default=720, ge=64, le=2160)
    webhooks: bool = Field(default=True, description="Ask async providers for a webhook")
    identity_threshold: float = Field(
        default=0.6,
        gt=0,
        le=2,
        description="A segment poster's face further than this from its character's reference "
        "photo (dlib identity distance; 0.6 is dlib's same-person line) is listed in warnings",
    )
    face_detect_max_side: int = Field(
        default=2048,
        ge=80,
        le=8192,
        description="Posters are searched for faces on a copy at most this many pixels on its "
        "longer side",
    )

    @model_validator(mode="after")
    def _give_up_after_the_cap(self) -> SegmentSettings:
        if self.give_up_after_s is not None and self.give_up_after_s < self.wait_cap_s:
            raise ValueError("give_up_after_s must not come before wait_cap_s")
        return self
