"""The ``cutscenes`` settings section: how a cutscene's faces are measured.

A still (and a clip's poster frame) of a cutscene whose characters have reference photos is
measured against them (:mod:`.identity`). Example (``reelforge.toml``)::

    [cutscenes]
    identity_threshold = 0.6
    face_detect_max_side = 2048
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CutsceneSettings"]


class CutsceneSettings(BaseModel):
    """The identity threshold and the size faces are searched at."""

    model_config = ConfigDict(extra="forbid")

    identity_threshold: float = Field(
        default=0.6,
        gt=0,
        le=2,
        description="A cutscene still's (or clip poster's) face further than this from its "
        "character's reference photo (dlib identity distance; 0.6 is dlib's same-person line) "
        "is listed in the media's warnings",
    )
    face_detect_max_side: int = Field(
        default=2048,
        ge=80,
        le=8192,
        description="Stills and posters are searched for faces on a copy at most this many "
        "pixels on its longer side",
    )
