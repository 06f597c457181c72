"""From a request to the engine jobs that make its images.

Which provider: ``characters.provider`` when set; otherwise the first configured provider that
keeps characters of its own (a ``CharacterKeeper``, configured when it has an address), else the
default provider (the local studio). A provider that keeps characters makes each image in one
call (the 360° set comes back all at once, as one job) for a character it knows by its own id
(``libraryDbId``); any other provider makes the 360° set as one job per view, image→image from
the chosen reference where it takes image input.

Every job is run by the engine with no retries (the spec: "do not retry"); its outputs come
back already ingested into the store; the feature's finish step (:mod:`.recorder`) turns the
finished run into rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reelforge.budget.plans import Plan, PlannedJob
from reelforge.engine.specs import JobSpec, RetryPolicy
from reelforge.errors import Conflict, InvalidInput
from reelforge.features.characters.config import CharacterSettings
from reelforge.features.characters.prompting import (
    portfolio_prompt,
    scene_prompt,
    turnaround_prompt,
)
from reelforge.features.characters.repository import CharacterImageRecord, CharacterRecord
from reelforge.features.characters.schemas import ImageKind
from reelforge.providers.base import Capability, CharacterKeeper
from reelforge.providers.registry import ProviderRegistry

__all__ = [
    "FEATURE",
    "Generation",
    "choose_provider",
    "keeps_characters",
    "portfolio_generation",
    "reference_generation",
    "scene_generation",
]

FEATURE = "characters"
_NO_RETRY = RetryPolicy(max_retries=0)
_LIBRARY_KINDS: dict[ImageKind, str] = {
    "reference": "reference",
    "portfolioItem": "portfolio",
    "scene": "scene",
}


def choose_provider(config: CharacterSettings, providers: ProviderRegistry) -> str:
    """The provider's id (see the module docstring)."""
    if config.provider:
        return providers.resolve(config.provider, Capability.TEXT_TO_IMAGE).id
    return providers.character_keeper() or providers.default_id


def keeps_characters(providers: ProviderRegistry, provider_id: str) -> bool:
    """Whether ``provider_id`` keeps characters of its own (False for one no longer known)."""
    try:
        return issubclass(providers.provider_class(provider_id), CharacterKeeper)
    except InvalidInput:
        return False


@dataclass(frozen=True, slots=True)
class Generation:
    """The jobs of one request, and what the run must remember to record them."""

    kind: ImageKind
    provider: str
    specs: tuple[JobSpec, ...]
    run_input: dict[str, Any]

    def plan(self) -> Plan:
        """The dry run's plan: the same calls, nothing sent."""
        return Plan(
            tuple(
                PlannedJob.build(
                    spec.provider,
                    spec.capability,
                    width=spec.width,
                    height=spec.height,
                    options=spec.options,
                    input_images=len(spec.input_asset_ids),
                    label=spec.label,
                )
                for spec in self.specs
            )
        )

    def planned_jobs(self) -> list[dict[str, Any]]:
        return [
            {
                "label": spec.label,
                "provider": spec.provider,
                "capability": spec.capability.value,
                "prompt": spec.prompt,
                "width": spec.width,
                "height": spec.height,
                "input_asset_ids": list(spec.input_asset_ids),
            }
            for spec in self.specs
        ]


def _spec(provider: str, capability: Capability, prompt: str, **values: Any) -> JobSpec:
    return JobSpec(
        provider=provider, capability=capability, prompt=prompt, retry=_NO_RETRY, **values
    )


def _scene_brief(
    character: CharacterRecord, prompt: str, frame_id: str, view: str = ""
) -> dict[str, Any]:
    """Structure for the local studio's previz (hosted providers read the prompt only);
    ``view``: one view of the 360° set, which the local studio draws turned."""
    visual = character.visual
    signature = ", ".join(
        str(visual[key])
        for key in ("hair", "clothing", "distinguishingFeatures")
        if visual.get(key)
    )
    brief: dict[str, Any] = {
        "frame_id": frame_id,
        "description": prompt,
        "characters": [{"name": character.name, "visual_signature": signature}],
    }
    return brief | ({"view": view} if view else {})


