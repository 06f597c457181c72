"""What a cutscene will ask the providers for, and what the budget lets it have.

A cutscene is two engine jobs: a still (text→image) and a clip animating it (image→video). The
full plan makes both; the degraded plan (``still_only``) makes the still and skips the clip.
:func:`choose` asks the budget for the first plan every scope (the campaign, the game session)
can afford now; when not even the still fits, the trigger is refused with the spec's error.
A location visual is one still.

The job specs are built here once, at trigger time, and stored with the cutscene: a workflow
resumed in another process runs exactly what was planned, under the same budget scopes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reelforge.budget.plans import Plan, PlanEstimate, PlannedJob
from reelforge.budget.records import money, usd
from reelforge.budget.scopes import BudgetScope
from reelforge.budget.service import BudgetService
from reelforge.engine.specs import JobSpec, RetryPolicy, WaitPolicy
from reelforge.errors import BudgetExhausted
from reelforge.features.cutscenes.schemas import (
    SESSION_BUDGET_EXHAUSTED,
    LocationVisualRequest,
    MediaSettings,
    TriggerCutsceneRequest,
)
from reelforge.providers.base import Capability

__all__ = [
    "CLIP_LABEL",
    "FEATURE",
    "STILL_LABEL",
    "CutscenePlan",
    "apply_caps",
    "budget_refusal",
    "choose",
    "clip_spec",
    "dry_run",
    "plans",
    "scene_brief",
    "still_prompt",
    "still_spec",
]

FEATURE = "cutscenes"
STILL_LABEL = "still"
CLIP_LABEL = "clip"
# One more try after a transient provider error (a 429, a 5xx, a timeout): a cutscene is a
# nicety, so it never waits long for one.
RETRY = RetryPolicy(max_retries=1, backoff_s=2.0)
WAIT = WaitPolicy(poll_interval_s=1.0, cap_s=600.0)


def still_spec(
    settings: MediaSettings,
    *,
    default_provider: str,
    prompt: str,
    scene: dict[str, Any],
    scopes: Sequence[BudgetScope],
    wait: WaitPolicy = WAIT,
    references: tuple[str, ...] = (),
    reference_model: str | None = None,
) -> JobSpec:
    """The still's job; with ``references`` (asset ids of the cast's reference images) it goes
    to ``reference_model``, the provider's model for requests carrying them."""
    width, height = settings.size
    return JobSpec(
        provider=settings.image_provider or default_provider,
        capability=Capability.TEXT_TO_IMAGE,
        prompt=prompt,
        model=reference_model if references else settings.image_model,
        width=width,
        height=height,
        scene=scene,
        label=STILL_LABEL,
        reference_asset_ids=references,
        budget_scopes=tuple(scope.key for scope in scopes),
        retry=RETRY,
        wait=wait,
    )


def clip_spec(
    settings: MediaSettings,
    *,
    default_provider: str,
    motion_prompt: str,
    scopes: Sequence[BudgetScope],
    wait: WaitPolicy = WAIT,
) -> JobSpec:
    """The clip's job; its input (the still's asset id) is added when the still is made."""
    width, height = settings.size
    return JobSpec(
        provider=settings.video_provider or default_provider,
        capability=Capability.IMAGE_TO_VIDEO,
        prompt=motion_prompt,
        model=settings.video_model,
        width=width,
        height=height,
        duration_s=settings.clip_duration_s,
        camera_notes=motion_prompt,
        label=CLIP_LABEL,
        budget_scopes=tuple(scope.key for scope in scopes),
        retry=RETRY,
        wait=wait,
    )


def _planned(spec: JobSpec) -> PlannedJob:
    return PlannedJob.build(
        spec.provider,
        spec.capability,
        model=spec.model,
        width=spec.width,
        height=spec.height,
        duration_s=spec.duration_s,
        options=spec.options,
        input_images=1 if spec.capability.needs_image else 0,
        label=spec.label,
        reference_count=len(spec.reference_asset_ids),
    )


@dataclass(frozen=True, slots=True)
class CutscenePlan:
    """The chosen jobs and their prices; ``clip`` None when the plan skips it."""

    name: str
    still: JobSpec
    clip: JobSpec | None
    estimate: PlanEstimate
    skipped_reason: str | None = None

    def price_of(self, label: str) -> Decimal | None:
        found = next((job for job in self.estimate.jobs if job.label == label), None)
        return None if found is None else found.amount_usd

    def to_json(self) -> dict[str, Any]:
        """What the cutscene row keeps: the specs, prices and scopes, for the workflow."""
        return {
            "name": self.name,
            "still": self.still.model_dump(mode="json"),
            "clip": None if self.clip is None else self.clip.model_dump(mode="json"),
            "still_usd": usd(self.price_of(STILL_LABEL)),
            "clip_usd": usd(self.price_of(CLIP_LABEL)),
            "total_usd": usd(self.estimate.total_usd),
            "scopes": list(self.still.budget_scopes),
        }


