"""Prompt assembly for key frames: the ``keyframes`` template filled from each frame.

For every frame: the shared ``style`` part (rendered once per request, so every frame of the
storyboard carries the same style block), then ``positive`` and ``negative`` with the frame's
description, camera notes, lighting mood and prompt seed, and the visual signature of every
character the frame names in any form (:class:`reelforge.prompts.cast.Cast`) or lists in its
``characters``. Each frame records who was matched and why (:class:`CastMatch`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reelforge.errors import InvalidInput
from reelforge.features.keyframes.schemas import CharacterProfile, StoryboardFrame
from reelforge.prompts.cast import Cast, CastMatch
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
    matches: tuple[CastMatch, ...] = ()

    def cast(self, references: Mapping[str, str] | None = None) -> list[dict[str, str]]:
        """Who the frame shows and why, in :attr:`characters` order; a character with a
        reference image (``references``: the first one, by character name) says which."""
        shown = references or {}
        found = []
        for character, match in zip(self.characters, self.matches, strict=True):
            entry = {
                "name": character.name,
                "matched_by": match.matched_by,
                "as_written": match.form,
            }
            if character.name in shown:
                entry["reference"] = shown[character.name]
            found.append(entry)
        return found

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
    finder = Cast([(profile.name, profile.aliases) for profile in profiles])
    prompts = []
    for frame in frames:
        matches = _who_is_in(frame, finder, profiles)
        cast = tuple(profile for profile, _ in matches)
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
        found = tuple(match for _, match in matches)
        prompts.append(FramePrompt(frame.frame_id, prompt, negative, cast, found))
    return prompts


def _who_is_in(
    frame: StoryboardFrame, finder: Cast, profiles: Sequence[CharacterProfile]
) -> list[tuple[CharacterProfile, CastMatch]]:
    """The profiles the frame's text names, then those it lists (each once), with why."""
    texts = (frame.description, frame.camera_notes, frame.lighting_mood, frame.prompt_seed)
    found = [(profiles[m.index], m) for m in finder.find(texts)]
    present = {m.index for _, m in found}
    for listed in frame.characters or ():
        name = listed if isinstance(listed, str) else listed.name
        index = finder.resolve(name)
        if index is not None:
            if index not in present:
                present.add(index)
                found.append((profiles[index], CastMatch(index, "listed", name)))
        elif not isinstance(listed, str) and listed.visual_signature.strip():
            own = CharacterProfile(name=name, visual_signature=listed.visual_signature)
            found.append((own, CastMatch(-1, "listed", name)))
        else:
            raise InvalidInput(
                f"Frame {frame.frame_id!r} lists {name!r}, which names no one character "
                "profile: use a profile's name, or give the character a visual_signature.",
                details={
                    "field": "storyboard_frames",
                    "frame_id": frame.frame_id,
                    "known": [p.name for p in profiles],
                },
            )
    return found


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
