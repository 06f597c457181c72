"""Planning a render: which provider and model, what size, and one job per frame.

Provider names: ``render_settings.provider`` takes any name the provider registry resolves (our
ids, or the spec's names each provider declares as its aliases); ``render_settings.model`` may be
one of the provider's short model names (``Provider.model_aliases``).
Size: ``resolution`` when given (within the cap, and of ``aspect_ratio`` if that is given too),
else the largest size of ``aspect_ratio`` within the cap (``keyframes.max_width`` x
``max_height``, 1280x720 by default). Seeds: frame *i* gets ``seed + i`` (wrapping at 2^32).
References: a frame whose cast has reference images sends them
(:mod:`reelforge.references`) to the model the provider names for requests
with references (:meth:`~reelforge.providers.base.Provider.model_for_references`); the frame's
plan shows the model, the references sent and left out, and whether it fell back to text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from math import gcd
from typing import Any

from reelforge.budget.plans import Plan, PlannedJob
from reelforge.engine.specs import JobSpec, RetryPolicy
from reelforge.errors import InvalidInput
from reelforge.features.keyframes.config import KeyframesSettings
from reelforge.features.keyframes.prompting import FramePrompt
from reelforge.features.keyframes.schemas import MAX_SEED, RenderSettings, StoryboardFrame
from reelforge.imaging.sizes import resolve_size
from reelforge.prompts.template import PromptTemplate
from reelforge.providers.base import Capability, PriceQuery
from reelforge.providers.briefs import CharacterBrief, SceneBrief
from reelforge.providers.registry import ProviderRegistry
from reelforge.references import FrameReferences, Reference

__all__ = [
    "PlannedFrame",
    "RenderPlan",
    "check_frame_count",
    "frame_size",
    "model_id",
    "planned_frames",
    "provider_id",
    "scene_ids",
]


@dataclass(frozen=True, slots=True)
class PlannedFrame:
    """One frame's job, the prompts it carries, and its references (each character's first,
    by name, for the plan's cast)."""

    prompt: FramePrompt
    spec: JobSpec
    references: FrameReferences = field(default_factory=FrameReferences)
    first_references: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "frame_id": self.prompt.frame_id,
            "seed": self.spec.seed,
            "prompt": self.prompt.prompt,
            "negative_prompts": list(self.prompt.negative_terms),
            "characters": [c.name for c in self.prompt.characters],
            "cast": self.prompt.cast(self.first_references),
            "model": self.spec.model,
            "references": [r.label for r in self.references.sent],
            "references_left_out": [r.label for r in self.references.left_out],
            "fallback_to_text": self.references.fallback_to_text,
        }


@dataclass(frozen=True, slots=True)
class RenderPlan:
    """What a request will ask of which provider, frame by frame, before anything is sent."""

    provider: str
    model: str | None
    width: int
    height: int
    aspect_ratio: str
    base_seed: int
    template_name: str
    template_version: int
    frames: tuple[PlannedFrame, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "width": self.width,
            "height": self.height,
            "aspect_ratio": self.aspect_ratio,
            "seed": self.base_seed,
            "seed_policy": "seed + frame index",
            "template": {"name": self.template_name, "version": self.template_version},
            "frames": [frame.to_json() for frame in self.frames],
        }

    def budget_plan(self) -> Plan:
        jobs = tuple(
            PlannedJob(
                f.spec.provider,
                PriceQuery(
                    capability=f.spec.capability,
                    model=f.spec.model,
                    width=f.spec.width,
                    height=f.spec.height,
                    options=dict(f.spec.options),
                    reference_count=len(f.references.sent),
                ),
                f.spec.label,
            )
            for f in self.frames
        )
        return Plan(jobs, name="keyframes")


def check_frame_count(count: int, limits: KeyframesSettings) -> None:
    if not limits.min_frames <= count <= limits.max_frames:
        raise InvalidInput(
            f"A request has {limits.min_frames} to {limits.max_frames} storyboard frames; "
            f"got {count}.",
            details={
                "field": "storyboard_frames",
                "min": limits.min_frames,
                "max": limits.max_frames,
            },
        )


def provider_id(registry: ProviderRegistry, name: str | None) -> str:
    """Our id of provider ``name`` (the default when None); it must render stills."""
    try:
        return registry.resolve(name, Capability.TEXT_TO_IMAGE).id
    except InvalidInput as exc:
        details = {**exc.details, "field": "render_settings.provider", "provider": name}
        raise InvalidInput(exc.message, details=details) from None


def model_id(registry: ProviderRegistry, provider: str, model: str | None) -> str | None:
    """The provider's model id for ``model`` (one of its short names, or already an id)."""
    return registry.provider_class(provider).resolve_model(model)


