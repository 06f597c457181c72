"""Who is in each segment, and the reference images that go with it.

A segment's cast is every character profile its key frames name (description and prompt seed,
in any form a storyboard uses: :class:`reelforge.prompts.cast.Cast`). Each cast member is named
in the motion prompt with its visual signature; its reference images (a workspace
``character_id``'s newest, a ``reference_image_url`` through safe ingest: :mod:`reelforge.
references`) go with the segment up to what the provider takes per image-to-video request. A
provider that takes none makes the clip from the key frames and the text alone, and the plan says
so (``fallback_to_text``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reelforge.features.segments.schemas import CharacterProfile, KeyFrame
from reelforge.prompts.cast import Cast
from reelforge.references import FrameReferences, Reference, frame_references

__all__ = ["SegmentCast", "segment_cast"]


@dataclass(frozen=True, slots=True)
class SegmentCast:
    """One segment's characters and the references it sends."""

    profiles: tuple[CharacterProfile, ...] = ()
    references: FrameReferences = field(default_factory=FrameReferences)
    #: Each character's first ingested reference (asset id) by name: what its face is measured
    #: against on the segment's poster, sent to the provider or not.
    identity: Mapping[str, str] = field(default_factory=dict)

    @property
    def prompt_text(self) -> str:
        """What the motion prompt says of the cast (empty without one)."""
        if not self.profiles:
            return ""
        described = [
            f"{p.name} ({p.visual_signature})" if p.visual_signature else p.name
            for p in self.profiles
        ]
        return f"Characters: {'; '.join(described)}."

    @property
    def reference_asset_ids(self) -> tuple[str, ...]:
        return tuple(r.asset_id for r in self.references.sent if r.asset_id is not None)

    def to_json(self) -> dict[str, Any]:
        return {
            "characters": [profile.name for profile in self.profiles],
            "references": [r.label for r in self.references.sent],
            "references_left_out": [r.label for r in self.references.left_out],
            "fallback_to_text": self.references.fallback_to_text,
        }


def segment_cast(
    frames: Sequence[KeyFrame],
    profiles: Sequence[CharacterProfile],
    by_profile: Mapping[str, tuple[Reference, ...]],
    limit: int,
) -> SegmentCast:
    """The cast of a segment showing ``frames``, for a provider taking ``limit`` references."""
    if not profiles:
        return SegmentCast()
    finder = Cast([(profile.name, profile.aliases) for profile in profiles])
    texts = [text for frame in frames for text in (frame.description, frame.prompt_seed)]
    cast = tuple(profiles[match.index] for match in finder.find(texts))
    identity = {
        profile.name: first.asset_id
        for profile in cast
        if (first := next(iter(by_profile.get(profile.name, ())), None)) is not None
        and first.asset_id is not None
    }
    return SegmentCast(cast, frame_references(cast, by_profile, limit), identity)