def _library_options(kind: ImageKind, character: CharacterRecord) -> dict[str, Any]:
    options: dict[str, Any] = {"kind": _LIBRARY_KINDS[kind], "character_id": character.id}
    if character.library_db_id:
        options["library_db_id"] = character.library_db_id
    return options


def _needs_library_character(character: CharacterRecord, what: str) -> None:
    if not character.library_db_id:
        raise Conflict(
            f"The character's provider makes {what} for a character it knows: generate a "
            "reference image first (or set the character's libraryDbId).",
            details={"character_id": character.id},
        )


def reference_generation(
    character: CharacterRecord,
    prompt: str,
    provider: str,
    config: CharacterSettings,
    *,
    keeper: bool,
) -> Generation:
    """``keeper``: the provider keeps characters of its own (see the module docstring)."""
    size = {"width": config.portrait_width, "height": config.portrait_height}
    if keeper:
        spec = _spec(
            provider,
            Capability.TEXT_TO_IMAGE,
            prompt,
            options=_library_options("reference", character),
            label="reference",
            **size,
        )
    else:
        scene = _scene_brief(character, prompt, "REFERENCE")
        spec = _spec(
            provider, Capability.TEXT_TO_IMAGE, prompt, scene=scene, label="reference", **size
        )
    return Generation("reference", provider, (spec,), _run_input(character, "reference", provider))


def portfolio_generation(
    character: CharacterRecord,
    reference: CharacterImageRecord | None,
    provider: str,
    config: CharacterSettings,
    *,
    keeper: bool,
    takes_images: bool,
) -> Generation:
    size = {"width": config.portrait_width, "height": config.portrait_height}
    extra = {"reference_image_id": reference.id if reference else None}
    if keeper:
        _needs_library_character(character, "a 360° set")
        # The keeper turns its own reference of the character around: the chosen reference is
        # not sent (a keeper would take it image→image, inline, as its 360° set's reference).
        prompt = turnaround_prompt(character)
        spec = _spec(
            provider,
            Capability.TEXT_TO_IMAGE,
            prompt,
            options=_library_options("portfolioItem", character),
            label="360-set",
            **size,
        )
        specs: tuple[JobSpec, ...] = (spec,)
    else:
        conditioned = takes_images and reference is not None
        specs = tuple(
            _spec(
                provider,
                Capability.IMAGE_TO_IMAGE if conditioned else Capability.TEXT_TO_IMAGE,
                portfolio_prompt(character, angle),
                input_asset_ids=(reference.asset_id,) if conditioned and reference else (),
                scene=_scene_brief(
                    character, portfolio_prompt(character, angle), f"VIEW-{index + 1}", angle
                ),
                label=angle,
                **size,
            )
            for index, angle in enumerate(config.angles)
        )
    run_input = _run_input(character, "portfolioItem", provider, **extra)
    return Generation("portfolioItem", provider, specs, run_input)


def scene_generation(
    character: CharacterRecord,
    scene_context: str,
    provider: str,
    config: CharacterSettings,
    *,
    keeper: bool,
) -> Generation:
    size = {"width": config.scene_width, "height": config.scene_height}
    if keeper:
        _needs_library_character(character, "scene images")
        spec = _spec(
            provider,
            Capability.TEXT_TO_IMAGE,
            scene_context.strip(),
            options=_library_options("scene", character),
            label="scene",
            **size,
        )
    else:
        prompt = scene_prompt(character, scene_context)
        scene = _scene_brief(character, prompt, "SCENE")
        spec = _spec(provider, Capability.TEXT_TO_IMAGE, prompt, scene=scene, label="scene", **size)
    return Generation("scene", provider, (spec,), _run_input(character, "scene", provider))


def _run_input(
    character: CharacterRecord, kind: ImageKind, provider: str, **extra: Any
) -> dict[str, Any]:
    """What the finish step needs to record the run's images."""
    return {"character_id": character.id, "kind": kind, "provider": provider} | {
        k: v for k, v in extra.items() if v is not None
    }