def frame_size(wanted: RenderSettings, limits: KeyframesSettings) -> tuple[int, int, str]:
    """``(width, height, aspect_ratio)`` of every frame."""
    cap_w, cap_h = limits.max_width, limits.max_height
    aspect = wanted.aspect_ratio or limits.default_aspect_ratio
    try:
        fitted = resolve_size(aspect, cap_w, cap_h)
    except InvalidInput as exc:
        details = {**exc.details, "field": "render_settings.aspect_ratio"}
        raise InvalidInput(exc.message, details=details) from None
    if wanted.resolution is None:
        return fitted[0], fitted[1], aspect
    width, height = (int(part) for part in wanted.resolution.lower().split("x"))
    named = {"field": "render_settings.resolution", "max": f"{cap_w}x{cap_h}"}
    if width > cap_w or height > cap_h or min(width, height) < 64:
        raise InvalidInput(
            f"Resolution {width}x{height} is outside 64x64 to {cap_w}x{cap_h}.", details=named
        )
    if wanted.aspect_ratio is None:
        divisor = gcd(width, height)
        return width, height, f"{width // divisor}:{height // divisor}"
    same_shape = resolve_size(aspect, width, height)
    if abs(same_shape[0] - width) > 2 or abs(same_shape[1] - height) > 2:
        raise InvalidInput(
            f"Resolution {width}x{height} is not {aspect}.", details={**named, "aspect": aspect}
        )
    return width, height, aspect


_SCENE_OF_FRAME = re.compile(r"^\s*(SCENE_\d+)_SHOT_\d+", re.IGNORECASE)


def scene_ids(frames: Sequence[StoryboardFrame]) -> list[str]:
    """Each frame's scene, read from a ``SCENE_<n>_SHOT_<m>`` frame id ("" where the id does
    not say), so a provider can draw every shot of a scene in the same place."""
    return [
        found[1].upper() if (found := _SCENE_OF_FRAME.match(frame.frame_id)) else ""
        for frame in frames
    ]


def planned_frames(
    frames: Sequence[StoryboardFrame],
    prompts: Sequence[FramePrompt],
    template: PromptTemplate,
    *,
    provider: str,
    model: str | None,
    size: tuple[int, int],
    base_seed: int,
    wanted: RenderSettings,
    retry: RetryPolicy,
    budget_scopes: tuple[str, ...],
    references: Sequence[FrameReferences] | None = None,
    by_profile: Mapping[str, tuple[Reference, ...]] | None = None,
    reference_model: str | None = None,
) -> tuple[PlannedFrame, ...]:
    """One text-to-image job per frame, in order; a frame with ``references`` to send goes to
    ``reference_model`` (the provider's model for requests with references)."""
    planned = []
    scenes = scene_ids(frames)
    scene_texts: dict[str, list[str]] = {}
    for frame, scene_id in zip(frames, scenes, strict=True):
        scene_texts.setdefault(scene_id, []).append(frame.description)
    each = references or [FrameReferences()] * len(frames)
    firsts = {name: refs[0].label for name, refs in (by_profile or {}).items() if refs}
    for index, (frame, prompt) in enumerate(zip(frames, prompts, strict=True)):
        sent = each[index].sent
        scene = SceneBrief(
            frame_id=frame.frame_id,
            description=frame.description,
            camera_notes=frame.camera_notes,
            lighting_mood=frame.lighting_mood,
            prompt_seed=frame.prompt_seed,
            characters=tuple(
                CharacterBrief(c.name, c.visual_signature, _sent_index(sent, by_profile, c.name))
                for c in prompt.characters
            ),
            scene_id=scenes[index],
            scene_text=" ".join(scene_texts[scenes[index]]) if scenes[index] else "",
        )
        spec = JobSpec(
            provider=provider,
            capability=Capability.TEXT_TO_IMAGE,
            prompt=prompt.prompt,
            negative_prompt=prompt.negative_prompt,
            model=reference_model if sent else model,
            width=size[0],
            height=size[1],
            seed=(base_seed + index) % (MAX_SEED + 1),
            steps=wanted.steps,
            guidance_scale=wanted.guidance_scale,
            camera_notes=frame.camera_notes,
            scene=_scene_record(scene),
            label=frame.frame_id,
            template_name=template.name,
            template_version=template.version,
            retry=retry,
            budget_scopes=budget_scopes,
            reference_asset_ids=tuple(r.asset_id for r in sent if r.asset_id is not None),
        )
        shown = {c.name: firsts[c.name] for c in prompt.characters if c.name in firsts}
        planned.append(PlannedFrame(prompt, spec, each[index], shown))
    return tuple(planned)


def _sent_index(
    sent: Sequence[Reference], by_profile: Mapping[str, tuple[Reference, ...]] | None, name: str
) -> int | None:
    """Which of the frame's sent references is the character's first one sent (the local
    studio draws the character from it)."""
    labels = [reference.label for reference in sent]
    for reference in (by_profile or {}).get(name, ()):
        if reference.label in labels:
            return labels.index(reference.label)
    return None


def _scene_record(scene: SceneBrief) -> dict[str, Any]:
    """The scene as a job records it, leaving out the fields still at their defaults, so that
    a job without references reads the same to a worker of the release before them."""
    record = asdict(scene)
    record["characters"] = [
        {key: value for key, value in character.items() if value is not None}
        for character in record["characters"]
    ]
    if not record["view"]:
        del record["view"]
    return record
