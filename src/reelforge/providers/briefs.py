"""What a generation is about, in structured form.

Hosted providers take a prompt string. The local studio draws from structure instead: a
:class:`SceneBrief` keeps the storyboard frame's fields apart so the previz can lay out the shot
(camera notes), colour it (lighting mood) and label the characters (visual signatures).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CharacterBrief", "SceneBrief"]


@dataclass(frozen=True, slots=True)
class CharacterBrief:
    """A character present in a frame, with the visual signature that keeps them recognisable."""

    name: str
    visual_signature: str = ""
    #: Which of the request's reference images shows this character (an index), if any.
    reference: int | None = None


@dataclass(frozen=True, slots=True)
class SceneBrief:
    """One storyboard frame: the keyframes spec's fields plus the characters that appear in it,
    and the scene it belongs to: ``scene_id`` and ``scene_text`` (the words of all the scene's
    frames), so that a provider can draw every shot of a scene in the same place."""

    frame_id: str
    description: str
    camera_notes: str = ""
    lighting_mood: str = ""
    prompt_seed: str = ""
    characters: tuple[CharacterBrief, ...] = field(default_factory=tuple)
    scene_id: str = ""
    scene_text: str = ""
    #: One view of a character's 360° set (``front``, ``back-left``, ...); empty for a frame.
    view: str = ""
