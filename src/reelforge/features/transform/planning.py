"""Which providers a transform uses, and the engine jobs it hands them.

Images go to the first *configured* provider of ``transform.image_providers``; videos to
``transform.video_providers`` in fallback order. Unset, each list is the providers' own ranking
for the capability (``Provider.default_rank``, which holds the spec's choices). A provider is
configured when the environment variable holding its key is set; with none, the local studio
does the work offline (style filters for images, an animatic for videos). ``/dev/run`` may name
a provider (any name the registry resolves): it is used when configured, else the default choice
is, with a warning. A provider's own prompt limit and timeout apply unless the settings name it.

Every variation is one job of one run, so the engine runs them concurrently within the
provider's queue limits. No retries (the spec's rule); the provider timeout is the job's wait
cap and give-up time. Each provider tried is one run (a :class:`TransformAttempt`); what its
finish step needs is kept as the run's input (:class:`AttemptInput`: metadata, never the
description).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from reelforge.budget.plans import Plan, PlannedJob
from reelforge.catalog.records import AssetRecord
from reelforge.engine.specs import JobSpec, RetryPolicy, WaitPolicy
from reelforge.errors import InvalidInput, NotConfigured
from reelforge.features.transform.config import TransformSettings
from reelforge.features.transform.prompting import build_prompt
from reelforge.features.transform.schemas import (
    STYLE_PRESETS,
    Task,
    TransformRequest,
    provider_label,
)
from reelforge.providers.base import Capability, Provider
from reelforge.providers.registry import ProviderRegistry

__all__ = [
    "LOCAL",
    "AttemptInput",
    "EarlierRun",
    "ProviderChoice",
    "TransformAttempt",
    "TransformPlan",
    "choose_providers",
    "job_specs",
]

LOCAL = "local"
_LOCAL_DEFAULT_FILTER = "cinematic"
_LOCAL_CAMERA = "slow push-in"


@dataclass(frozen=True, slots=True)
class ProviderChoice:
    """The providers to try, in order, and any warning about the choice."""

    providers: tuple[str, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TransformPlan:
    """One provider's share of a transform: its input, its size, its prompt."""

    provider: str
    capability: Capability
    input_asset_id: str
    width: int
    height: int


class EarlierRun(BaseModel):
    """A provider tried before, whose run made nothing."""

    model_config = ConfigDict(frozen=True)

    provider: str
    run_id: str


class AttemptInput(BaseModel):
    """What a transform run records as its input, and its finish step reads back.

    Metadata only, never the description. The fields after ``output_count`` came with the
    finish step: a run started before has none of them, and is finished with what its jobs
    and the settings say.
    """

    model_config = ConfigDict(frozen=True)

    transform_id: str
    media_kind: str
    content_type: str
    size_bytes: int
    description_chars: int
    style_preset: str | None
    aspect_ratio: str
    output_count: int
    provider: str | None = None
    task: Task | None = None
    upload_id: str | None = None
    keep_upload: bool = False
    started_at: float | None = None
    timeout_s: float | None = None
    earlier: tuple[EarlierRun, ...] = ()
    warnings: tuple[str, ...] = ()
    release: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TransformAttempt:
    """One provider's try at a transform: what :meth:`TransformService.plan` makes a run of.

    ``started_at``: when the request began (epoch seconds); ``timeout_s``: how long the request
    waits for the whole transform; ``earlier``: the providers tried before, in order;
    ``release``: the inputs its finish step deletes (the last provider's run only).
    """

    transform_id: str
    request: TransformRequest
    task: Task
    plan: TransformPlan
    upload: AssetRecord
    started_at: float
    timeout_s: float
    earlier: tuple[EarlierRun, ...] = ()
    warnings: tuple[str, ...] = ()
    release: tuple[str, ...] = ()

    def run_input(self) -> AttemptInput:
        upload, request = self.upload, self.request
        return AttemptInput(
            transform_id=self.transform_id,
            media_kind=upload.kind,
            content_type=upload.content_type,
            size_bytes=upload.size_bytes,
            description_chars=len(request.scene_description),
            style_preset=request.style_preset,
            aspect_ratio=request.aspect_ratio,
            output_count=request.output_count,
            provider=self.plan.provider,
            task=self.task,
            upload_id=upload.id,
            keep_upload=request.keep_upload,
            started_at=self.started_at,
            timeout_s=self.timeout_s,
            earlier=self.earlier,
            warnings=self.warnings,
            release=self.release,
        )


def _capability(task: Task) -> Capability:
    return Capability.IMAGE_TO_VIDEO if task == "VIDEO_GENERATION" else Capability.IMAGE_TO_IMAGE


def configured_providers(
    registry: ProviderRegistry, settings: TransformSettings, task: Task
) -> tuple[str, ...]:
    """The configured providers a ``task`` goes to, by preference (empty: only the offline
    studio is left; it is never in this list)."""
    capability = _capability(task)
    preference = (
        settings.video_providers if task == "VIDEO_GENERATION" else settings.image_providers
    )
    if preference is None:
        preference = registry.ranked(capability)
    usable = [
        pid
        for pid in preference
        if pid != LOCAL
        and capability in registry.provider_class(pid).capabilities
        and registry.is_configured(pid)
    ]
    return tuple(usable[:1] if task == "IMAGE_GENERATION" else usable)