def plans(still: JobSpec, clip: JobSpec | None) -> list[Plan]:
    """Best first: the still and its clip, then the still alone."""
    still_only = Plan((_planned(still),), name="still_only", degraded=clip is not None)
    if clip is None:
        return [still_only]
    return [Plan((_planned(still), _planned(clip)), name="full"), still_only]


async def choose(
    budget: BudgetService,
    scopes: Sequence[BudgetScope],
    still: JobSpec,
    clip: JobSpec | None,
) -> CutscenePlan:
    """The best plan the scopes can afford now; BudgetExhausted (the spec's message, with the
    budget) when they cannot afford even the still."""
    options = plans(still, clip)
    try:
        estimate = await budget.choose_plan(options, scopes)
    except BudgetExhausted as exc:
        raise budget_refusal(exc) from None
    if estimate.plan.name == "full":
        return CutscenePlan("full", still, clip, estimate)
    skipped = None
    if clip is not None:
        full = await budget.estimate_plan(options[0], scopes)
        skipped = _skip_reason(full)
    return CutscenePlan("still_only", still, None, estimate, skipped)


async def dry_run(
    budget: BudgetService,
    scopes: Sequence[BudgetScope],
    still: JobSpec,
    clip: JobSpec | None,
) -> dict[str, Any]:
    """The dry-run answer: the plan that would run (or the full one, refused), priced."""
    options = plans(still, clip)
    chosen: PlanEstimate | None = None
    for plan in options:
        estimate = await budget.estimate_plan(plan, scopes)
        if estimate.affordable:
            chosen = estimate
            break
    answer = (chosen or await budget.estimate_plan(options[0], scopes)).to_json()
    jobs = [still] if chosen is not None and chosen.plan.name == "still_only" else [still, clip]
    answer["jobs"] = [spec.model_dump(mode="json") for spec in jobs if spec is not None]
    answer["media_pending"] = False
    return answer


def _skip_reason(full: PlanEstimate) -> str:
    limiting = full.affordability.limiting if full.affordability is not None else None
    if limiting is None or limiting.remaining_usd is None:
        return "budget: the clip has no known price under a capped scope"
    left = max(limiting.remaining_usd, Decimal(0))
    return (
        f"budget: {limiting.scope.key} has ${usd(left)} left; "
        f"the still and its clip need ${usd(full.total_usd)}"
    )


def budget_refusal(exc: BudgetExhausted) -> BudgetExhausted:
    """The spec's refusal: ``Session media budget exhausted``, with the budget (the cap)."""
    details = dict(exc.details)
    return BudgetExhausted(
        SESSION_BUDGET_EXHAUSTED,
        details={"budget": details.get("cap_usd"), **details},
    )


def still_prompt(prompt: str, mood: str | None, characters: list[str]) -> str:
    """The still's prompt for hosted models: the image prompt, who is in it, the mood."""
    parts = [prompt.rstrip(".") + "."]
    if characters:
        parts.append(f"Characters: {', '.join(characters)}.")
    if mood:
        parts.append(f"Mood: {mood}.")
    return " ".join(parts)


def scene_brief(
    frame: str,
    description: str,
    motion: str,
    request: TriggerCutsceneRequest | LocationVisualRequest,
    characters: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """What the local studio draws from (hosted models read the prompt instead);
    ``characters``: the cast (each ``name``, and ``reference``, the index of the sent
    reference that shows it, when there is one)."""
    turn = "" if request.turn_number is None else f"_T{request.turn_number}"
    return {
        "frame_id": f"{frame.upper()}{turn}",
        "description": description,
        "camera_notes": motion,
        "lighting_mood": request.mood or "",
        "prompt_seed": f"{request.campaign_id}:{request.session_id}:{request.turn_number}",
        "characters": [dict(character) for character in characters],
    }


async def apply_caps(
    budget: BudgetService, settings: MediaSettings, campaign_id: str, session_id: str
) -> None:
    """The settings' budgets as caps of the game session's and the campaign's scopes."""
    wanted = (
        (BudgetScope.game_session(campaign_id, session_id), settings.budget_per_session_usd),
        (BudgetScope("campaign", campaign_id), settings.budget_per_campaign_usd),
    )
    for scope, amount in wanted:
        if amount is None:
            continue
        cap = await budget.get_cap(scope)
        if cap is None or cap.cap_usd != money(amount) or cap.period != "total":
            await budget.set_cap(scope, amount, "total")
