"""Prompt assembly for key frames: the ``keyframes`` template filled from each frame.

For every frame: the shared ``style`` part (rendered once per request, so every frame of the
storyboard carries the same style block), then ``positive`` and ``negative`` with the frame's
description, camera notes, lighting mood and prompt seed, and the visual signature of every
character the frame mentions (:func:`reelforge.prompts.characters.mentioned`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reelforge.errors import InvalidInput
from reelforge.features.keyframes.schemas import CharacterProfile, StoryboardFrame
from reelforge.prompts.characters import mentioned
from reelforge.prompts.template import PromptTemplate

__all__ = ["TEMPLATE_NAME", "FramePrompt", "frame_prompts"]

TEMPLATE_NAME = "keyframes"
_MAX_PROMPT = 20_000


@dataclass(frozen=True, slots=True)
class FramePrompt:
    """The exact prompts of one frame, and the characters they describe."""

    frame_id: str
    prompt: str
    negative_terms: tuple[str, ...]
    characters: tuple[CharacterProfile, ...]

    @property
    def negative_prompt(self) -> str:
        return ", ".join(self.negative_terms)


def frame_prompts(
    frames: Sequence[StoryboardFrame],
    profiles: Sequence[CharacterProfile],
    template: PromptTemplate,
    *,
    aspect_ratio: str,
) -> list[FramePrompt]:
    """One :class:`FramePrompt` per frame, in order."""
    style = template.render("style", {"aspect_ratio": aspect_ratio})
    names = [profile.name for profile in profiles]
    prompts = []
    for frame in frames:
        texts = (frame.description, frame.camera_notes, frame.lighting_mood, frame.prompt_seed)
        cast = tuple(profiles[i] for i in mentioned(texts, names))
        values = {
            "style": style,
            "description": frame.description,
            "camera_notes": frame.camera_notes,
            "lighting_mood": frame.lighting_mood,
            "prompt_seed": frame.prompt_seed,
            "frame_id": frame.frame_id,
            "characters": "; ".join(_character(c) for c in cast),
            "aspect_ratio": aspect_ratio,
        }
        prompt = template.render("positive", values)
        if len(prompt) > _MAX_PROMPT:
            raise InvalidInput(
                f"The prompt of frame {frame.frame_id!r} would be {len(prompt)} characters; "
                f"at most {_MAX_PROMPT}.",
                details={"field": "storyboard_frames", "frame_id": frame.frame_id},
            )
        negative = _terms(template.render("negative", values))
        prompts.append(FramePrompt(frame.frame_id, prompt, negative, cast))
    return prompts


def _character(profile: CharacterProfile) -> str:
    signature = profile.visual_signature.strip()
    return f"{profile.name} ({signature})" if signature else profile.name


def _terms(text: str) -> tuple[str, ...]:
    seen: set[str] = set()
    terms = []
    for raw in text.split(","):
        term = raw.strip().rstrip(".")
        if term and term.casefold() not in seen:
            seen.add(term.casefold())
            terms.append(term)
    return tuple(terms)