def choose_providers(
    registry: ProviderRegistry, settings: TransformSettings, task: Task, requested: str | None
) -> ProviderChoice:
    capability = _capability(task)
    default = configured_providers(registry, settings, task) or (LOCAL,)
    if requested is None:
        return _offline_checked(ProviderChoice(default), registry, settings, capability)
    cls = registry.resolve(requested)
    requested = cls.id
    if capability not in cls.capabilities:
        raise InvalidInput(
            f"Provider {provider_label(requested)} cannot do {task}.",
            details={"field": "provider", "capability": capability.value},
        )
    if not registry.is_configured(requested):
        used = " then ".join(provider_label(p) for p in default)
        choice = ProviderChoice(
            default,
            (
                f"{provider_label(requested)} is not configured "
                f"({' or '.join(cls.key_envs()) or 'its address'} is not set); "
                f"used {used}.",
            ),
        )
        return _offline_checked(choice, registry, settings, capability)
    rest = tuple(p for p in default if p != requested and p != LOCAL)
    choice = ProviderChoice((requested, *rest) if task == "VIDEO_GENERATION" else (requested,))
    return _offline_checked(choice, registry, settings, capability)


def _offline_checked(
    choice: ProviderChoice,
    registry: ProviderRegistry,
    settings: TransformSettings,
    capability: Capability,
) -> ProviderChoice:
    """The offline studio only applies a style look, which the spec's "no local processing"
    does not allow as a transform: said plainly in the answer, or refused by the settings."""
    if choice.providers != (LOCAL,):
        return choice
    keys = sorted(
        {
            str(registry.provider_class(pid).key_env)
            for pid in registry.ids
            if pid != LOCAL
            and capability in registry.provider_class(pid).capabilities
            and registry.provider_class(pid).key_env
        }
    )
    if not settings.offline_fallback:
        raise NotConfigured(
            "No transform provider is configured, and this deployment does not let the "
            f"offline studio stand in. Set one of {', '.join(keys)}.",
            details={"capability": capability.value, "env_vars": keys},
        )
    warning = (
        "Offline: no transform provider is configured, so the offline studio only applied a "
        "style look to your media; the person was not put in a new scene and the scene "
        f"description was not used. Set one of {', '.join(keys)} for a real transform."
    )
    return ProviderChoice(choice.providers, (*choice.warnings, warning))


def job_specs(
    request: TransformRequest,
    plan: TransformPlan,
    settings: TransformSettings,
    *,
    provider_class: type[Provider],
    poll_interval_s: float,
    duration_s: float | None,
) -> list[JobSpec]:
    """One job per variation, labelled ``variation-<n>``; ``provider_class`` is the plan's
    provider's (its prompt limit and timeout)."""
    limit = settings.prompt_limit(plan.provider, provider_class.max_prompt_chars)
    prompt = build_prompt(request, limit)
    timeout = settings.provider_timeout_s(plan.provider, provider_class.job_timeout_s)
    wait = WaitPolicy(poll_interval_s=poll_interval_s, cap_s=timeout, give_up_after_s=timeout)
    seed = _seed(request.scene_description)
    specs = []
    for variation in range(1, request.output_count + 1):
        specs.append(
            JobSpec(
                provider=plan.provider,
                capability=plan.capability,
                prompt=prompt.text,
                width=plan.width,
                height=plan.height,
                seed=seed + variation - 1,
                duration_s=duration_s,
                style_preset=_style_for(plan.provider, request.style_preset),
                camera_notes=_LOCAL_CAMERA if plan.provider == LOCAL else "",
                input_asset_ids=(plan.input_asset_id,),
                options=_options(plan, variation),
                label=f"variation-{variation}",
                retry=RetryPolicy(max_retries=0),
                wait=wait,
                keep_prompt=settings.keep_prompts or request.keep_upload,
            )
        )
    return specs


def planned_jobs(specs: list[JobSpec]) -> Plan:
    """The dry-run plan of ``specs``, priced from their parameters."""
    return Plan(
        tuple(
            PlannedJob.build(
                spec.provider,
                spec.capability,
                model=spec.model,
                width=spec.width,
                height=spec.height,
                duration_s=spec.duration_s,
                options=spec.options,
                input_images=len(spec.input_asset_ids),
                label=spec.label,
            )
            for spec in specs
        )
    )


def plan_view(specs: list[JobSpec], providers: tuple[str, ...]) -> dict[str, Any]:
    """The plan as a dry run shows it (no prompt text: it holds the user's description)."""
    return {
        "providers": [provider_label(p) for p in providers],
        "fallback": [provider_label(p) for p in providers[1:]],
        "jobs": [
            {
                "label": spec.label,
                "provider": provider_label(spec.provider),
                "capability": spec.capability.value,
                "width": spec.width,
                "height": spec.height,
                "duration_s": spec.duration_s,
                "prompt_chars": len(spec.prompt),
            }
            for spec in specs
        ],
        "retries": 0,
    }


def _style_for(provider: str, preset: str | None) -> str | None:
    if provider == LOCAL:
        return STYLE_PRESETS.get(preset or "", _LOCAL_DEFAULT_FILTER)
    return preset


def _options(plan: TransformPlan, variation: int) -> dict[str, Any]:
    # The local filters are deterministic: variations differ by how strongly the look applies.
    if plan.provider == LOCAL and plan.capability is Capability.IMAGE_TO_IMAGE:
        return {"strength": round(1.0 - 0.15 * (variation - 1), 2)}
    return {}


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:3], "big")
